#pragma once
// proxy/listener/: the accept loops and nothing else. May use: downstream (starts connections),
// snapshot, net, spdlog. Used by server.
//
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

// Creates a listening socket (SO_REUSEADDR + SO_REUSEPORT, IPV6_V6ONLY for IPv6, TCP_NODELAY for
// the accepted sockets, TCP_DEFER_ACCEPT of 1 s, non-blocking, close-on-exec) bound to `ep`, and
// returns its descriptor; the caller hands it to a worker's acceptor (tcp_acceptor::assign). Raw
// POSIX on purpose: the control thread opens sockets for every worker without touching the
// workers' io_contexts. Errors are returned, nothing thrown.
int open_listen_socket(const net::tcp::endpoint& ep, net::error_code& ec);

// Accepts until the acceptor is closed. Each accepted connection takes one of the process-wide
// slots of limits.max_connections (worker.slots(), from the current snapshot) before it is served;
// at the limit the longest-idle connection of the process is shed to make room, and with nothing
// idle the loop waits until a connection ends (further clients queue in the kernel backlog). See
// downstream/slots.hpp. Without worker.slots() (tests) there is no limit.
// Each connection runs downstream::serve with the snapshot current at accept time, on that
// snapshot's listener named `listener_name` (a reload may reorder listeners); serve gives the slot back.
net::awaitable<void> accept_loop(net::tcp_acceptor& acceptor, std::string listener_name,
                                 downstream::worker_context& worker, snapshot::cache& snapshots);

}  // namespace atsgate::listener
