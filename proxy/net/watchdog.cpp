#include "proxy/net/watchdog.hpp"

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
    const auto now = clock::now();
    s.at = d >= clock::time_point::max() - now ? clock::time_point::max() : now + d;  // max: no deadline yet
    s.what = p;
    s.fired = phase::none;
    s.target = &target;
    if (s.at < scheduled_) schedule(s.at);
}

void watchdog::disarm(std::size_t slot) noexcept {
    auto& s = slots_[slot];
    s.at = clock::time_point::max();
    s.what = phase::none;
    s.target = nullptr;
}

void watchdog::schedule(clock::time_point at) noexcept {
    scheduled_ = at;
    timer_.expires_at(at);  // a pending wait completes with operation_aborted: its handler returns
    timer_.async_wait([alive = alive_](const error_code& ec) {
        if (ec || *alive == nullptr) return;
        (*alive)->expire();
    });
}

void watchdog::expire() noexcept {
    const auto now = clock::now();
    auto next = clock::time_point::max();
    for (auto& s : slots_) {
        if (s.at <= now) {
            s.fired = s.what;
            s.at = clock::time_point::max();
            if (s.target != nullptr) {
                error_code ec;
                s.target->cancel(ec);
            }
        } else if (s.at < next) {
            next = s.at;
        }
    }
    scheduled_ = clock::time_point::max();
    if (next != clock::time_point::max()) schedule(next);
}

}  // namespace atsgate::net
