#include "proxy/net/watchdog.hpp"

#include <boost/asio/this_coro.hpp>

namespace atsgate::net {

const char* to_string(phase p) noexcept {
    switch (p) {
        case phase::none: return "none";
        case phase::handshake: return "handshake";
        case phase::request_header: return "request_header";
        case phase::keepalive: return "keepalive";
        case phase::client_body: return "client_body";
        case phase::upstream_connect: return "upstream_connect";
        case phase::upstream_send: return "upstream_send";
        case phase::upstream_response: return "upstream_response";
        case phase::drain: return "drain";
    }
    return "unknown";
}

void watchdog::arm(std::size_t slot, phase p, clock::duration d, tcp_socket& target) noexcept {
    auto& s = slots_[slot];
    s.at = clock::now() + d;
    s.what = p;
    s.fired = phase::none;
    s.target = &target;
    // Wake the timer early only if this deadline comes before the one it sleeps towards.
    if (s.at < scheduled_) timer_.cancel();
}

void watchdog::disarm(std::size_t slot) noexcept {
    auto& s = slots_[slot];
    s.at = clock::time_point::max();
    s.what = phase::none;
    s.target = nullptr;
}

watchdog::clock::time_point watchdog::earliest() const noexcept {
    auto t = clock::time_point::max();
    for (const auto& s : slots_)
        if (s.at < t) t = s.at;
    return t;
}

awaitable<void> watchdog::run() {
    for (;;) {
        const auto now = clock::now();
        for (auto& s : slots_) {
            if (s.at <= now) {
                s.fired = s.what;
                s.at = clock::time_point::max();
                if (s.target != nullptr) {
                    error_code ec;
                    s.target->cancel(ec);
                }
            }
        }
        scheduled_ = earliest();
        timer_.expires_at(scheduled_);
        co_await timer_.async_wait();
        // Woken either by expiry, by arm() moving a deadline earlier, or by the session ending
        // (the || operator's cancellation): only the last one ends the loop.
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) co_return;
    }
}

}  // namespace atsgate::net
