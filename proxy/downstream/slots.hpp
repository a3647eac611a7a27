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
    // Gives a slot back (the connection ended). Any thread.
    void release() noexcept { in_use_.fetch_sub(1, std::memory_order_relaxed); }
    std::uint32_t in_use() const noexcept { return in_use_.load(std::memory_order_relaxed); }

    // Registers a worker whose idle connections may be shed. Control thread, before workers run.
    void add_worker(worker_context& w) { workers_.push_back(&w); }

    // Makes room for a client waiting on `self`'s thread: sheds the process's longest-idle
    // connection -- at once when it is `self`'s, else posted to the worker holding it. Returns false
    // when no worker has an idle connection. The slot comes back when the shed connection's
    // coroutine has ended. Worker thread.
    bool shed_one(worker_context& self);

private:
    std::atomic<std::uint32_t> in_use_{0};
    std::vector<worker_context*> workers_;  // immutable once the workers run
};

}  // namespace atsgate::downstream
