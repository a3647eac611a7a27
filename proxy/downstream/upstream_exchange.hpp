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
#include "proxy/http/client_framing.hpp"
#include "proxy/http/message.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/net/tls_stream.hpp"
#include "proxy/net/watchdog.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
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

// How each direction of the relay ended (internal to the exchange).
struct download_result {
    failure fail = failure::none;
    bool retryable = false;          // nothing of a response arrived and nothing reached the client
    bool closed_unanswered = false;  // the upstream closed (EOF) before one byte of a response
    net::error_code read_error;      // reading the response failed (a reset, ...): run() logs it
    bool head_flushed = false;       // bytes of the response reached the client
    bool complete = false;           // the final response was relayed completely
    bool keep_client = false;        // atsgate told the client the connection stays open
    bool upstream_reusable = false;  // the upstream connection is clean for another request
    std::uint16_t status = 0;
    std::uint64_t body_bytes = 0;
};

struct upload_result {
    failure fail = failure::none;
};

// One request's exchange with upstream `upstream` of client.snap; lives in the caller's frame.
class upstream_exchange {
public:
    upstream_exchange(client_side& c, const http::request_head& h, std::size_t upstream)
        : c_(c),
          rq_(c.request),
          h_(h),
          stats_(c.worker.counters()),
          ucfg_(c.snap.cfg.upstreams[upstream]),
          urt_(c.snap.upstreams[upstream]),
          balancer_(c.worker.upstreams().balancer_for(c.snap, upstream)) {}

    upstream_exchange(const upstream_exchange&) = delete;
    upstream_exchange& operator=(const upstream_exchange&) = delete;

    // Forwards the request (parsed by client.request.parser; its upstream head and the buffered
    // body are in client.request.to_upstream; `complete`: that is the whole request) and relays
    // the response. Never throws; counts in client.worker's stats.
    net::awaitable<exchange_result> run(bool complete);

private:
    using next = exchange_result::next;
    static exchange_result local(std::uint16_t status, bool close) { return {next::answer_locally, status, close}; }

    struct choice {
        std::size_t index;  // into urt_.members
        bool panic;         // chosen although no member was usable
    };
    // The member for the next attempt, or nullopt when every candidate was tried.
    std::optional<choice> choose();
    // Connects a new connection to the chosen member; false (and last_status_) on failure.
    net::awaitable<bool> connect(const choice& pick, upstream::lease& up);
    // Maps how both directions ended to what the connection does next.
    exchange_result conclude(const download_result& d, const upload_result& u, upstream::lease& up);

    net::awaitable<upload_result> upload(upstream::lease& up);
    net::awaitable<download_result> download(upstream::lease& up);
    // download's phases
    void start_response(download_result& d);
    void relay_body(download_result& d);
    void finish_response();
    net::awaitable<bool> flush_to_client(download_result& d);
    download_result& end_download(download_result& d);

    client_side& c_;
    request_state& rq_;
    const http::request_head& h_;
    stats& stats_;
    const config::upstream& ucfg_;
    const snapshot::upstream_runtime& urt_;
    upstream::balancer& balancer_;
    std::uint64_t tried_ = 0;          // members that failed to connect in this exchange (first 64)
    std::uint16_t last_status_ = 502;  // what to answer when no member is left to try
    bool panicked_ = false;            // this request found no usable member (counted once)
    http::client_framing framing_{};   // of the response being relayed
    bool guarding_ = false;            // the URL guard scans this response body
};

}  // namespace atsgate::downstream
