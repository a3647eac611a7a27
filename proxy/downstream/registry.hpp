#pragma once
// The worker's list of live client connections, so that a graceful drain can close the idle ones
// at once and let busy ones finish, and so that the connection limit can make room by closing the
// connection that has been idle longest. Intrusive: nodes live in the connection frames; no
// allocation. Single-threaded (the worker's thread), except idle_count(), which any thread may read.

#include "proxy/net/asio.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace atsgate::downstream {

struct registry_node {
    registry_node* prev = nullptr;  // every registered connection
    registry_node* next = nullptr;
    registry_node* idle_prev = nullptr;  // idle connections, in the order they became idle
    registry_node* idle_next = nullptr;
    net::tcp_socket* socket = nullptr;  // the client socket, cancelled on drain / shed
    std::chrono::steady_clock::time_point idle_since{};  // when it last became idle
    bool idle = false;  // waiting for bytes: before the ClientHello, before the first request, between requests
    bool shed = false;  // closed by shed_oldest_idle(): the connection ends without further accounting
};

class registry {
public:
    registry() {
        head_.prev = head_.next = &head_;
        head_.idle_prev = head_.idle_next = &head_;
    }
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    void add(registry_node& n) noexcept {
        n.prev = head_.prev;
        n.next = &head_;
        head_.prev->next = &n;
        head_.prev = &n;
        ++size_;
    }
    void remove(registry_node& n) noexcept {
        set_idle(n, false);
        n.prev->next = n.next;
        n.next->prev = n.prev;
        n.prev = n.next = nullptr;
        --size_;
    }
    // Marks `n` idle (appended to the idle order: it becomes the newest idle connection) or busy.
    void set_idle(registry_node& n, bool idle) noexcept {
        if (n.idle == idle) return;
        n.idle = idle;
        if (idle) {
            n.idle_since = std::chrono::steady_clock::now();
            n.idle_prev = head_.idle_prev;
            n.idle_next = &head_;
            head_.idle_prev->idle_next = &n;
            head_.idle_prev = &n;
            idle_count_.store(idle_count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        } else {
            n.idle_prev->idle_next = n.idle_next;
            n.idle_next->idle_prev = n.idle_prev;
            n.idle_prev = n.idle_next = nullptr;
            idle_count_.store(idle_count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        }
        // The oldest idle connection is the head of the idle order.
        const registry_node* oldest = head_.idle_next;
        oldest_idle_.store(oldest == &head_ ? none : oldest->idle_since.time_since_epoch().count(),
                           std::memory_order_relaxed);
    }
    // Cancels the socket of every idle connection (their pending wait completes with operation_aborted).
    void cancel_idle() noexcept {
        for (registry_node* n = head_.idle_next; n != &head_; n = n->idle_next) cancel(*n);
    }
    // Cancels every connection's socket (end of the drain deadline).
    void cancel_all() noexcept {
        for (registry_node* n = head_.next; n != &head_; n = n->next) cancel(*n);
    }
    // Closes the connection that has been idle longest and is still silent: marks it shed, takes it
    // out of the idle order and cancels its wait (the connection then ends). A connection whose
    // bytes have arrived but whose wait has not completed yet (the completion is queued) is not
    // silent and is skipped. False if no connection qualifies.
    bool shed_oldest_idle() noexcept {
        for (registry_node* n = head_.idle_next; n != &head_; n = n->idle_next) {
            if (n->socket != nullptr) {
                net::error_code ec;
                if (n->socket->available(ec) > 0 && !ec) continue;
            }
            n->shed = true;
            set_idle(*n, false);
            cancel(*n);
            return true;
        }
        return false;
    }
    std::size_t size() const noexcept { return size_; }
    // Idle connections now. Any thread (a relaxed read: a hint for choosing a worker to shed on).
    std::size_t idle_count() const noexcept { return idle_count_.load(std::memory_order_relaxed); }
    // Since when the longest-idle connection is idle (steady_clock ticks), or none when nothing is
    // idle. Any thread (relaxed: a hint for choosing the worker that sheds).
    static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::max();
    std::int64_t oldest_idle_since() const noexcept { return oldest_idle_.load(std::memory_order_relaxed); }

private:
    static void cancel(registry_node& n) noexcept {
        if (n.socket == nullptr) return;
        net::error_code ec;
        n.socket->cancel(ec);
    }

    registry_node head_;
    std::size_t size_ = 0;
    std::atomic<std::size_t> idle_count_{0};
    std::atomic<std::int64_t> oldest_idle_{none};
};

}  // namespace atsgate::downstream
