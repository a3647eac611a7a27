#include "proxy/downstream/connection.hpp"

#include "proxy/http/client_framing.hpp"
#include "proxy/http/local_response.hpp"
#include "proxy/http/request_parser.hpp"
#include "proxy/http/response_parser.hpp"
#include "proxy/http/rewrite.hpp"
#include "proxy/downstream/exchange_buffers.hpp"
#include "proxy/http/url_guard.hpp"
#include "proxy/net/errc.hpp"
#include "proxy/net/tls_stream.hpp"
#include "proxy/net/watchdog.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/peer_info.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::downstream {

namespace {

using namespace boost::asio::experimental::awaitable_operators;
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

constexpr std::size_t slot_main = 0;    // handshake, request head, response relay
constexpr std::size_t slot_upload = 1;  // request body upload, concurrent with the response relay
// Bytes of each plist/XML/JSON response body the plaintext URL guard scans.
constexpr std::uint64_t url_guard_budget = 1024 * 1024;

enum class failure : std::uint8_t {
    none,
    upstream_io,       // upstream read/write failed or closed early
    upstream_timeout,  // upstream_response / upstream_send deadline
    bad_response,      // codec refused the upstream response
    client_io,         // client write/read failed or timed out
    request_body,      // the request body was refused by the codec (status in upload_status_)
    cancelled,         // the other direction ended the exchange
};

struct download_result {
    failure fail = failure::none;
    bool retryable = false;          // nothing of a response arrived and nothing reached the client
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

// The client-side stream: TLS for https listeners, plaintext for SCEP listeners.
net::tls_stream make_stream(net::tcp_socket&& socket, const snapshot::listener_runtime& l) {
    if (l.kind == config::listener_kind::scep || !l.tls) return net::tls_stream(std::move(socket));
    return net::tls_stream(std::move(socket), *l.tls->ctx, net::tls_stream::role::server);
}

class connection {
public:
    connection(net::tcp_socket&& socket, const net::tcp::endpoint& peer, std::shared_ptr<const snapshot::snapshot> snap,
               std::size_t listener, worker_context& w)
        : snap_(std::move(snap)),
          listener_(listener),
          w_(w),
          wd_(socket.get_executor()),
          tls_(make_stream(std::move(socket), snap_->listeners[listener])) {
        client_ip_ = peer.address().to_string();
        client_port_ = peer.port();
    }

    net::awaitable<void> run() { co_await session(); }

private:
    const config::config& cfg() const noexcept { return snap_->cfg; }
    const config::timeout_settings& timeouts() const noexcept { return snap_->cfg.timeouts; }
    const config::listener& listener_cfg() const noexcept { return snap_->cfg.listeners[listener_]; }
    net::tcp_socket& client_socket() noexcept { return tls_.socket(); }

    net::awaitable<void> session();
    void handshake_failed(const error_code& ec);
    net::awaitable<bool> serve_one(bool first);
    net::awaitable<bool> exchange(const http::request_head& h, std::size_t upstream_index, bool complete);
    net::awaitable<bool> reply(const http::request_head* h, std::uint16_t status, bool close, std::string_view content_type,
                               std::string_view body, std::string_view location = {});
    net::awaitable<upload_result> upload(const http::request_head& h, upstream::lease& up);
    net::awaitable<download_result> download(const http::request_head& h, upstream::lease& up);
    net::awaitable<bool> flush_to_client(download_result& d);
    net::awaitable<bool> local_reply(const http::request_head* h, std::uint16_t status, bool close);
    net::awaitable<void> linger();
    // The codec limits of this connection's snapshot.
    http::limits limits() const noexcept {
        http::limits lim;
        lim.header_bytes = cfg().limits.header_bytes;
        lim.header_count = cfg().limits.header_count;
        lim.body_bytes = cfg().limits.body_bytes;
        lim.response_header_bytes = cfg().limits.response_header_bytes;
        return lim;
    }
    // Gives the request-time buffers back to the worker (nothing unread may be left in them).
    void release_buffers() noexcept {
        if (x_) w_.exchanges().release(std::move(x_));
        rpos_ = rend_ = 0;
    }
    void append_body(std::string& out, std::span<const http::body_span> spans, bool chunked);
    void log_access(const http::request_head* h, std::uint16_t status, std::uint64_t bytes, double upstream_ms);

    std::shared_ptr<const snapshot::snapshot> snap_;
    std::size_t listener_;
    worker_context& w_;
    net::watchdog wd_;
    net::tls_stream tls_;
    tls::handshake_record hs_;
    registry_node node_;

    std::string client_ip_;
    std::uint16_t client_port_ = 0;
    tls::peer_info peer_;  // what the handshake said about the client (version, suite, certificate)

    // Parsers and buffers, borrowed from the worker only while a request is in flight (null while
    // idle). rpos_/rend_ and upos_/uend_ index the unread bytes of x_->rbuf / x_->ubuf.
    std::unique_ptr<exchange_buffers> x_;
    std::size_t rpos_ = 0, rend_ = 0;
    std::size_t upos_ = 0, uend_ = 0;

    std::uint32_t requests_ = 0;
    std::string_view upstream_name_;        // of the current exchange, for logs
    bool guarding_ = false;
    config::duration response_timeout_{};  // of the current exchange's upstream
    clock::time_point request_start_{};
    double upstream_ms_ = 0;

    // Coordination of the two directions of one streamed exchange.
    bool upload_done_ = false;
    bool download_done_ = false;
    std::uint16_t upload_status_ = 0;  // status to answer when the request body was refused
    bool linger_ = false;  // a local reply closed the connection: linger() before closing
};

net::awaitable<void> connection::session() {
    if (!tls_.valid()) {
        spdlog::warn("client {}:{}: cannot create TLS state: {}", client_ip_, client_port_, tls_.ssl_error_text());
        tls_.close();
        co_return;
    }
    if (!tls_.plaintext()) {
        tls::set_handshake_record(tls_.native(), &hs_);
        wd_.arm(slot_main, phase::handshake, timeouts().handshake, client_socket());
        const error_code hec = co_await tls_.handshake();
        wd_.disarm(slot_main);
        tls::set_handshake_record(tls_.native(), nullptr);
        if (hec) {
            handshake_failed(hec);
            tls_.close();
            co_return;
        }
        // Device identity, once per connection (a resumed session carries the certificate too).
        peer_ = tls::peer_info::of(*tls_.native(), listener_cfg().client_auth != config::client_auth_mode::none,
                                   listener_cfg().cert_format);
        auto& st = w_.counters();
        stats::inc(st.handshakes);
        if (peer_.resumed) stats::inc(st.resumed_handshakes);
    }

    node_.socket = &client_socket();
    w_.connections().add(node_);
    struct unregister {
        worker_context& w;
        registry_node& n;
        ~unregister() { w.connections().remove(n); }
    } guard{w_, node_};

    bool first = true;
    for (;;) {
        if (!x_) {
            // Idle: wait for the next request's first byte without holding any buffer (and without
            // serve_one's frame: an idle connection costs its TLS state and this frame).
            if (w_.draining()) break;
            wd_.arm(slot_main, first ? phase::request_header : phase::keepalive,
                    first ? timeouts().request_header : timeouts().keepalive, client_socket());
            node_.idle = true;
            const error_code wec = co_await tls_.wait_readable();
            node_.idle = false;
            if (wec) break;
            x_ = w_.exchanges().acquire(limits());
            rpos_ = rend_ = 0;
        }
        if (!co_await serve_one(first)) break;
        first = false;
        // Idle between requests: hand the buffers back unless a pipelined request is already in them.
        if (rpos_ == rend_) release_buffers();
    }
    if (linger_) co_await linger();
    release_buffers();
    tls_.close();
}

net::awaitable<void> connection::linger() {
    if (!x_) x_ = w_.exchanges().acquire(limits());
    tls_.shutdown_send();  // close_notify + FIN: the client knows the reply is complete
    const auto until = clock::now() + linger_total;
    for (auto now = clock::now(); now < until; now = clock::now()) {
        wd_.arm(slot_main, phase::client_body, std::min<clock::duration>(until - now, linger_pause), client_socket());
        auto [ec, n] = co_await client_socket().async_read_some(asio::buffer(x_->rbuf.get(), io_buffer_size));
        wd_.disarm(slot_main);
        if (ec) break;  // the client closed, reset, was silent for linger_pause, or a drain cancelled it
    }
}

void connection::handshake_failed(const error_code& ec) {
    auto& st = w_.counters();
    tls::refusal reason = tls::classify_failure(hs_, tls_.ssl_reason());
    const bool timed_out = wd_.expired(slot_main) == phase::handshake;
    if (!hs_.hello_seen) {
        // Port scans, TCP health checks, plain-HTTP clients: no ClientHello, so nothing was refused.
        stats::inc(st.handshakes_aborted);
        spdlog::debug("handshake failed before a ClientHello: client={}:{} listener={} error={}{}", client_ip_,
                      client_port_, listener_cfg().name, timed_out ? "timeout" : ec.message(),
                      tls_.ssl_error_text().empty() ? "" : " (" + tls_.ssl_error_text() + ")");
        return;
    }
    stats::inc(st.refused[static_cast<std::size_t>(reason)]);
    const auto& o = hs_.hello;
    // When the gate refused, OpenSSL's own text is just "callback failed": the reason says it all.
    const bool gate = hs_.reason != tls::refusal::none;
    spdlog::info(
        "handshake refused: client={}:{} listener={} reason={} offered: max_version={} suites={} ems={} sni={}{}",
        client_ip_, client_port_, listener_cfg().name, tls::to_string(reason), tls::version_name(o.max_version),
        o.suite_count, o.ems ? "yes" : "no", o.sni[0] != '\0' ? o.sni.data() : "-",
        timed_out ? " (timeout)" : (gate || tls_.ssl_error_text().empty() ? "" : " (" + tls_.ssl_error_text() + ")"));
}

net::awaitable<bool> connection::serve_one(bool first) {
    request_start_ = clock::now();
    bool header_armed = false;
    if (first || rpos_ < rend_) {
        wd_.arm(slot_main, phase::request_header, timeouts().request_header, client_socket());
        header_armed = true;
    }
    auto& p = x_->req;
    p.reset();
    for (;;) {
        if (rpos_ == rend_) {
            if (!p.started()) {
                // Between requests (or before the first): nothing is lost by closing now.
                if (w_.draining()) co_return false;
                if (!first) wd_.arm(slot_main, phase::keepalive, timeouts().keepalive, client_socket());
                node_.idle = true;
            }
            auto [ec, n] = co_await tls_.read_some({x_->rbuf.get(), io_buffer_size});
            node_.idle = false;
            if (ec) {
                if (p.started())
                    spdlog::debug("client {}:{} left mid-request head: {}", client_ip_, client_port_,
                                  wd_.expired(slot_main) != phase::none ? "request_header timeout" : ec.message());
                co_return false;
            }
            rpos_ = 0;
            rend_ = n;
            if (!p.started()) request_start_ = clock::now();  // the request's clock starts at its first byte
            if (!header_armed) {
                wd_.arm(slot_main, phase::request_header, timeouts().request_header, client_socket());
                header_armed = true;
            }
        }
        const auto r = p.feed({x_->rbuf.get() + rpos_, rend_ - rpos_});
        rpos_ += r.consumed;
        if (r.event == http::parse_event::head_done) break;
        if (r.event == http::parse_event::error) {
            stats::inc(w_.counters().bad_requests);
            spdlog::debug("client {}:{}: bad request: {} ({})", client_ip_, client_port_,
                          http::make_error_code(p.error()).message(), p.error_reason());
            co_await local_reply(nullptr, http::status_for(p.error()), true);
            co_return false;
        }
    }
    wd_.disarm(slot_main);

    ++requests_;
    stats::inc(w_.counters().requests);
    upstream_ms_ = 0;
    const http::request_head& h = p.head();
    // A blue/green weight switch applies to the next request of kept-alive connections too (README:
    // "takes effect for new requests at once"): adopt the newest snapshot when it differs from ours
    // only in route weights (same config_generation: same listeners, upstreams, TLS contexts). A
    // reload is not adopted: the connection keeps the configuration it started with.
    if (const auto& latest = w_.latest_snapshot();
        latest && latest->generation > snap_->generation && latest->config_generation == snap_->config_generation)
        snap_ = latest;
    router::sticky_inputs sticky;
    sticky.client_cert_fingerprint = peer_.fingerprint;
    sticky.random = w_.random();
    const router::decision route = snap_->routes.match(listener_, h, sticky);
    if (route.what != router::decision::kind::forward) {
        // Answered here. A request body we do not read means the connection cannot continue.
        const bool close = h.body != http::framing::none;
        switch (route.what) {
            case router::decision::kind::static_reply:
                co_return co_await reply(&h, route.reply->status, close, route.reply->content_type, route.reply->body);
            case router::decision::kind::redirect: {
                std::string location(route.redirect_origin);
                location += h.target;
                co_return co_await reply(&h, 308, close, "text/plain; charset=utf-8", "", location);
            }
            case router::decision::kind::forbidden:
                co_return co_await local_reply(&h, 403, close);
            default:
                co_return co_await local_reply(&h, 404, close);
        }
    }

    x_->out.clear();
    http::upstream_request_context uctx;
    uctx.client_ip = client_ip_;
    uctx.proto = tls_.plaintext() ? "http" : "https";
    uctx.body = h.body;
    uctx.content_length = h.content_length;
    uctx.identity_header = listener_cfg().client_cert_header;
    uctx.identity_value = peer_.identity;
    http::write_upstream_request(h, uctx, x_->out);

    // Whatever of the body is already buffered travels with the head in one write; if that is the
    // whole body, the request is "complete" and can be re-sent after a stale pooled connection.
    bool complete = false;
    for (;;) {
        const auto r = p.feed({x_->rbuf.get() + rpos_, rend_ - rpos_});
        rpos_ += r.consumed;
        if (r.event == http::parse_event::body) {
            append_body(x_->out, p.body_spans(), h.body == http::framing::chunked);
            continue;
        }
        if (r.event == http::parse_event::message_done) {
            if (h.body == http::framing::chunked) x_->out += http::last_chunk;
            complete = true;
            break;
        }
        if (r.event == http::parse_event::error) {
            stats::inc(w_.counters().bad_requests);
            co_await local_reply(&h, http::status_for(p.error()), true);
            co_return false;
        }
        break;  // need_more: the rest of the body is streamed
    }
    co_return co_await exchange(h, route.upstream, complete);
}

void connection::append_body(std::string& out, std::span<const http::body_span> spans, bool chunked) {
    std::size_t total = 0;
    for (const auto& s : spans) total += s.size();
    if (total == 0) return;
    if (chunked) http::append_chunk_header(total, out);
    for (const auto& s : spans) out.append(s.data(), s.size());
    if (chunked) out += http::chunk_trailer;
}

net::awaitable<bool> connection::exchange(const http::request_head& h, std::size_t upstream_index, bool complete) {
    auto& st = w_.counters();
    const bool may_retry = complete && http::is_idempotent(h.method);
    const config::upstream& ucfg = cfg().upstreams[upstream_index];
    const snapshot::upstream_runtime& urt = snap_->upstreams[upstream_index];
    upstream::balancer& bal = w_.balancer_for(*snap_, upstream_index);
    upstream_name_ = ucfg.name;
    response_timeout_ = ucfg.response_timeout;
    std::uint64_t tried = 0;      // members that failed to connect in this exchange (first 64)
    std::uint16_t last_status = 502;
    bool stale_retry_used = false;
    const std::size_t max_attempts = std::min<std::size_t>(urt.members.size(), 3) + 1;

    for (std::size_t attempt = 0;; ++attempt) {
        const auto now = clock::now();
        const auto pick = bal.pick([&](std::size_t i) {
            return (i >= 64 || (tried & (std::uint64_t{1} << i)) == 0) && urt.members[i].health->usable(now);
        });
        if (!pick) {
            if (attempt == 0) {
                // Every member is down or ejected: answer at once instead of waiting on a dead backend.
                stats::inc(st.upstream_unavailable);
                spdlog::warn("upstream {}: no healthy member for {} {}", ucfg.name, h.method, h.target);
                co_return co_await local_reply(&h, 503, !complete);
            }
            co_return co_await local_reply(&h, last_status, !complete);
        }
        const snapshot::member_runtime& member = urt.members[*pick];
        upstream::pool& pool = w_.pool_for(member);
        upstream::lease up = pool.acquire();
        if (!up.reused()) {
            const error_code cec = co_await pool.connect(*up, wd_, slot_main, ucfg.connect_timeout);
            if (cec) {
                const bool timeout = wd_.expired(slot_main) == phase::upstream_connect;
                stats::inc(timeout ? st.upstream_timeouts : st.upstream_connect_errors);
                member.health->report_failure(clock::now(), ucfg.max_fails, ucfg.fail_timeout);
                spdlog::warn("upstream {}: connect failed: {}", member.target->id, timeout ? "timeout" : cec.message());
                last_status = timeout ? 504 : 502;
                if (*pick < 64) tried |= std::uint64_t{1} << *pick;
                // Nothing was sent yet: another member may take the request.
                if (attempt + 1 < max_attempts) continue;
                co_return co_await local_reply(&h, last_status, !complete);
            }
            member.health->report_success();
            stats::inc(st.upstream_connects);
        } else {
            stats::inc(st.upstream_reuses);
        }

        const auto sent_at = clock::now();
        wd_.arm(slot_main, phase::upstream_send, timeouts().body, up->socket());
        const error_code wec = co_await up->write_all(x_->out);
        wd_.disarm(slot_main);
        if (wec) {
            if (up.reused() && !stale_retry_used && may_retry) {
                stale_retry_used = true;
                stats::inc(st.upstream_retries);
                continue;
            }
            const bool timeout = wd_.expired(slot_main) != phase::none;
            stats::inc(timeout ? st.upstream_timeouts : st.upstream_connect_errors);
            spdlog::warn("upstream {}: sending request failed: {}", member.target->id, timeout ? "timeout" : wec.message());
            co_return co_await local_reply(&h, timeout ? 504 : 502, !complete);
        }

        download_result d;
        upload_done_ = complete;
        download_done_ = false;
        upload_status_ = 0;
        if (complete) {
            d = co_await download(h, up);
            if (d.retryable && up.reused() && !stale_retry_used && may_retry) {
                stale_retry_used = true;
                stats::inc(st.upstream_retries);
                spdlog::debug("upstream {}: pooled connection was stale, retrying once", member.target->id);
                continue;
            }
        } else {
            if (h.expect_continue && h.version_minor == 1) {
                // RFC 9110 section 10.1.1: atsgate answers 100-continue itself (Expect was not forwarded).
                wd_.arm(slot_main, phase::client_body, timeouts().body, client_socket());
                const error_code cec = co_await tls_.write_all(http::continue_response);
                wd_.disarm(slot_main);
                if (cec) {
                    stats::inc(st.client_aborts);
                    co_return false;
                }
            }
            auto [u, dd] = co_await (upload(h, up) && download(h, up));
            d = dd;
            if (u.fail == failure::request_body && !d.head_flushed) {
                stats::inc(st.bad_requests);
                co_return co_await local_reply(&h, upload_status_, true);
            }
            if (u.fail == failure::client_io) stats::inc(st.client_aborts);
        }
        upstream_ms_ = std::chrono::duration<double, std::milli>(clock::now() - sent_at).count();

        if (d.fail == failure::client_io) {
            stats::inc(st.client_aborts);
            log_access(&h, d.status, d.body_bytes, upstream_ms_);
            co_return false;
        }
        if (!d.head_flushed && d.fail != failure::none) {
            const bool timeout = d.fail == failure::upstream_timeout;
            if (timeout) stats::inc(st.upstream_timeouts);
            if (d.fail == failure::bad_response) stats::inc(st.upstream_bad_responses);
            co_return co_await local_reply(&h, timeout ? 504 : 502, !upload_done_);
        }
        up.set_reusable(d.upstream_reusable && upload_done_);
        log_access(&h, d.status, d.body_bytes, upstream_ms_);
        co_return d.complete && d.keep_client && upload_done_;
    }
}

net::awaitable<upload_result> connection::upload(const http::request_head& h, upstream::lease& up) {
    auto& p = x_->req;
    const bool chunked = h.body == http::framing::chunked;
    upload_result res;
    auto fail = [&](failure f) {
        res.fail = f;
        if (!download_done_) {
            error_code ec;
            up->socket().cancel(ec);  // stop the response relay: this exchange is over
        }
        return res;
    };
    bool need_input = rpos_ == rend_;  // after a body event the parser must be fed again, even empty
    for (;;) {
        if (need_input) {
            wd_.arm(slot_upload, phase::client_body, timeouts().body, client_socket());
            auto [ec, n] = co_await tls_.read_some({x_->rbuf.get(), io_buffer_size});
            wd_.disarm(slot_upload);
            if (ec) {
                if (download_done_) co_return fail(failure::cancelled);
                spdlog::debug("client {}:{}: request body aborted: {}", client_ip_, client_port_,
                              wd_.expired(slot_upload) != phase::none ? "body timeout" : ec.message());
                co_return fail(failure::client_io);
            }
            rpos_ = 0;
            rend_ = n;
        }
        const auto r = p.feed({x_->rbuf.get() + rpos_, rend_ - rpos_});
        need_input = r.event == http::parse_event::need_more;
        switch (r.event) {
            case http::parse_event::body: {
                const auto spans = p.body_spans();
                std::size_t total = 0;
                for (const auto& s : spans) total += s.size();
                x_->gather.clear();
                x_->chunk_head.clear();
                if (chunked && total > 0) {
                    http::append_chunk_header(total, x_->chunk_head);
                    x_->gather.push_back(asio::buffer(x_->chunk_head));
                }
                for (const auto& s : spans) x_->gather.push_back(asio::buffer(s.data(), s.size()));
                if (chunked && total > 0) x_->gather.push_back(asio::buffer(http::chunk_trailer));
                wd_.arm(slot_upload, phase::upstream_send, timeouts().body, up->socket());
                const error_code wec = co_await up->write_all(x_->gather, x_->coalesce);
                wd_.disarm(slot_upload);
                rpos_ += r.consumed;  // the spans pointed into rbuf_: consume only after writing
                if (wec) co_return fail(download_done_ ? failure::cancelled : failure::upstream_io);
                stats::inc(w_.counters().bytes_from_clients, total);
                break;
            }
            case http::parse_event::message_done: {
                rpos_ += r.consumed;
                if (chunked) {
                    wd_.arm(slot_upload, phase::upstream_send, timeouts().body, up->socket());
                    const error_code wec = co_await up->write_all(http::last_chunk);
                    wd_.disarm(slot_upload);
                    if (wec) co_return fail(download_done_ ? failure::cancelled : failure::upstream_io);
                }
                upload_done_ = true;
                co_return res;
            }
            case http::parse_event::error:
                rpos_ += r.consumed;
                upload_status_ = http::status_for(p.error());
                spdlog::debug("client {}:{}: request body refused: {}", client_ip_, client_port_,
                              http::make_error_code(p.error()).message());
                co_return fail(failure::request_body);
            default:
                rpos_ += r.consumed;
                break;
        }
    }
}

net::awaitable<bool> connection::flush_to_client(download_result& d) {
    if (x_->cout.empty()) co_return true;
    wd_.arm(slot_main, phase::client_body, timeouts().body, client_socket());
    const error_code ec = co_await tls_.write_all(x_->cout);
    wd_.disarm(slot_main);
    if (ec) {
        spdlog::debug("client {}:{}: response write failed: {}", client_ip_, client_port_,
                      wd_.expired(slot_main) != phase::none ? "timeout" : ec.message());
        d.fail = failure::client_io;
        co_return false;
    }
    d.head_flushed = true;
    x_->cout.clear();
    co_return true;
}

net::awaitable<download_result> connection::download(const http::request_head& h, upstream::lease& up) {
    auto& rp = x_->resp;
    auto& st = w_.counters();
    rp.reset(h.method);
    x_->cout.clear();
    upos_ = uend_ = 0;
    download_result d;
    http::framing client_framing = http::framing::none;
    bool committed = false;  // the client response head is in x_->cout (or already sent)

    auto finish = [&](download_result& r) {
        download_done_ = true;
        if (!upload_done_) {
            // The response ended (or failed) before the request body was fully read: stop reading it;
            // the client connection will be closed after this response.
            error_code ec;
            client_socket().cancel(ec);
        }
        r.body_bytes = rp.body_bytes();
        return r;
    };

    bool need_input = true;  // after a body/head event the parser must be fed again, even empty
    for (;;) {
        http::response_parser::result r;
        if (need_input) {
            // Hand what we have to the client before waiting on the backend again.
            if (committed && !x_->cout.empty() && !co_await flush_to_client(d)) co_return finish(d);
            wd_.arm(slot_main, phase::upstream_response, response_timeout_, up->socket());
            auto [ec, n] = co_await up->read_some({x_->ubuf.get(), io_buffer_size});
            wd_.disarm(slot_main);
            // A legacy backend closing TLS without close_notify ends a close-delimited body like a FIN.
            if (ec == asio::error::eof || ec == net::errc::truncated) {
                r = rp.finish();
            } else if (ec) {
                if (wd_.expired(slot_main) == phase::upstream_response) {
                    d.fail = failure::upstream_timeout;
                    spdlog::warn("upstream {}: response timeout for {} {}", upstream_name_, h.method, h.target);
                } else if (upload_status_ != 0 || (!upload_done_ && ec == asio::error::operation_aborted)) {
                    d.fail = failure::cancelled;
                } else {
                    d.fail = failure::upstream_io;
                    d.retryable = !rp.started() && !d.head_flushed;
                }
                co_return finish(d);
            } else {
                upos_ = 0;
                uend_ = n;
                r = rp.feed({x_->ubuf.get(), n});
                upos_ += r.consumed;
            }
        } else {
            r = rp.feed({x_->ubuf.get() + upos_, uend_ - upos_});
            upos_ += r.consumed;
        }
        need_input = r.event == http::parse_event::need_more;

        switch (r.event) {
            case http::parse_event::need_more: break;
            case http::parse_event::head_done: {
                const http::response_head& rh = rp.head();
                if (rh.status < 200) {
                    if (rh.status == 101) {  // we never forward Upgrade, so a 101 is a broken backend
                        d.fail = failure::bad_response;
                        co_return finish(d);
                    }
                    break;  // other interim responses are dropped; message_done follows
                }
                d.status = rh.status;
                const bool head_request = h.method == "HEAD";
                http::client_response_context cctx;
                if (head_request || rh.status == 204 || rh.status == 304) {
                    client_framing = http::framing::none;
                    if (rh.status != 204) {
                        if (auto cl = http::find_header(rh.headers, "content-length")) {
                            if (auto n = http::parse_content_length(*cl)) {  // describes the GET entity: keep it
                                cctx.body = http::framing::content_length;
                                cctx.content_length = *n;
                            }
                        }
                    }
                } else if (rh.body == http::framing::content_length) {
                    client_framing = http::framing::content_length;
                    cctx.body = client_framing;
                    cctx.content_length = rh.content_length;
                } else if (rh.body == http::framing::none) {
                    client_framing = http::framing::content_length;
                    cctx.body = client_framing;
                    cctx.content_length = 0;
                } else if (h.version_minor >= 1) {
                    client_framing = http::framing::chunked;  // chunked or close-delimited upstream
                    cctx.body = client_framing;
                } else {
                    client_framing = http::framing::until_close;  // HTTP/1.0 client: no chunked
                    cctx.body = client_framing;
                }
                const auto limit = cfg().limits.requests_per_connection;
                d.keep_client = h.keep_alive && !w_.draining() && upload_done_ &&
                                client_framing != http::framing::until_close && (limit == 0 || requests_ < limit);
                cctx.keep_alive = d.keep_client;
                cctx.request_host = h.host;
                x_->own_hosts.clear();
                if (!h.host.empty()) {
                    x_->own_hosts.push_back(h.host);
                    const auto bare = http::host_without_port(h.host);
                    if (bare.size() != h.host.size()) x_->own_hosts.push_back(bare);
                }
                for (const auto& oh : snap_->listeners[listener_].own_hosts) x_->own_hosts.push_back(oh);
                cctx.own_hosts = x_->own_hosts;
                const auto rw = http::write_client_response(rh, cctx, x_->cout);
                guarding_ = false;
                if (auto ct = http::find_header(rh.headers, "content-type"); ct && http::url_guard::applies(*ct)) {
                    guarding_ = true;
                    x_->guard.reset(url_guard_budget);
                }
                if (rw.location_rewritten) {
                    stats::inc(st.location_rewrites);
                    spdlog::info("rewrote plaintext Location to https for {} {} (listener {})", h.method, h.target,
                                 listener_cfg().name);
                }
                if (rw.plaintext_location) {
                    stats::inc(st.plaintext_locations);
                    spdlog::warn("upstream sent a plaintext http:// Location to a foreign host for {} {}", h.method,
                                 h.target);
                }
                committed = true;
                break;
            }
            case http::parse_event::body: {
                std::size_t total = 0;
                for (const auto& s : rp.body_spans()) total += s.size();
                append_body(x_->cout, rp.body_spans(), client_framing == http::framing::chunked);
                if (guarding_)
                    for (const auto& sp : rp.body_spans()) x_->guard.feed(sp);
                stats::inc(st.bytes_to_clients, total);
                if (x_->cout.size() >= io_buffer_size && !co_await flush_to_client(d)) co_return finish(d);
                break;
            }
            case http::parse_event::message_done: {
                if (rp.head().status < 200) {
                    rp.next_response();
                    break;
                }
                if (client_framing == http::framing::chunked) x_->cout += http::last_chunk;
                if (guarding_) {
                    x_->guard.finish();
                    if (x_->guard.plaintext() > 0) {
                        // Detection only: the body (possibly a signed profile) is relayed untouched.
                        stats::inc(st.plaintext_urls, x_->guard.plaintext());
                        spdlog::warn("plaintext URL guard: {} http:// URL(s) in the response to {} {} (first: {}); devices "
                                     "will refuse them under ATS",
                                     x_->guard.plaintext(), h.method, h.target, x_->guard.first());
                    }
                }
                if (!co_await flush_to_client(d)) co_return finish(d);
                d.complete = true;
                d.head_flushed = true;
                d.upstream_reusable = rp.head().keep_alive && upos_ == uend_;
                co_return finish(d);
            }
            case http::parse_event::error: {
                spdlog::warn("upstream {} sent a bad response to {} {}: {} ({})", upstream_name_, h.method, h.target, http::make_error_code(rp.error()).message(), rp.error_reason());
                d.fail = rp.started() ? failure::bad_response : failure::upstream_io;
                d.retryable = !rp.started() && !d.head_flushed;
                if (!d.head_flushed) x_->cout.clear();
                co_return finish(d);
            }
        }
    }
}

net::awaitable<bool> connection::reply(const http::request_head* h, std::uint16_t status, bool close,
                                        std::string_view content_type, std::string_view body, std::string_view location) {
    close = close || w_.draining();
    x_->cout.clear();
    http::local_response r;
    r.status = status;
    r.content_type = content_type;
    r.body = body;
    r.location = location;
    http::write_local_response(r, close, h != nullptr && h->method == "HEAD", x_->cout);
    if (status == 204 || status == 304) body = {};
    wd_.arm(slot_main, phase::client_body, timeouts().body, client_socket());
    const error_code ec = co_await tls_.write_all(x_->cout);
    wd_.disarm(slot_main);
    x_->cout.clear();
    log_access(h, status, body.size(), 0);
    if (close && !ec) linger_ = true;
    co_return !ec && !close;
}

net::awaitable<bool> connection::local_reply(const http::request_head* h, std::uint16_t status, bool close) {
    close = close || w_.draining();
    x_->cout.clear();
    http::local_response r;
    r.status = status;
    http::write_local_response(r, close, h != nullptr && h->method == "HEAD", x_->cout);
    wd_.arm(slot_main, phase::client_body, timeouts().body, client_socket());
    const error_code ec = co_await tls_.write_all(x_->cout);
    wd_.disarm(slot_main);
    x_->cout.clear();
    log_access(h, status, 0, upstream_ms_);
    if (close && !ec) linger_ = true;  // the client may still be sending (a refused body, pipelined requests)
    co_return !ec && !close;
}

void connection::log_access(const http::request_head* h, std::uint16_t status, std::uint64_t bytes, double upstream_ms) {
    auto& st = w_.counters();
    if (status >= 100 && status < 600) stats::inc(st.responses[status / 100]);
    spdlog::logger* log = w_.access_log();
    if (log == nullptr) return;
    const double total_ms = std::chrono::duration<double, std::milli>(clock::now() - request_start_).count();
    if (h != nullptr) {
        log->info("{} \"{} {} HTTP/{}.{}\" {} {} rt={:.3f} ut={:.3f} {} {} listener={}", client_ip_, h->method,
                  h->target, h->version_major, h->version_minor, status, bytes, total_ms / 1000.0,
                  upstream_ms / 1000.0, peer_.version, peer_.cipher, listener_cfg().name);
    } else {
        log->info("{} \"-\" {} 0 rt={:.3f} ut=0.000 {} {} listener={}", client_ip_, status, total_ms / 1000.0,
                  peer_.version, peer_.cipher, listener_cfg().name);
    }
}

}  // namespace

net::awaitable<void> serve(net::tcp_socket socket, net::tcp::endpoint peer, std::shared_ptr<const snapshot::snapshot> snap,
                           std::size_t listener, worker_context& worker) {
    auto& st = worker.counters();
    stats::inc(st.connections_active);
    struct active_guard {
        stats& s;
        ~active_guard() { stats::dec(s.connections_active); }
    } guard{st};
    connection c(std::move(socket), peer, std::move(snap), listener, worker);
    co_await c.run();
}

}  // namespace atsgate::downstream
