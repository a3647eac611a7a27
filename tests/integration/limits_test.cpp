// limits.max_connections at the real listener (issue 9 item 6): the limit counts the whole process,
// not a rounded-up share per worker; at the limit the longest-idle connection (one that has sent
// nothing) is shed for a new client, oldest first, while busy connections are never touched; with
// nothing idle, new clients wait until a connection ends.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

const std::string enroll_request = "GET /mdm/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// Polls until atsgate_connections_active == n (or the deadline); returns the last value.
std::uint64_t wait_for_active(const proxy& px, std::uint64_t n, milliseconds within = 5000ms) {
    std::uint64_t v = 0;
    poll_until([&] { return (v = px.counter("atsgate_connections_active")) == n; }, within);
    return v;
}

}  // namespace

TEST_CASE("limits: max_connections counts the whole process, not a share per worker", "[integration][limits]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.workers = 2;
    cfg.limits = "max_connections = 1";  // a rounded-up share per worker let one connection in per worker
    proxy px(env, cfg);
    px.wait_for_counter("atsgate_handshakes_aborted_total", 1);  // the readiness probe has ended
    REQUIRE(wait_for_active(px, 0) == 0);

    // One busy connection (half a request head: not idle, never shed) holds the only slot.
    tls_client_options o;
    o.ca_file = env.root_pem();
    tls_client busy(o);
    REQUIRE(busy.connect(px.port()).ok);
    REQUIRE(busy.write("GET /mdm/enroll HTTP/1.1\r\n"));
    REQUIRE(wait_for_active(px, 1) == 1);

    // Six more clients at once: whichever worker the kernel gives them to, none is served while the
    // slot is taken (each gives up its handshake after a while). With a share per worker, all six
    // would have had to land on the busy worker (1 in 64) for this to pass.
    constexpr int n_waiting = 6;
    std::vector<std::unique_ptr<tls_client>> waiting;
    o.timeout = 1000ms;
    for (int i = 0; i < n_waiting; ++i) waiting.push_back(std::make_unique<tls_client>(o));
    std::vector<int> served(n_waiting, 0);
    {
        std::vector<std::thread> threads;
        for (int i = 0; i < n_waiting; ++i)
            threads.emplace_back([&, i] { served[i] = waiting[i]->connect(px.port()).ok ? 1 : 0; });
        for (auto& t : threads) t.join();
    }
    CHECK(std::count(served.begin(), served.end(), 1) == 0);
    CHECK(px.counter("atsgate_connections_active") == 1);
    CHECK(px.counter("atsgate_handshakes_total") == 1);
    CHECK(px.counter("atsgate_connections_shed_total") == 0);

    waiting.clear();  // (closed: a held one that got the slot now would stall its handshake)

    // The busy request completes and its connection closes: the slot goes to the clients that gave
    // up, one at a time (each a ClientHello, then a close), and then serves the next client.
    REQUIRE(busy.write("Host: 127.0.0.1\r\nConnection: close\r\n\r\n"));
    CHECK(status_of(busy.read_response().data) == 200);
    CHECK(busy.read_until_close().closed);
    const auto closed = px.wait_for_counter("atsgate_handshake_failures_total{reason=\"client_closed\"}", n_waiting, 10000ms);
    INFO(body_of(px.admin("GET", "/metrics")));
    CHECK(closed == n_waiting);
    CHECK(wait_for_active(px, 0) == 0);
    o.timeout = 10000ms;
    tls_client next(o);
    REQUIRE(next.connect(px.port()).ok);
    CHECK(status_of(next.request(enroll_request).data) == 200);
    CHECK(px.counter("atsgate_connections_active") == 1);
}

TEST_CASE("limits: at max_connections the longest-idle connection is shed for a new client, oldest first",
          "[integration][limits]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.workers = 2;
    cfg.limits = "max_connections = 3";
    proxy px(env, cfg);
    px.wait_for_counter("atsgate_handshakes_aborted_total", 1);
    REQUIRE(wait_for_active(px, 0) == 0);

    tls_client_options o;
    o.ca_file = env.root_pem();
    // One busy connection (mid-request head) and two silent TCP connections, oldest first.
    tls_client busy(o);
    REQUIRE(busy.connect(px.port()).ok);
    REQUIRE(busy.write("GET /mdm/enroll HTTP/1.1\r\n"));
    REQUIRE(wait_for_active(px, 1) == 1);
    raw_tcp oldest(px.port());
    REQUIRE(wait_for_active(px, 2) == 2);
    raw_tcp younger(px.port());
    REQUIRE(wait_for_active(px, 3) == 3);

    // A new client at the limit: served at once; the oldest silent connection makes room.
    tls_client fresh(o);
    const auto hs = fresh.connect(px.port());
    INFO(hs.error);
    REQUIRE(hs.ok);
    CHECK(status_of(fresh.request(enroll_request).data) == 200);
    CHECK(oldest.closed_by_server(5000ms));
    CHECK_FALSE(younger.closed_by_server(300ms));
    CHECK(px.counter("atsgate_connections_shed_total") == 1);

    // Next: the younger silent connection is now the longest idle (fresh went idle after its response).
    tls_client another(o);
    REQUIRE(another.connect(px.port()).ok);
    CHECK(younger.closed_by_server(5000ms));
    CHECK(px.counter("atsgate_connections_shed_total") == 2);
    // Then the keep-alive connection idle the longest (fresh), never the busy one.
    CHECK(status_of(another.request(enroll_request).data) == 200);
    tls_client third(o);
    REQUIRE(third.connect(px.port()).ok);
    CHECK(fresh.read_until_close().closed);
    CHECK(px.counter("atsgate_connections_shed_total") == 3);
    REQUIRE(busy.write("Host: 127.0.0.1\r\n\r\n"));
    CHECK(status_of(busy.read_response().data) == 200);
    CHECK(px.counter("atsgate_connections_active") == 3);
    // Shed connections are neither refusals, failures nor timeouts.
    CHECK(px.counter(refused_series("protocol_version")) == 0);
    CHECK(px.counter("atsgate_handshake_timeouts_total{phase=\"client_hello\"}") == 0);
    CHECK(px.counter("atsgate_handshakes_aborted_total") == 1);
}
