// net::watchdog and net::deadline: a guarded wait is cancelled when its deadline passes (and
// reports the phase), a guard that left its scope cancels nothing, slots are independent, and a
// re-armed deadline counts from the re-arm. Real loopback sockets, real time: bounds have slack
// scaled by ATSGATE_TEST_TIMEOUT_SCALE.
#include "proxy/net/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>

namespace atsgate::net {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

double scale() {
    const char* s = std::getenv("ATSGATE_TEST_TIMEOUT_SCALE");
    const double v = s != nullptr ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}
clock::duration scaled(clock::duration d) {
    return std::chrono::duration_cast<clock::duration>(d * scale());
}
clock::duration slack() { return scaled(200ms); }

// A connected loopback pair: `a` is watched, `b` is the peer that may write to it.
struct socket_pair {
    asio::io_context io;
    tcp_socket a{io}, b{io};
    socket_pair() {
        tcp::acceptor acc(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        b.connect(acc.local_endpoint());
        acc.accept(a);
    }
};

struct read_outcome {
    error_code ec;
    std::size_t n = 0;
    clock::duration took{};
    phase fired = phase::none;
};

// Reads once from `s` under a deadline of `d` in `slot`.
awaitable<void> guarded_read(watchdog& w, std::size_t slot, phase p, clock::duration d, tcp_socket& s,
                             std::optional<read_outcome>& out) {
    char buf[16];
    const auto start = clock::now();
    auto dl = w.guard(slot, p, d, s);
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf));
    out = read_outcome{ec, n, clock::now() - start, dl.fired()};
}

void run_until(asio::io_context& io, const std::function<bool()>& done, clock::duration limit) {
    const auto until = clock::now() + limit;
    while (!done() && clock::now() < until) io.run_one_for(10ms);
}

}  // namespace

TEST_CASE("net::deadline: a silent peer is cut at the deadline and the phase is reported", "[unit][net][watchdog]") {
    socket_pair sp;
    watchdog w(sp.io.get_executor());
    std::optional<read_outcome> r;
    asio::co_spawn(sp.io, guarded_read(w, 0, phase::request_header, 100ms, sp.a, r), asio::detached);
    run_until(sp.io, [&] { return r.has_value(); }, scaled(5s));
    REQUIRE(r);
    CHECK(r->ec == asio::error::operation_aborted);
    CHECK(r->fired == phase::request_header);
    CHECK(r->took >= 100ms);
    CHECK(r->took < 100ms + slack());
    CHECK(w.expired(0) == phase::request_header);
}

TEST_CASE("net::deadline: data before the deadline completes the wait, and the left scope cancels nothing later",
          "[unit][net][watchdog]") {
    socket_pair sp;
    watchdog w(sp.io.get_executor());
    std::optional<read_outcome> first, second;
    asio::co_spawn(sp.io, guarded_read(w, 0, phase::keepalive, 100ms, sp.a, first), asio::detached);
    asio::write(sp.b, asio::buffer("x", 1));
    run_until(sp.io, [&] { return first.has_value(); }, scaled(5s));
    REQUIRE(first);
    CHECK_FALSE(first->ec);
    CHECK(first->n == 1);
    CHECK(first->fired == phase::none);
    // A second wait without a guard outlives the first deadline: nothing cancels it.
    asio::co_spawn(
        sp.io,
        [&]() -> awaitable<void> {
            char buf[4];
            const auto start = clock::now();
            auto [ec, n] = co_await sp.a.async_read_some(asio::buffer(buf));
            second = read_outcome{ec, n, clock::now() - start, w.expired(0)};
        },
        asio::detached);
    const auto until = clock::now() + 300ms;
    while (clock::now() < until) sp.io.run_one_for(10ms);
    CHECK_FALSE(second.has_value());  // still waiting: the disarmed deadline did not fire
    asio::write(sp.b, asio::buffer("y", 1));
    run_until(sp.io, [&] { return second.has_value(); }, scaled(5s));
    REQUIRE(second);
    CHECK_FALSE(second->ec);
    CHECK(second->fired == phase::none);
}

TEST_CASE("net::deadline: slots are independent, an earlier deadline in another slot re-schedules the timer",
          "[unit][net][watchdog]") {
    socket_pair sp;
    tcp_socket& upload = sp.b;  // slot 1 watches the other end of the pair
    watchdog w(sp.io.get_executor());
    std::optional<read_outcome> slow, fast;
    asio::co_spawn(sp.io, guarded_read(w, 0, phase::upstream_response, 400ms, sp.a, slow), asio::detached);
    asio::co_spawn(sp.io, guarded_read(w, 1, phase::client_body, 100ms, upload, fast), asio::detached);
    run_until(sp.io, [&] { return fast.has_value(); }, scaled(5s));
    REQUIRE(fast);
    CHECK(fast->fired == phase::client_body);
    CHECK(fast->took < 100ms + slack());
    CHECK_FALSE(slow.has_value());  // slot 0 is still waiting
    run_until(sp.io, [&] { return slow.has_value(); }, scaled(5s));
    REQUIRE(slow);
    CHECK(slow->fired == phase::upstream_response);
    CHECK(slow->took >= 400ms);
}

TEST_CASE("net::deadline: rearm counts from the re-arm with the new phase", "[unit][net][watchdog]") {
    socket_pair sp;
    watchdog w(sp.io.get_executor());
    std::optional<read_outcome> r;
    asio::co_spawn(
        sp.io,
        [&]() -> awaitable<void> {
            char buf[16];
            const auto start = clock::now();
            auto dl = w.guard(0, phase::keepalive, 100ms, sp.a);
            auto [ec, n] = co_await sp.a.async_read_some(asio::buffer(buf));  // the first byte
            REQUIRE_FALSE(ec);
            dl.rearm(phase::request_header, 200ms);
            const auto rearmed = clock::now();
            auto [ec2, n2] = co_await sp.a.async_read_some(asio::buffer(buf));  // nothing more comes
            r = read_outcome{ec2, n2, clock::now() - rearmed, dl.fired()};
            (void)start;
        },
        asio::detached);
    asio::write(sp.b, asio::buffer("G", 1));
    run_until(sp.io, [&] { return r.has_value(); }, scaled(5s));
    REQUIRE(r);
    CHECK(r->ec == asio::error::operation_aborted);
    CHECK(r->fired == phase::request_header);
    CHECK(r->took >= 200ms);
    CHECK(r->took < 200ms + slack());
}

TEST_CASE("net::watchdog: a completion queued after the watchdog is gone touches nothing", "[unit][net][watchdog]") {
    socket_pair sp;
    {
        watchdog w(sp.io.get_executor());
        w.arm(0, phase::handshake, 1ms, sp.a);
        const auto until = clock::now() + 20ms;
        while (clock::now() < until) {
        }  // the deadline has passed, the timer's completion is not run yet
    }
    // Runs the timer's completion (operation_aborted or a late expiry) with the watchdog destroyed.
    sp.io.run_for(50ms);
    CHECK(sp.a.is_open());
}

}  // namespace atsgate::net
