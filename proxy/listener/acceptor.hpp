#pragma once
// Listening sockets and the accept loop. Every worker has its own acceptor per listener, bound to the
// same address with SO_REUSEPORT: the kernel spreads new connections over the workers, and a
// connection never leaves the worker that accepted it (no hand-off, no shared accept lock).
// Alternatives considered: one acceptor + posting sockets to workers (a cross-thread hop per
// connection) and EPOLLEXCLUSIVE on a shared socket (uneven under load). SO_REUSEPORT is what
// nginx (reuseport) and HAProxy do.

#include "proxy/downstream/worker_context.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/snapshot/store.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace atsgate::listener {

// Fails (EADDRINUSE) if another socket already holds `ep` — checked with a bind *without*
// SO_REUSEPORT before the real acceptors are opened, so a stale atsgate (or anything else) on the
// port is an error instead of silently sharing the traffic.
net::error_code check_port_free(const net::tcp::endpoint& ep);

// Opens, binds (SO_REUSEADDR + SO_REUSEPORT) and listens. Errors are returned, nothing thrown.
net::error_code open_acceptor(net::tcp_acceptor& acceptor, const net::tcp::endpoint& ep);

// Accepts until the acceptor is closed, keeping at most `max_connections` client connections open on
// this worker (beyond that it stops accepting until one closes; the kernel backlog holds the rest).
// Each connection runs downstream::serve with the snapshot current at accept time.
net::awaitable<void> accept_loop(net::tcp_acceptor& acceptor, std::size_t listener_index,
                                 downstream::worker_context& worker, snapshot::cache& snapshots,
                                 std::uint32_t max_connections);

}  // namespace atsgate::listener
