#pragma once
// One timer per connection guarding every wait (STYLE.md §3: every wait has a deadline; Boost 1.81
// has no cancel_after). Each concurrent activity of the connection owns a slot; before a wait it
// arms its slot with (phase, duration, socket). When a slot's deadline passes, the watchdog records
// the phase and cancels that slot's socket, so the pending operation completes with
// operation_aborted and its owner checks expired() to tell a timeout from other cancellations.
//
// Deviation from "coroutines, not callbacks" (STYLE.md §3), on purpose: the timer completion is a
// plain handler. A watchdog coroutine would have to run in parallel with the connection (an
// awaitable `||`), which costs two spawned coroutine threads, a parallel group and their frames per
// connection (~1.5 kB and measurable CPU per handshake, bench/README.md). The handler holds only a
// shared "alive" cell, so a completion that is already queued when the connection ends finds it
// empty and touches nothing.
//
// Arming a later deadline is free (the timer wakes at the old time and re-arms); arming an earlier
// one re-schedules the timer. Single-threaded (the connection's worker).
//
// Callers scope their deadlines with guard(): a `deadline` arms its slot when constructed and
// disarms it when it goes out of scope, so no path (early return, error, exception) leaves a
// deadline armed for the next wait, and no wait runs without one by accident.

#include "proxy/net/asio.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>

namespace atsgate::net {

enum class phase : std::uint8_t {
    none,
    handshake,         // TLS handshake with the client
    request_header,    // waiting for the rest of a request head
    keepalive,         // idle between requests
    client_body,       // reading a request body / writing a response to the client
    upstream_connect,  // TCP connect to the backend
    upstream_send,     // writing the request to the backend
    upstream_response, // waiting for response bytes from the backend
    drain,             // graceful shutdown deadline
};
const char* to_string(phase p) noexcept;

class deadline;

class watchdog {
public:
    static constexpr std::size_t slots = 2;  // 0: main flow / response, 1: request body upload
    using clock = std::chrono::steady_clock;

    explicit watchdog(const asio::any_io_executor& ex) : timer_(ex), alive_(std::make_shared<watchdog*>(this)) {}
    ~watchdog() { *alive_ = nullptr; }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    // Guards the next wait of `slot`: if it has not been disarmed within `d`, `target` is cancelled.
    // clock::duration::max() records the phase without a deadline (one may be armed later).
    void arm(std::size_t slot, phase p, clock::duration d, tcp_socket& target) noexcept;
    void disarm(std::size_t slot) noexcept;

    // The phase whose deadline expired in `slot` since the last arm(), or phase::none.
    phase expired(std::size_t slot) const noexcept { return slots_[slot].fired; }

    // A scoped deadline: arm(slot, p, d, target) now, disarm(slot) when the result goes out of scope.
    [[nodiscard]] deadline guard(std::size_t slot, phase p, clock::duration d, tcp_socket& target) noexcept;

private:
    struct slot_state {
        clock::time_point at = clock::time_point::max();
        phase what = phase::none;
        phase fired = phase::none;
        tcp_socket* target = nullptr;
    };
    void schedule(clock::time_point at) noexcept;
    void expire() noexcept;

    asio::steady_timer timer_;
    std::shared_ptr<watchdog*> alive_;  // cleared in the destructor; read by queued completions
    std::array<slot_state, slots> slots_{};
    clock::time_point scheduled_ = clock::time_point::max();  // when timer_ is due to fire
};

// A deadline armed for one scope (see watchdog::guard). Move-only; at most one live guard per slot.
class [[nodiscard]] deadline {
public:
    using clock = watchdog::clock;

    deadline(watchdog& w, std::size_t slot, phase p, clock::duration d, tcp_socket& target) noexcept
        : w_(&w), target_(&target), slot_(slot) {
        w.arm(slot, p, d, target);
    }
    ~deadline() {
        if (w_ != nullptr) w_->disarm(slot_);
    }
    deadline(deadline&& o) noexcept : w_(o.w_), target_(o.target_), slot_(o.slot_) { o.w_ = nullptr; }
    deadline& operator=(deadline&&) = delete;
    deadline(const deadline&) = delete;
    deadline& operator=(const deadline&) = delete;

    // Starts over with another phase and duration (keep-alive idle -> request head at its first byte).
    void rearm(phase p, clock::duration d) noexcept { w_->arm(slot_, p, d, *target_); }
    // The phase that expired in this slot since the guard was (re)armed, or phase::none: tells a
    // timeout from other cancellations after the guarded wait completed with operation_aborted.
    phase fired() const noexcept { return w_->expired(slot_); }
    bool expired() const noexcept { return fired() != phase::none; }

private:
    watchdog* w_;
    tcp_socket* target_;
    std::size_t slot_;
};

inline deadline watchdog::guard(std::size_t slot, phase p, clock::duration d, tcp_socket& target) noexcept {
    return deadline(*this, slot, p, d, target);
}

}  // namespace atsgate::net
