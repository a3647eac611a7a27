// One client connection, start to end:
//
//   accept -> TLS handshake (ATS gate) -> [ read request head -> route -> local answer, or
//   upstream exchange (upstream_exchange.cpp) -> response ] * keep-alive -> linger -> close
//
// Every wait is guarded by a scoped deadline (net::deadline) on the connection's watchdog; the
// memory of a request in flight is one request_state borrowed from the worker; the pure decisions
// (framing, local replies, peer facts) live in proxy/http and tls/.
#include "proxy/downstream/connection.hpp"

#include "proxy/downstream/proxy_header.hpp"

#include "proxy/downstream/request_state.hpp"
#include "proxy/downstream/upstream_exchange.hpp"
#include "proxy/http/local_response.hpp"
#include "proxy/http/request_parser.hpp"
#include "proxy/http/rewrite.hpp"
#include "proxy/net/tls_stream.hpp"
#include "proxy/net/watchdog.hpp"
#include "tls/audit.hpp"
#include "tls/fleet.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/peer_info.hpp"
#include "util/json.hpp"

#include <boost/asio/buffer.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

namespace atsgate::downstream {

namespace {
constexpr std::string_view acme_http01_prefix = "/.well-known/acme-challenge/";  // RFC 8555 8.3
}  // namespace

namespace {

namespace asio = net::asio;
using net::error_code;
using net::phase;
using clock = std::chrono::steady_clock;

// Lingering close (RFC 9112 section 9.6): after an error reply that closes the connection, read and
// discard what the client still sends for at most linger_total, giving up after a linger_pause of
// silence. Closing with unread input makes the kernel send a TCP reset, which can destroy the reply
// before the client reads it (a 413 while the body is still being uploaded). nginx's lingering_close.
constexpr auto linger_pause = std::chrono::seconds(2);
constexpr auto linger_total = std::chrono::seconds(5);

// The client-side stream: TLS for https listeners, plaintext for SCEP listeners.
net::tls_stream make_stream(net::tcp_socket&& socket, const snapshot::listener_runtime& l) {
    if (l.kind == config::listener_kind::scep || !l.tls) return net::tls_stream(std::move(socket));
    return net::tls_stream(std::move(socket), *l.tls->ctx, net::tls_stream::role::server);
}

class connection {
public:
    connection(net::tcp_socket&& socket, const net::tcp::endpoint& peer, std::shared_ptr<const snapshot::snapshot> snap,
               std::size_t listener, worker_context& worker)
        : snap_(std::move(snap)),
          listener_(listener),
          worker_(worker),
          deadlines_(socket.get_executor()),
          client_(make_stream(std::move(socket), snap_->listeners[listener])),
          client_ip_(peer.address().to_string()),
          client_port_(peer.port()) {}

    net::awaitable<void> run();
    // Closed by a shed at max_connections (registry::shed_oldest_idle).
    bool shed() const noexcept { return node_.shed; }

private:
    const config::timeout_settings& timeouts() const noexcept { return snap_->cfg.timeouts; }
    const config::listener& listener_cfg() const noexcept { return snap_->cfg.listeners[listener_]; }
    http::limits limits() const noexcept;

    net::awaitable<bool> handshake();
    void handshake_failed(const error_code& ec);
    // Fleet insight for a handshake whose ClientHello was seen: its offer, and a would-refuse (report
    // mode) logged and counted once, unless it ended refused anyway (`refused`).
    void account_hello(tls::refusal refused);
    // Appends this handshake to the process's recent refusals (the dashboard, /status).
    void record_refusal(tls::refusal reason, bool would_refuse);
    std::string offered_text() const;
    net::awaitable<const http::request_head*> read_request_head(bool first);
    net::awaitable<bool> respond(const http::request_head& h);
    net::awaitable<bool> forward(const http::request_head& h, std::size_t upstream);
    // (By value: the coroutine starts after the caller's temporaries are gone.)
    net::awaitable<bool> reply(const http::request_head* h, http::local_response r, bool close);
    net::awaitable<bool> reply(const http::request_head* h, std::uint16_t status, bool close) {
        http::local_response r;
        r.status = status;
        return reply(h, r, close);
    }
    net::awaitable<void> linger();
    void log_access(const http::request_head* h, std::uint16_t status, std::uint64_t bytes);
    // Gives the request state back to the worker (nothing unread may be left in it).
    void release_request() noexcept {
        if (request_) worker_.requests().release(std::move(request_));
    }

    std::shared_ptr<const snapshot::snapshot> snap_;  // pinned for the connection (weight switches adopted)
    std::size_t listener_;                            // index into snap_->cfg.listeners
    worker_context& worker_;
    net::watchdog deadlines_;         // every wait's deadline (slot_main, slot_upload)
    net::tls_stream client_;          // the client connection (TLS, or plaintext on SCEP listeners)
    tls::handshake_record hello_;     // what the ClientHello offered (for refusal logs)
    registry_node node_;              // in the worker's registry while serving (drain)
    std::string client_ip_;
    std::uint16_t client_port_ = 0;
    tls::peer_info peer_;             // what the handshake said about the client
    std::unique_ptr<request_state> request_;  // while a request is in flight (null while idle)
    std::uint32_t served_ = 0;        // requests received on this connection
    bool linger_ = false;             // a local reply closed the connection: linger() before closing
};

http::limits connection::limits() const noexcept {
    const auto& l = snap_->cfg.limits;
    http::limits lim;
    lim.header_bytes = l.header_bytes;
    lim.header_count = l.header_count;
    lim.body_bytes = l.body_bytes;
    lim.response_header_bytes = l.response_header_bytes;
    return lim;
}

net::awaitable<void> connection::run() {
    // Registered from the start, so that a drain or the connection limit can close it while it is
    // still idle before its handshake.
    node_.socket = &client_.socket();
    worker_.connections().add(node_);
    struct unregister {
        worker_context& w;
        registry_node& n;
        ~unregister() { w.connections().remove(n); }
    } guard{worker_, node_};
    if (!co_await handshake()) {
        client_.close();
        co_return;
    }

    for (bool first = true;; first = false) {
        const http::request_head* h = co_await read_request_head(first);
        if (h == nullptr || !co_await respond(*h)) break;
        // Idle between requests: hand the buffers back unless a pipelined request is already in them.
        if (request_->from_client.empty()) release_request();
    }
    if (linger_) co_await linger();
    release_request();
    client_.close();
}

net::awaitable<bool> connection::handshake() {
    if (!client_.valid()) {
        spdlog::warn("client {}:{}: cannot create TLS state: {}", client_ip_, client_port_, client_.ssl_error_text());
        co_return false;
    }
    if (client_.plaintext()) co_return true;
    tls::set_handshake_record(client_.native(), &hello_);
    error_code ec;
    {
        auto deadline = deadlines_.guard(slot_main, phase::handshake, timeouts().handshake, client_.socket());
        // The listener accepts once the client's first bytes are in (TCP_DEFER_ACCEPT), so the
        // handshake starts at once, without a readiness wait. A client that has sent nothing yet
        // (accepted after the defer period, or a FIN) waits here, idle: at max_connections it may
        // be shed until its first byte.
        ec = co_await client_.handshake(true);
        if (ec == asio::error::would_block) {
            worker_.connections().set_idle(node_, true);
            auto [wec] = co_await client_.socket().async_wait(net::tcp_socket::wait_read);
            worker_.connections().set_idle(node_, false);
            ec = wec;
            if (!ec && !node_.shed) ec = co_await client_.handshake();
        }
    }
    tls::set_handshake_record(client_.native(), nullptr);
    if (ec || node_.shed) {
        handshake_failed(ec);
        co_return false;
    }
    // A TLS-ALPN-01 validation (RFC 8737): the handshake itself was the answer; no HTTP follows.
    if (hello_.acme_challenge) {
        stats::inc(worker_.counters().acme_challenge_handshakes);
        spdlog::info("acme: TLS-ALPN-01 validation answered: client={}:{} listener={} sni={}", client_ip_,
                     client_port_, listener_cfg().name, hello_.hello.sni.data());
        co_return false;
    }
    // Device identity, once per connection (a resumed session carries the certificate too).
    peer_ = tls::peer_info::of(*client_.native(), listener_cfg().client_auth != config::client_auth_mode::none,
                               listener_cfg().cert_format);
    auto& st = worker_.counters();
    stats::inc(st.handshakes);
    if (peer_.resumed) stats::inc(st.resumed_handshakes);
    if (auto* fleet = snap_->listeners[listener_].fleet.get())
        tls::fleet_counters::inc(
            fleet->negotiated[static_cast<std::size_t>(tls::bucket_of(static_cast<std::uint16_t>(SSL_version(client_.native()))))]);
    account_hello(tls::refusal::none);
    co_return true;
}

std::string connection::offered_text() const {
    const auto& o = hello_.hello;
    return fmt::format("offered: max_version={} suites={} ems={} sni={}", tls::version_name(o.max_version), o.suite_count,
                       o.ems ? "yes" : "no", o.sni[0] != '\0' ? o.sni.data() : "-");
}

void connection::record_refusal(tls::refusal reason, bool would_refuse) {
    tls::refusal_log* log = worker_.refusals();
    if (log == nullptr) return;
    char client[64];
    const bool v6 = client_ip_.find(':') != std::string::npos;
    std::snprintf(client, sizeof client, v6 ? "[%s]:%u" : "%s:%u", client_ip_.c_str(), static_cast<unsigned>(client_port_));
    log->push(tls::make_refused(static_cast<std::int64_t>(std::time(nullptr)), listener_cfg().name, client, hello_.hello,
                                reason, would_refuse));
}

void connection::account_hello(tls::refusal refused) {
    auto* fleet = snap_->listeners[listener_].fleet.get();
    if (fleet != nullptr) fleet->count_hello(hello_.hello);
    if (refused != tls::refusal::none) {
        if (fleet != nullptr) tls::fleet_counters::inc(fleet->refused[static_cast<std::size_t>(refused)]);
        record_refusal(refused, false);
        return;
    }
    const tls::refusal w = hello_.would_refuse;
    if (w == tls::refusal::none) return;
    // Report mode: strict mode would have refused this ClientHello. Logged like a refusal, once.
    stats::inc(worker_.counters().would_refuse[static_cast<std::size_t>(w)]);
    if (fleet != nullptr) tls::fleet_counters::inc(fleet->would_refuse[static_cast<std::size_t>(w)]);
    record_refusal(w, true);
    spdlog::info("handshake would-refuse: client={}:{} listener={} reason={} {} (report mode: served)", client_ip_,
                 client_port_, listener_cfg().name, tls::to_string(w), offered_text());
}

// Accounts for a handshake that did not complete, in exactly one place (README "Handshakes that do
// not complete"): shed at the connection limit (counted when shed); a timeout (handshake_timeouts by
// what was awaited, debug); nothing TLS-like before a ClientHello (handshakes_aborted, debug); a
// refusal by atsgate's policy (refused by reason, info); any other failure (handshake_failures by
// kind: a client alert or an unexplained one at info, the rest at debug).
void connection::handshake_failed(const error_code& ec) {
    if (node_.shed) {
        spdlog::debug("client {}:{}: idle before its handshake, closed to make room (max_connections)", client_ip_,
                      client_port_);
        return;
    }
    auto& st = worker_.counters();
    auto offered = [&] { return offered_text(); };
    const std::string& ssl_text = client_.ssl_error_text();
    if (deadlines_.expired(slot_main) == phase::handshake) {
        // Not a refusal: the client stalled (or trickled) until [timeouts] handshake.
        const auto wait = hello_.hello_seen ? handshake_wait::client_finished : handshake_wait::client_hello;
        stats::inc(st.handshake_timeouts[static_cast<std::size_t>(wait)]);
        if (hello_.hello_seen) account_hello(tls::refusal::none);
        spdlog::debug("handshake timeout: client={}:{} listener={} waiting_for={}{}{}", client_ip_, client_port_,
                      listener_cfg().name, handshake_wait_names[static_cast<std::size_t>(wait)],
                      hello_.hello_seen ? " " : "", hello_.hello_seen ? offered() : std::string());
        return;
    }
    if (!hello_.hello_seen) {
        // Port scans, TCP health checks, plain-HTTP clients: no ClientHello, so nothing was refused.
        stats::inc(st.handshakes_aborted);
        spdlog::debug("handshake failed before a ClientHello: client={}:{} listener={} error={}{}", client_ip_,
                      client_port_, listener_cfg().name, ec.message(), ssl_text.empty() ? "" : " (" + ssl_text + ")");
        return;
    }
    const tls::failure_class c = tls::classify_failure(hello_, client_.ssl_reason());
    account_hello(c.reason);
    if (c.reason != tls::refusal::none) {
        stats::inc(st.refused[static_cast<std::size_t>(c.reason)]);
        // When the gate refused, OpenSSL's own text is just "callback failed": the reason says it all.
        std::string detail;
        if (c.reason == tls::refusal::bad_client_certificate)
            detail = std::string(" (") + X509_verify_cert_error_string(SSL_get_verify_result(client_.native())) + ")";
        else if (hello_.reason == tls::refusal::none && !ssl_text.empty())
            detail = " (" + ssl_text + ")";
        spdlog::info("handshake refused: client={}:{} listener={} reason={} {}{}", client_ip_, client_port_,
                     listener_cfg().name, tls::to_string(c.reason), offered(), detail);
        return;
    }
    stats::inc(st.handshake_failures[static_cast<std::size_t>(c.failure)]);
    // A client alert usually means a device that does not accept atsgate's certificate or chain:
    // worth an operator's attention. Protocol errors and closes are hostile or broken clients.
    const bool notable = c.failure == tls::handshake_failure::client_alert || c.failure == tls::handshake_failure::other;
    std::string detail;
    if (c.failure == tls::handshake_failure::client_closed)
        detail = " (" + ec.message() + ")";
    else if (c.failure != tls::handshake_failure::client_alert && !ssl_text.empty())
        detail = " (" + ssl_text + ")";
    spdlog::log(notable ? spdlog::level::info : spdlog::level::debug,
                "handshake failed: client={}:{} listener={} reason={}{}{} {}{}", client_ip_, client_port_,
                listener_cfg().name, tls::to_string(c.failure), c.alert >= 0 ? " alert=" : "",
                c.alert >= 0 ? tls::alert_name(c.alert) : "", offered(), detail);
}

// The next request head, or null when the connection ends (closed, timed out, draining, or a bad
// head already answered). The head deadline: request_header from the end of the handshake for the
// first request; for later ones keepalive while idle, then request_header from the first byte; a
// pipelined request already buffered gets request_header from now.
net::awaitable<const http::request_head*> connection::read_request_head(bool first) {
    const bool pipelined = request_ != nullptr && !request_->from_client.empty();
    bool head_timed = first || pipelined;
    auto deadline = deadlines_.guard(slot_main, head_timed ? phase::request_header : phase::keepalive,
                                     head_timed ? timeouts().request_header : timeouts().keepalive, client_.socket());
    if (request_ == nullptr) {
        // Idle: wait for the first byte without holding any buffer (an idle connection costs its
        // TLS state and this frame).
        if (worker_.draining()) co_return nullptr;
        worker_.connections().set_idle(node_, true);
        const error_code ec = co_await client_.wait_readable();
        worker_.connections().set_idle(node_, false);
        if (ec || node_.shed) co_return nullptr;
        request_ = worker_.requests().acquire(limits());
    }
    request_state& rq = *request_;
    http::request_parser& p = rq.parser;
    p.reset();
    rq.begin(clock::now());
    for (;;) {
        if (rq.from_client.empty()) {
            // Between requests (or before the first): nothing is lost by closing now.
            if (!p.started() && worker_.draining()) co_return nullptr;
            worker_.connections().set_idle(node_, !p.started());
            auto [ec, n] = co_await client_.read_some(rq.from_client.space());
            worker_.connections().set_idle(node_, false);
            if (ec || node_.shed) {
                if (p.started())
                    spdlog::debug("client {}:{} left mid-request head: {}", client_ip_, client_port_,
                                  deadline.expired() ? "request_header timeout" : ec.message());
                co_return nullptr;
            }
            rq.from_client.filled(n);
            if (!p.started()) rq.started = clock::now();  // the request's clock starts at its first byte
            if (!head_timed) {
                deadline.rearm(phase::request_header, timeouts().request_header);
                head_timed = true;
            }
        }
        const auto r = p.feed(rq.from_client.unread());
        rq.from_client.consume(r.consumed);
        if (r.event == http::parse_event::head_done) co_return &p.head();
        if (r.event == http::parse_event::error) {
            stats::inc(worker_.counters().bad_requests);
            spdlog::debug("client {}:{}: bad request: {} ({})", client_ip_, client_port_,
                          http::make_error_code(p.error()).message(), p.error_reason());
            co_await reply(nullptr, http::status_for(p.error()), true);
            co_return nullptr;
        }
    }
}

// Routes one request and answers it: locally, or through its upstream. True when the connection
// may serve another request. A plain function returning the answering coroutine (one coroutine
// frame less per request on the hot path).
net::awaitable<bool> connection::respond(const http::request_head& h) {
    ++served_;
    stats::inc(worker_.counters().requests);
    // A blue/green weight switch applies to the next request of kept-alive connections too (README:
    // "takes effect for new requests at once"): adopt the newest snapshot when it differs from ours
    // only in route weights (same config_generation: same listeners, upstreams, TLS contexts). A
    // reload is not adopted: the connection keeps the configuration it started with.
    if (const auto& latest = worker_.latest_snapshot();
        latest && latest->generation > snap_->generation && latest->config_generation == snap_->config_generation)
        snap_ = latest;
    // HTTP-01 (RFC 8555 8.3) on a plaintext listener: the key authorization for a published token,
    // before any routing (a redirect to https would fail the validation). Anything else under the
    // prefix is 404: it is ACME's, never the backend's.
    if (client_.plaintext() && h.target.starts_with(acme_http01_prefix) && (h.method == "GET" || h.method == "HEAD")) {
        const auto& lookup = snap_->listeners[listener_].http01;
        std::string_view token = h.target.substr(acme_http01_prefix.size());
        std::optional<std::string> answer;
        if (lookup && token.find_first_of("/?#") == std::string_view::npos) answer = lookup(token);
        http::local_response r;
        r.status = answer ? 200 : 404;
        if (answer) {
            // The request's own string storage outlives this call (reply() runs later); a
            // challenge answer never carries a Location, so it can hold the body.
            request_->location = std::move(*answer);
            r.content_type = "application/octet-stream";
            r.body = request_->location;
            stats::inc(worker_.counters().acme_http01_answers);
        }
        return reply(&h, r, h.body != http::framing::none);
    }
    router::sticky_inputs sticky;
    sticky.client_cert_fingerprint = peer_.fingerprint;
    sticky.random = worker_.random();
    const router::decision route = snap_->routes.match(listener_, h, sticky);
    if (route.what == router::decision::kind::forward) return forward(h, route.upstream);

    // Answered here. A request body we do not read means the connection cannot continue.
    const bool close = h.body != http::framing::none;
    http::local_response r;
    std::string& location = request_->location;  // outlives this call: reply() runs later
    switch (route.what) {
        case router::decision::kind::static_reply:
            r.status = route.reply->status;
            r.content_type = route.reply->content_type;
            r.body = route.reply->body;
            break;
        case router::decision::kind::redirect:
            location.assign(route.redirect_origin);
            location += h.target;
            r.status = 308;
            r.content_type = "text/plain; charset=utf-8";
            r.body = "";
            r.location = location;
            break;
        case router::decision::kind::forbidden: r.status = 403; break;
        case router::decision::kind::options:  // OPTIONS * on a scep listener: 200, Allow, no content
            r.status = 200;
            r.content_type = "";
            r.body = "";
            r.allow = route.allow;
            break;
        default: r.status = 404; break;
    }
    return reply(&h, r, close);
}

// Sends the request upstream (head + whatever of the body is buffered) and relays the response.
net::awaitable<bool> connection::forward(const http::request_head& h, std::size_t upstream) {
    request_state& rq = *request_;
    http::request_parser& p = rq.parser;
    rq.to_upstream.clear();
    http::upstream_request_context uctx;
    uctx.client_ip = client_ip_;
    uctx.proto = client_.plaintext() ? "http" : "https";
    uctx.body = h.body;
    uctx.content_length = h.content_length;
    uctx.identity_header = listener_cfg().client_cert_header;
    uctx.identity_value = peer_.identity;
    const auto drops = http::write_upstream_request(h, uctx, rq.to_upstream);
    if (drops.underscore != 0) stats::inc(worker_.counters().dropped_underscore, drops.underscore);
    if (drops.identity != 0) stats::inc(worker_.counters().dropped_identity, drops.identity);

    // Whatever of the body is already buffered travels with the head in one write; if that is the
    // whole body, the request is "complete" and can be re-sent after a stale pooled connection.
    const bool chunked = h.body == http::framing::chunked;
    bool complete = false;
    for (;;) {
        const auto r = p.feed(rq.from_client.unread());
        rq.from_client.consume(r.consumed);
        if (r.event == http::parse_event::body) {
            std::size_t total = 0;
            for (const auto& s : p.body_spans()) total += s.size();
            if (total == 0) continue;
            rq.body_with_head += total;
            if (chunked) http::append_chunk_header(total, rq.to_upstream);
            for (const auto& s : p.body_spans()) rq.to_upstream.append(s.data(), s.size());
            if (chunked) rq.to_upstream += http::chunk_trailer;
            continue;
        }
        if (r.event == http::parse_event::message_done) {
            if (chunked) rq.to_upstream += http::last_chunk;
            complete = true;
            break;
        }
        if (r.event == http::parse_event::error) {
            stats::inc(worker_.counters().bad_requests);
            co_await reply(&h, http::status_for(p.error()), true);
            co_return false;
        }
        break;  // need_more: the rest of the body is streamed
    }

    client_side side{worker_, *snap_, listener_, client_, deadlines_, rq, client_ip_, client_port_, served_};
    upstream_exchange exchange(side, h, upstream);
    const exchange_result x = co_await exchange.run(complete);
    switch (x.what) {
        case exchange_result::next::answer_locally: co_return co_await reply(&h, x.status, x.close);
        case exchange_result::next::client_gone:
            if (x.logged) log_access(&h, x.status, x.body_bytes);
            co_return false;
        case exchange_result::next::keep_open: log_access(&h, x.status, x.body_bytes); co_return true;
        case exchange_result::next::close: log_access(&h, x.status, x.body_bytes); co_return false;
    }
    co_return false;
}

// Writes a response atsgate generates itself. `h` is null when the request head did not parse;
// `close`: the connection cannot continue (an unread body). True when the connection stays open.
net::awaitable<bool> connection::reply(const http::request_head* h, http::local_response r, bool close) {
    if (!request_) request_ = worker_.requests().acquire(limits());
    std::string& out = request_->to_client;
    // RFC 9112 section 9.6: also when the request asked for it (Connection: close, HTTP/1.0).
    close = http::local_response_closes(h, close) || worker_.draining();
    out.clear();
    const std::size_t body = http::write_local_response(r, close, h != nullptr && h->method == "HEAD", out);
    error_code ec;
    {
        auto deadline = deadlines_.guard(slot_main, phase::client_body, timeouts().body, client_.socket());
        ec = co_await client_.write_all(out);
    }
    out.clear();
    log_access(h, r.status, ec ? 0 : body);  // what was written ("400 Bad Request\n" too; nothing for HEAD)
    if (close && !ec) linger_ = true;  // the client may still be sending (a refused body, pipelined requests)
    co_return !ec && !close;
}

net::awaitable<void> connection::linger() {
    if (!request_) request_ = worker_.requests().acquire(limits());
    client_.shutdown_send();  // close_notify + FIN: the client knows the reply is complete
    const auto until = clock::now() + linger_total;
    for (auto now = clock::now(); now < until; now = clock::now()) {
        auto deadline = deadlines_.guard(slot_main, phase::client_body,
                                         std::min<clock::duration>(until - now, linger_pause), client_.socket());
        const auto space = request_->from_client.space();
        auto [ec, n] = co_await client_.socket().async_read_some(asio::buffer(space.data(), space.size()));
        if (ec) break;  // the client closed, reset, was silent for linger_pause, or a drain cancelled it
    }
    request_->from_client.clear();
}

void connection::log_access(const http::request_head* h, std::uint16_t status, std::uint64_t bytes) {
    auto& st = worker_.counters();
    if (status >= 100 && status < 600) stats::inc(st.responses[status / 100]);
    spdlog::logger* log = worker_.access_log();
    if (log == nullptr) return;
    const double total_ms = std::chrono::duration<double, std::milli>(clock::now() - request_->started).count();
    if (worker_.access_log_json()) {
        // The fields after "time" (the logger's pattern writes it and the braces); README "Logs".
        const bool head = h != nullptr;
        log->info("\"client\":{},\"method\":{},\"target\":{},\"version\":{},\"status\":{},\"bytes\":{},"
                  "\"rt\":{:.3f},\"ut\":{:.3f},\"tls_version\":{},\"tls_cipher\":{},\"listener\":{}",
                  util::json_quote(client_ip_), head ? util::json_quote(h->method) : "null",
                  head ? util::json_quote(h->target) : "null",
                  head ? util::json_quote("HTTP/" + std::to_string(h->version_major) + "." +
                                         std::to_string(h->version_minor))
                       : "null",
                  status, bytes, total_ms / 1000.0, head ? request_->upstream_ms / 1000.0 : 0.0,
                  util::json_quote(peer_.version), util::json_quote(peer_.cipher), util::json_quote(listener_cfg().name));
        return;
    }
    if (h != nullptr) {
        log->info("{} \"{} {} HTTP/{}.{}\" {} {} rt={:.3f} ut={:.3f} {} {} listener={}", client_ip_, h->method,
                  h->target, h->version_major, h->version_minor, status, bytes, total_ms / 1000.0,
                  request_->upstream_ms / 1000.0, peer_.version, peer_.cipher, listener_cfg().name);
    } else {
        log->info("{} \"-\" {} {} rt={:.3f} ut=0.000 {} {} listener={}", client_ip_, status, bytes,
                  total_ms / 1000.0, peer_.version, peer_.cipher, listener_cfg().name);
    }
}

}  // namespace

net::awaitable<void> serve(net::tcp_socket socket, net::tcp::endpoint peer, std::shared_ptr<const snapshot::snapshot> snap,
                           std::size_t listener, worker_context& worker) {
    auto& st = worker.counters();
    stats::inc(st.connections_active);
    struct active_guard {
        stats& s;
        connection_slots* slots;
        bool shed = false;  // closed by a shed at max_connections (ends that shed's flight)
        ~active_guard() {
            stats::dec(s.connections_active);
            if (slots != nullptr) slots->release(shed);  // taken by the accept loop
        }
    } guard{st, worker.slots()};
    const auto& lc = snap->cfg.listeners[listener];
    if (lc.proxy_protocol) {
        // Before TLS or HTTP: only the balancers may connect, and only with a PROXY header; its
        // address is the client's from here on (X-Forwarded-For, logs, refusals).
        proxy_outcome pp;
        if (!trusted_proxy_source(lc, peer))
            pp.refusal = static_cast<std::size_t>(proxy_refusal::untrusted_source);
        else
            pp = co_await read_proxy_header(socket, peer, snap->cfg.timeouts.handshake);
        if (pp.refusal != 0) {
            stats::inc(st.proxy_refused[pp.refusal]);
            const bool quiet = pp.refusal == static_cast<std::size_t>(proxy_refusal::closed) ||
                               pp.refusal == static_cast<std::size_t>(proxy_refusal::timeout);
            spdlog::log(quiet ? spdlog::level::debug : spdlog::level::info,
                        "proxy protocol refused: peer={}:{} listener={} reason={}", peer.address().to_string(),
                        peer.port(), lc.name, proxy_refusal_name(pp.refusal));
            net::error_code ec;
            socket.close(ec);
            co_return;
        }
        stats::inc(st.proxy_headers);
        if (pp.own_endpoints) stats::inc(st.proxy_local);
        peer = pp.client;
    }
    connection c(std::move(socket), peer, std::move(snap), listener, worker);
    co_await c.run();
    guard.shed = c.shed();
}

}  // namespace atsgate::downstream
