#pragma once
// Client connection slots: limits.max_connections counts connections of the whole process, not per
// worker (a per-worker share, rounded up, let one extra connection in per worker, and idle
// connections on one worker could not make room for a client waiting on another). One atomic
// counter shared by every worker: taking a slot is one compare-exchange per accepted connection.
//
// At the limit the accept loop makes room the way nginx reuses keep-alive connections
// (ngx_drain_connections): the connection that has been idle longest -- one that has sent nothing
// since it was accepted, since its handshake, or since its last response -- is closed, oldest first
// across all workers. Busy connections (mid-handshake, mid-request) are never touched. With nothing
// idle, new clients wait (in the accept loop and then in the kernel backlog) until a connection ends.
// A per-address cap is deliberately not applied: enrolled devices often share one NAT address.
//
// One shed per waiting client: a shed is "in flight" from the moment it is decided until the shed
// connection has given its slot back, which takes a trip through the holding worker's event loop
// (and on a loaded machine that thread may not run for a while). The accept loop looks for a free
// slot every 10 ms; shedding again at each look closed a further idle connection every 10 ms for
// the same client (integration.limits caught the younger idle connection closed as well). Now
// make_room() sheds only while fewer sheds are in flight than clients are waiting.
//
// Set up on the control thread before the worker threads start (add_worker); then used from every
// worker thread.

#include "proxy/net/asio.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <cstdint>
#include <vector>

namespace atsgate::downstream {

class worker_context;

class connection_slots {
public:
    connection_slots() = default;
    connection_slots(const connection_slots&) = delete;
    connection_slots& operator=(const connection_slots&) = delete;

    // Takes a slot if fewer than `limit` are taken. Any thread.
    bool try_acquire(std::uint32_t limit) noexcept {
        std::uint32_t n = in_use_.load(std::memory_order_relaxed);
        while (n < limit)
            if (in_use_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
        return false;
    }
    // Gives a slot back (the connection ended; `was_shed`: it was closed by a shed, which is no
    // longer in flight once its slot is free). Any thread.
    void release(bool was_shed = false) noexcept {
        in_use_.fetch_sub(1, std::memory_order_seq_cst);
        if (was_shed) shedding_.fetch_sub(1, std::memory_order_seq_cst);  // after the slot is free
    }
    std::uint32_t in_use() const noexcept { return in_use_.load(std::memory_order_relaxed); }

    // Registers a worker whose idle connections may be shed. Control thread, before workers run.
    void add_worker(worker_context& w) { workers_.push_back(&w); }

    // A client waiting for a slot in an accept loop, for as long as it waits (RAII).
    class waiter {
    public:
        explicit waiter(connection_slots& s) noexcept : s_(s) { s_.waiting_.fetch_add(1, std::memory_order_seq_cst); }
        ~waiter() { s_.waiting_.fetch_sub(1, std::memory_order_seq_cst); }
        waiter(const waiter&) = delete;
        waiter& operator=(const waiter&) = delete;

    private:
        connection_slots& s_;
    };

    // Makes room for a client waiting (as a `waiter`) on `self`'s thread, called at each look for a
    // slot: when fewer sheds are in flight than clients wait, sheds the process's longest-idle
    // connection -- at once when it is `self`'s, else posted to the worker holding it. Returns
    // false when a shed was needed but no worker has an idle connection. Worker thread.
    bool make_room(worker_context& self);

    // Sheds in flight: decided, and the shed connection has not given its slot back yet.
    std::uint32_t sheds_in_flight() const noexcept { return shedding_.load(std::memory_order_seq_cst); }

private:
    std::atomic<std::uint32_t> in_use_{0};
    std::atomic<std::uint32_t> waiting_{0};   // clients waiting for a slot (waiter)
    std::atomic<std::uint32_t> shedding_{0};  // sheds in flight
    std::vector<worker_context*> workers_;    // immutable once the workers run
};

}  // namespace atsgate::downstream
