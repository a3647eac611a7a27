// Process lifecycle of the real binary: graceful drain on SIGTERM.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <string>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

// curl in the background: GET `url`, body to OUT.body, "%{http_code}" to OUT.code (stdout).
process background_curl(const test_env& env, const std::string& url, const std::string& out) {
    spawn_options o;
    o.stdout_path = env.path(out + ".code");
    o.stderr_path = env.path(out + ".err");
    return process({"curl", "-sS", "--cacert", env.root_pem().string(), "--max-time",
                    std::to_string(scaled(30000ms).count() / 1000), "-o", env.path(out + ".body").string(), "-w",
                    "%{http_code}", url},
                   o);
}

// Polls until the backend logged a request line containing `needle`.
bool wait_received(const backend& be, const std::string& needle, milliseconds within) {
    return poll_until([&] { return be.received(needle); }, within);
}

// Polls until a TCP connect to the port is refused.
bool wait_refused(std::uint16_t port, milliseconds within) {
    return poll_until([&] { return !port_accepts(port); }, within);
}

}  // namespace

TEST_CASE("lifecycle: SIGTERM finishes in-flight requests, refuses new connections, closes idle ones, exits 0",
          "[integration][lifecycle]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.drain_timeout = "10s";
    proxy px(env, cfg);

    // An idle keep-alive connection: one request served, then silence.
    tls_client idle;
    REQUIRE(idle.connect(px.port()).ok);
    REQUIRE(idle.write("GET /status/204 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    REQUIRE(status_of(idle.read_response().data) == 204);

    // A slow request in flight: the backend has it when we signal.
    const std::string slow_target = "/slow?ms=" + std::to_string(scaled(1500ms).count());
    auto slow = background_curl(env, px.url(slow_target), "slow");
    REQUIRE(wait_received(be, slow_target, 10000ms));

    const auto signalled = clock::now();
    REQUIRE(px.proc().signal(SIGTERM));

    // The idle connection is closed at once (close_notify or EOF), long before the drain deadline.
    const auto closed = idle.read_until_close(2000ms);
    CHECK(closed.closed);
    CHECK_FALSE(closed.timed_out);
    CHECK(closed.data.empty());
    CHECK(clock::now() - signalled < scaled(1000ms));

    // New connections are refused while the slow request is still being served.
    CHECK(wait_refused(px.port(), 1000ms));
    CHECK(slow.running());

    // The in-flight request completes normally.
    const auto slow_status = slow.wait(deadline_after(10000ms));
    CHECK(slow_status == 0);
    CHECK(read_text(env.path("slow.code")) == "200");
    CHECK(read_text(env.path("slow.body")) == "slow\n");

    // And the proxy exits 0 right after, well within the 10 s drain deadline.
    const auto exit_status = px.proc().wait(signalled + scaled(10000ms));
    INFO(px.proc().stderr_text());
    CHECK(exit_status == 0);
    CHECK(clock::now() - signalled < scaled(5000ms));
}

TEST_CASE("lifecycle: a request outliving drain_timeout is cut and the process still exits 0",
          "[integration][lifecycle]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.drain_timeout = "1s";
    proxy px(env, cfg);

    auto slow = background_curl(env, px.url("/slow?ms=20000"), "slow");
    REQUIRE(wait_received(be, "/slow?ms=20000", 10000ms));
    const auto signalled = clock::now();
    REQUIRE(px.proc().signal(SIGTERM));

    // Drain deadline (1 s), then at most 1 s more before the event loops are stopped.
    const auto exit_status = px.proc().wait(signalled + scaled(5000ms));
    INFO(px.proc().stderr_text());
    CHECK(exit_status == 0);
    const auto took = clock::now() - signalled;
    CHECK(took >= 900ms);
    CHECK(took < scaled(3000ms));
    // The client did not get a 200 for a request that was cut.
    CHECK(slow.wait(deadline_after(10000ms)).has_value());
    CHECK(read_text(env.path("slow.code")) != "200");
}

TEST_CASE("lifecycle: a second SIGTERM stops at once", "[integration][lifecycle]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.drain_timeout = "30s";
    proxy px(env, cfg);

    auto slow = background_curl(env, px.url("/slow?ms=20000"), "slow");
    REQUIRE(wait_received(be, "/slow?ms=20000", 10000ms));
    REQUIRE(px.proc().signal(SIGTERM));
    CHECK(wait_refused(px.port(), 1000ms));  // draining has begun
    const auto second = clock::now();
    REQUIRE(px.proc().signal(SIGTERM));
    const auto exit_status = px.proc().wait(second + scaled(5000ms));
    INFO(px.proc().stderr_text());
    CHECK(exit_status == 0);
    CHECK(clock::now() - second < scaled(2000ms));
}

TEST_CASE("lifecycle: each worker warms an upstream connection at start, the first request reuses it",
          "[integration][lifecycle]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.workers = 1;
    proxy px(env, cfg);
    // Warm-up runs right after start, before any client connects.
    CHECK(px.wait_for_counter("atsgate_upstream_connects_total", 1) == 1);
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    REQUIRE(c.write("GET /status/204 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    REQUIRE(status_of(c.read_response().data) == 204);
    CHECK(px.counter("atsgate_upstream_reuses_total") == 1);
    CHECK(px.counter("atsgate_upstream_connects_total") == 1);
}

TEST_CASE("lifecycle: a restart on the same port right after traffic succeeds (TIME_WAIT is not in the way)",
          "[integration][lifecycle]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    std::uint16_t port = 0;
    {
        proxy first(env, cfg, "first");
        port = first.port();
        // Connections the proxy closes itself leave TIME_WAIT entries on its port.
        for (int i = 0; i < 5; ++i) {
            tls_client c;
            REQUIRE(c.connect(port).ok);
            REQUIRE(c.write("GET /status/204 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
            CHECK(status_of(c.read_until_close().data) == 204);
        }
        REQUIRE(first.proc().signal(SIGTERM));
        CHECK(first.proc().wait(deadline_after(10000ms)) == 0);
    }
    cfg.listeners.at(0).port = port;
    cfg.admin_port = 0;
    proxy second(env, cfg, "second");  // fails the test if it cannot bind
    tls_client c;
    REQUIRE(c.connect(second.port()).ok);
    CHECK(second.port() == port);
}
