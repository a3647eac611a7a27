#pragma once
// proxy/downstream/: the client side of one connection, per worker: PROXY header, handshake,
// request loop (connection.cpp), the upstream exchange of one request (upstream_exchange.cpp),
// per-request state, the worker's context, counters (stats.hpp), connection slots and registry.
// May use every layer below it (proxyproto, cluster, snapshot, upstream, router, http, net, tls,
// config, util) and spdlog. Used by listener and server.
//
// The per-connection coroutine: TLS handshake (with the ATS gate) -> HTTP/1.1 codec -> router ->
// upstream exchange -> response, looping over keep-alive requests until the client closes, a limit
// is reached, an error forces a close, or the worker drains.

#include "proxy/downstream/worker_context.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <cstddef>
#include <memory>

namespace atsgate::downstream {

// Serves one accepted client connection to completion. `snap` is pinned for the connection's whole
// life; `listener` indexes snap->cfg.listeners. Runs on the accepting worker's thread and never
// leaves it; owns the socket, TLS state, buffers, codec and at most one upstream lease; never
// throws (errors are values, logged and counted).
// `peer` is the client address as accept() returned it.
net::awaitable<void> serve(net::tcp_socket socket, net::tcp::endpoint peer, std::shared_ptr<const snapshot::snapshot> snap,
                           std::size_t listener, worker_context& worker);

}  // namespace atsgate::downstream
