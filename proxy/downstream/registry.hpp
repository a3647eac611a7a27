#pragma once
// The worker's list of live client connections, so that a graceful drain can close the idle ones
// at once and let busy ones finish. Intrusive: nodes live in the connection frames; no allocation.
// Single-threaded (the worker's thread).

#include "proxy/net/asio.hpp"

#include <cstddef>

namespace atsgate::downstream {

struct registry_node {
    registry_node* prev = nullptr;
    registry_node* next = nullptr;
    net::tcp_socket* socket = nullptr;  // the client socket, cancelled on drain when idle
    bool idle = false;                   // waiting for the next request (keep-alive)
};

class registry {
public:
    registry() { head_.prev = head_.next = &head_; }
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
        n.prev->next = n.next;
        n.next->prev = n.prev;
        n.prev = n.next = nullptr;
        --size_;
    }
    // Cancels the socket of every idle connection (their pending read completes with operation_aborted).
    void cancel_idle() noexcept {
        for (registry_node* n = head_.next; n != &head_; n = n->next) {
            if (n->idle && n->socket != nullptr) {
                net::error_code ec;
                n->socket->cancel(ec);
            }
        }
    }
    // Cancels every connection's socket (end of the drain deadline).
    void cancel_all() noexcept {
        for (registry_node* n = head_.next; n != &head_; n = n->next) {
            if (n->socket != nullptr) {
                net::error_code ec;
                n->socket->cancel(ec);
            }
        }
    }
    std::size_t size() const noexcept { return size_; }

private:
    registry_node head_;
    std::size_t size_ = 0;
};

}  // namespace atsgate::downstream
