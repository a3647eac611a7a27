#pragma once
// One request forwarded to its upstream and the response relayed back: choose a member (balancer
// over healthy members), lease a pooled connection or connect one, send the head with whatever of
// the body is buffered, then relay the response to the client while the rest of the request body
// streams up (both directions in parallel, inside the connection's frame). A complete idempotent
// request is re-sent once when a pooled connection turns out stale; a failed connect moves to
// another member. The exchange writes only the relayed response (and 100 Continue) to the client:
// what atsgate answers itself (502, 503, 504, 4xx) is returned to the connection, which owns the
// one local-reply writer and the access log.

#include "proxy/downstream/request_state.hpp"
#include "proxy/downstream/worker_context.hpp"
#include "proxy/http/message.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/net/tls_stream.hpp"
#include "proxy/net/watchdog.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace atsgate::downstream {

// Watchdog slots of a client connection.
inline constexpr std::size_t slot_main = 0;    // handshake, request head, upstream exchange, response relay
inline constexpr std::size_t slot_upload = 1;  // request body upload, concurrent with the response relay

// What the exchange borrows from its client connection for one request.
struct client_side {
    worker_context& worker;
    const snapshot::snapshot& snap;
    std::size_t listener;          // index into snap.cfg.listeners
    net::tls_stream& stream;       // the client
    net::watchdog& deadlines;      // the connection's watchdog (slots above)
    request_state& request;        // parsers, windows and buffers of this request
    std::string_view client_ip;    // for logs
    std::uint16_t client_port;
    std::uint32_t served;          // requests on this connection, this one included
};

struct exchange_result {
    enum class next : std::uint8_t {
        keep_open,       // the response was relayed completely; the connection may serve another request
        close,           // relayed (completely or not): close the connection
        answer_locally,  // nothing reached the client: answer `status`, closing when `close`
        client_gone,     // the client failed or left; close without answering
    };
    next what = next::close;
    std::uint16_t status = 0;  // relayed status, or the one to answer locally
    bool close = false;        // answer_locally: close after the answer
    bool logged = false;       // client_gone: whether the access log wants a line (a response was relayed)
    std::uint64_t body_bytes = 0;
};

// Forwards the request whose head is `h` (parsed by client.request.parser; the upstream request
// head and the buffered body are in client.request.to_upstream; `complete`: that is the whole
// request) to upstream `upstream` of client.snap. Never throws; counts in client.worker's stats.
net::awaitable<exchange_result> forward_request(client_side& client, const http::request_head& h, std::size_t upstream,
                                        bool complete);

}  // namespace atsgate::downstream
