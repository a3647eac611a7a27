#include "proxy/downstream/upstream_exchange.hpp"

#include "proxy/cluster/member_choice.hpp"
#include "proxy/http/client_framing.hpp"
#include "proxy/http/rewrite.hpp"
#include "proxy/http/url_guard.hpp"
#include "proxy/net/errc.hpp"
#include "util/host_port.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <tuple>
#include <utility>

namespace atsgate::downstream {

namespace {

using namespace boost::asio::experimental::awaitable_operators;
namespace asio = net::asio;
using net::error_code;
using net::phase;
using clock = std::chrono::steady_clock;

// Bytes of each plist/XML/JSON response body the plaintext URL guard scans.
constexpr std::uint64_t url_guard_budget = 1024 * 1024;

// Appends body spans to `out`, as one chunk when `chunked`.
void append_body(std::string& out, std::span<const http::body_span> spans, bool chunked) {
    std::size_t total = 0;
    for (const auto& s : spans) total += s.size();
    if (total == 0) return;
    if (chunked) http::append_chunk_header(total, out);
    for (const auto& s : spans) out.append(s.data(), s.size());
    if (chunked) out += http::chunk_trailer;
}

}  // namespace


net::awaitable<exchange_result> upstream_exchange::run(bool complete) {
    const bool may_retry = complete && http::is_idempotent(h_.method);
    bool stale_retry_used = false;
    const std::size_t max_attempts = std::min<std::size_t>(urt_.members.size(), 3) + 1;

    for (std::size_t attempt = 0;; ++attempt) {
        // 1. Choose a member; 2. lease a pooled connection or connect a new one.
        const auto pick = choose();
        if (!pick) co_return local(last_status_, !complete);
        const snapshot::member_runtime& member = urt_.members[pick->index];
        upstream::lease up = c_.worker.upstreams().pool_for(member).acquire();
        if (up.reused()) {
            stats::inc(stats_.upstream_reuses);
        } else if (!co_await connect(*pick, up)) {
            // Nothing was sent yet: another member may take the request.
            if (attempt + 1 < max_attempts) continue;
            co_return local(last_status_, !complete);
        }

        // 3. Send the head (and the buffered body).
        const auto sent_at = clock::now();
        {
            auto send = c_.deadlines.guard(slot_main, phase::upstream_send, c_.snap.cfg.timeouts.body, up->socket());
            if (const error_code ec = co_await up->write_all(rq_.to_upstream)) {
                if (up.reused() && !stale_retry_used && may_retry) {
                    stale_retry_used = true;
                    stats::inc(stats_.upstream_retries);
                    continue;
                }
                const bool timeout = send.expired();
                stats::inc(timeout ? stats_.upstream_timeouts : stats_.upstream_connect_errors);
                spdlog::warn("upstream {}: sending request failed: {}", member.target->id,
                             timeout ? "timeout" : ec.message());
                co_return local(timeout ? 504 : 502, !complete);
            }
        }
        // The body bytes that travelled with the head are forwarded now (once, whatever the retries);
        // upload() counts the rest as it streams them.
        if (rq_.body_with_head != 0) stats::inc(stats_.bytes_from_clients, std::exchange(rq_.body_with_head, 0));

        // 4. Relay: the response down, the rest of the body up.
        rq_.upload_done = complete;
        rq_.download_done = false;
        rq_.body_status = 0;
        if (!complete && h_.expect_continue && h_.version_minor == 1) {
            // RFC 9110 section 10.1.1: atsgate answers 100-continue itself (Expect was not forwarded).
            auto write = c_.deadlines.guard(slot_main, phase::client_body, c_.snap.cfg.timeouts.body, c_.stream.socket());
            if (co_await c_.stream.write_all(http::continue_response)) {
                stats::inc(stats_.client_aborts);
                co_return exchange_result{next::client_gone};
            }
        }
        download_result d;
        upload_result u;
        if (complete) {
            d = co_await download(up);
        } else {
            std::tie(u, d) = co_await (upload(up) && download(up));
            if (u.fail == failure::client_io || u.fail == failure::client_timeout) stats::inc(stats_.client_aborts);
        }
        if (complete && d.retryable && up.reused() && !stale_retry_used && may_retry) {
            stale_retry_used = true;
            stats::inc(stats_.upstream_retries);
            spdlog::debug("upstream {}: pooled connection was stale, retrying once", member.target->id);
            continue;
        }
        // Logged here, after the retry decision: a pooled connection that the backend closed just as
        // the request left (the keep-alive race) and that the retry recovered is no operator's concern.
        if (d.closed_unanswered)
            spdlog::warn("upstream {} closed the connection before sending a response to {} {}", ucfg_.name,
                         h_.method, h_.target);
        else if (d.read_error)
            spdlog::warn("upstream {}: reading the response to {} {} failed{}: {}", member.target->id, h_.method,
                         h_.target, d.head_flushed ? " after part of it reached the client" : "",
                         d.read_error.message());
        rq_.upstream_ms = std::chrono::duration<double, std::milli>(clock::now() - sent_at).count();

        // 5. What the connection does next.
        co_return conclude(d, u, up);
    }
}

std::optional<upstream_exchange::choice> upstream_exchange::choose() {
    const auto now = clock::now();
    const auto c = cluster::choose_member(
        balancer_, [&](std::size_t i) { return urt_.members[i].health->usable(now); },
        [&](std::size_t i) { return i < 64 && (tried_ & (std::uint64_t{1} << i)) != 0; });
    if (!c.index) return std::nullopt;
    if (c.panic) {
        if (!panicked_) stats::inc(stats_.upstream_unavailable);  // once per request
        panicked_ = true;
        if (balancer_.enter_panic())
            spdlog::warn("upstream {}: every member is down or ejected; trying them anyway (panic mode)", ucfg_.name);
    } else if (balancer_.leave_panic()) {
        spdlog::info("upstream {}: a member is usable again; panic mode over", ucfg_.name);
    }
    return choice{*c.index, c.panic};
}

net::awaitable<bool> upstream_exchange::connect(const choice& pick, upstream::lease& up) {
    const snapshot::member_runtime& member = urt_.members[pick.index];
    upstream::pool& pool = c_.worker.upstreams().pool_for(member);
    if (const error_code ec = co_await pool.connect(*up, c_.deadlines, slot_main, ucfg_.connect_timeout)) {
        const bool timeout = c_.deadlines.expired(slot_main) == phase::upstream_connect;
        stats::inc(timeout ? stats_.upstream_timeouts : stats_.upstream_connect_errors);
        member.health->report_failure(clock::now(), ucfg_.max_fails, ucfg_.fail_timeout);
        spdlog::warn("upstream {}: connect failed: {}", member.target->id, timeout ? "timeout" : ec.message());
        last_status_ = timeout ? 504 : 502;
        if (pick.index < 64) tried_ |= std::uint64_t{1} << pick.index;
        co_return false;
    }
    if (pick.panic)
        member.health->readmit();  // it is back: end its ejection now, not at fail_timeout
    else
        member.health->report_success();
    stats::inc(stats_.upstream_connects);
    co_return true;
}

exchange_result upstream_exchange::conclude(const download_result& d, const upload_result& u, upstream::lease& up) {
    if (rq_.body_status != 0 && !d.head_flushed) {
        stats::inc(stats_.bad_requests);
        return local(rq_.body_status, true);
    }
    if (!d.head_flushed && u.fail == failure::client_timeout) return local(408, true);  // RFC 9110 15.5.9
    if (!d.head_flushed && u.fail == failure::client_io) return exchange_result{next::client_gone};
    if (d.fail == failure::client_io) {
        stats::inc(stats_.client_aborts);
        return exchange_result{next::client_gone, d.status, false, true, d.body_bytes};
    }
    if (!d.head_flushed && d.fail != failure::none) {
        const bool timeout = d.fail == failure::upstream_timeout;
        if (timeout) stats::inc(stats_.upstream_timeouts);
        if (d.fail == failure::bad_response) stats::inc(stats_.upstream_bad_responses);
        return local(timeout ? 504 : 502, !rq_.upload_done);
    }
    up.set_reusable(d.upstream_reusable && rq_.upload_done);
    const bool keep = d.complete && d.keep_client && rq_.upload_done;
    return exchange_result{keep ? next::keep_open : next::close, d.status, false, true, d.body_bytes};
}

net::awaitable<upload_result> upstream_exchange::upload(upstream::lease& up) {
    auto& p = rq_.parser;
    auto& in = rq_.from_client;
    const bool chunked = h_.body == http::framing::chunked;
    const auto body_timeout = c_.snap.cfg.timeouts.body;
    upload_result res;
    auto fail = [&](failure f) {
        res.fail = f;
        if (!rq_.download_done) {
            error_code ec;
            up->socket().cancel(ec);  // stop the response relay: this exchange is over
        }
        return res;
    };
    bool need_input = in.empty();  // after a body event the parser must be fed again, even empty
    for (;;) {
        if (need_input) {
            auto wait = c_.deadlines.guard(slot_upload, phase::client_body, body_timeout, c_.stream.socket());
            auto [ec, n] = co_await c_.stream.read_some(in.space());
            if (ec) {
                if (rq_.download_done) co_return fail(failure::cancelled);
                spdlog::debug("client {}:{}: request body aborted: {}", c_.client_ip, c_.client_port,
                              wait.expired() ? "body timeout" : ec.message());
                co_return fail(wait.expired() ? failure::client_timeout : failure::client_io);
            }
            in.filled(n);
        }
        const auto r = p.feed(in.unread());
        need_input = r.event == http::parse_event::need_more;
        switch (r.event) {
            case http::parse_event::body: {
                const auto spans = p.body_spans();
                std::size_t total = 0;
                for (const auto& s : spans) total += s.size();
                rq_.gather.clear();
                rq_.chunk_head.clear();
                if (chunked && total > 0) {
                    http::append_chunk_header(total, rq_.chunk_head);
                    rq_.gather.push_back(asio::buffer(rq_.chunk_head));
                }
                for (const auto& s : spans) rq_.gather.push_back(asio::buffer(s.data(), s.size()));
                if (chunked && total > 0) rq_.gather.push_back(asio::buffer(http::chunk_trailer));
                error_code ec;
                {
                    auto write = c_.deadlines.guard(slot_upload, phase::upstream_send, body_timeout, up->socket());
                    ec = co_await up->write_all(rq_.gather, rq_.coalesce);
                }
                in.consume(r.consumed);  // the spans pointed into the window: consume only after writing
                if (ec) co_return fail(rq_.download_done ? failure::cancelled : failure::upstream_io);
                stats::inc(stats_.bytes_from_clients, total);
                break;
            }
            case http::parse_event::message_done: {
                in.consume(r.consumed);
                if (chunked) {
                    auto write = c_.deadlines.guard(slot_upload, phase::upstream_send, body_timeout, up->socket());
                    if (co_await up->write_all(http::last_chunk))
                        co_return fail(rq_.download_done ? failure::cancelled : failure::upstream_io);
                }
                rq_.upload_done = true;
                // The request is sent: the response wait, if one is pending, starts now.
                if (rq_.response_wait != nullptr)
                    rq_.response_wait->rearm(phase::upstream_response, ucfg_.response_timeout);
                co_return res;
            }
            case http::parse_event::error:
                in.consume(r.consumed);
                rq_.body_status = http::status_for(p.error());
                spdlog::debug("client {}:{}: request body refused: {}", c_.client_ip, c_.client_port,
                              http::make_error_code(p.error()).message());
                co_return fail(failure::request_body);
            default:
                in.consume(r.consumed);
                break;
        }
    }
}

net::awaitable<bool> upstream_exchange::flush_to_client(download_result& d) {
    if (rq_.to_client.empty()) co_return true;
    auto write = c_.deadlines.guard(slot_main, phase::client_body, c_.snap.cfg.timeouts.body, c_.stream.socket());
    if (const error_code ec = co_await c_.stream.write_all(rq_.to_client)) {
        spdlog::debug("client {}:{}: response write failed: {}", c_.client_ip, c_.client_port,
                      write.expired() ? "timeout" : ec.message());
        d.fail = failure::client_io;
        co_return false;
    }
    d.head_flushed = true;
    rq_.to_client.clear();
    co_return true;
}

download_result& upstream_exchange::end_download(download_result& d) {
    rq_.download_done = true;
    if (!rq_.upload_done) {
        // The response ended (or failed) before the request body was fully read: stop reading it;
        // the client connection will be closed after this response.
        error_code ec;
        c_.stream.socket().cancel(ec);
    }
    d.body_bytes = rq_.response.body_bytes();
    return d;
}

// A final response head arrived: choose the client framing, write the client head to to_client.
void upstream_exchange::start_response(download_result& d) {
    const http::response_head& rh = rq_.response.head();
    d.status = rh.status;
    framing_ = http::choose_client_framing(h_.method, h_.version_minor, rh);
    http::keep_alive_inputs keep;
    keep.client_keep_alive = h_.keep_alive;
    keep.request_body_read = rq_.upload_done;
    keep.relay = framing_.relay;
    keep.draining = c_.worker.draining();
    keep.served = c_.served;
    keep.limit = c_.snap.cfg.limits.requests_per_connection;
    d.keep_client = http::client_stays_open(keep);

    http::client_response_context cctx;
    cctx.body = framing_.declared;
    cctx.content_length = framing_.content_length;
    cctx.keep_alive = d.keep_client;
    cctx.request_host = h_.host;
    rq_.own_hosts.clear();
    if (!h_.host.empty()) {
        rq_.own_hosts.push_back(h_.host);
        const auto bare = util::host_without_port(h_.host);
        if (bare.size() != h_.host.size()) rq_.own_hosts.push_back(bare);
    }
    for (const auto& oh : c_.snap.listeners[c_.listener].own_hosts) rq_.own_hosts.push_back(oh);
    cctx.own_hosts = rq_.own_hosts;
    const auto rw = http::write_client_response(rh, cctx, rq_.to_client);
    guarding_ = false;
    if (auto ct = http::find_header(rh.headers, "content-type"); ct && http::url_guard::applies(*ct)) {
        guarding_ = true;
        rq_.guard.reset(url_guard_budget);
    }
    if (rw.location_rewritten) {
        stats::inc(stats_.location_rewrites);
        spdlog::info("rewrote plaintext Location to https for {} {} (listener {})", h_.method, h_.target,
                     c_.snap.cfg.listeners[c_.listener].name);
    }
    if (rw.plaintext_location) {
        stats::inc(stats_.plaintext_locations);
        spdlog::warn("upstream sent a plaintext http:// Location to a foreign host for {} {}", h_.method, h_.target);
    }
}

void upstream_exchange::relay_body(download_result&) {
    const auto spans = rq_.response.body_spans();
    std::size_t total = 0;
    for (const auto& s : spans) total += s.size();
    append_body(rq_.to_client, spans, framing_.relay == http::framing::chunked);
    if (guarding_)
        for (const auto& sp : spans) rq_.guard.feed(sp);
    stats::inc(stats_.bytes_to_clients, total);
}

void upstream_exchange::finish_response() {
    if (framing_.relay == http::framing::chunked) rq_.to_client += http::last_chunk;
    if (!guarding_) return;
    rq_.guard.finish();
    if (rq_.guard.plaintext() > 0) {
        // Detection only: the body (possibly a signed profile) is relayed untouched.
        stats::inc(stats_.plaintext_urls, rq_.guard.plaintext());
        spdlog::warn("plaintext URL guard: {} http:// URL(s) in the response to {} {} (first: {}); devices "
                     "will refuse them under ATS",
                     rq_.guard.plaintext(), h_.method, h_.target, rq_.guard.first());
    }
}

net::awaitable<download_result> upstream_exchange::download(upstream::lease& up) {
    auto& rp = rq_.response;
    auto& in = rq_.from_upstream;
    rp.reset(h_.method);
    rq_.to_client.clear();
    in.clear();
    download_result d;
    bool committed = false;  // the client response head is in to_client (or already sent)

    bool need_input = true;  // after a body/head event the parser must be fed again, even empty
    bool eof = false;        // the upstream closed; r comes from rp.finish()
    for (;;) {
        http::response_parser::result r;
        if (need_input) {
            // Hand what we have to the client before waiting on the backend again.
            if (committed && !rq_.to_client.empty() && !co_await flush_to_client(d)) co_return end_download(d);
            // response_timeout counts from the end of the request (nginx's proxy_read_timeout): while
            // the body is still uploading, this wait has no deadline of its own (the upload's
            // timeouts.body bounds its pauses) and upload() starts it when the request is sent. A
            // response that arrives early is relayed all the same.
            const bool sent = rq_.upload_done;
            auto wait = c_.deadlines.guard(slot_main, phase::upstream_response,
                                           sent ? clock::duration(ucfg_.response_timeout) : clock::duration::max(),
                                           up->socket());
            rq_.response_wait = sent ? nullptr : &wait;
            auto [ec, n] = co_await up->read_some(in.space());
            rq_.response_wait = nullptr;
            // A legacy backend closing TLS without close_notify ends a close-delimited body like a FIN.
            if (ec == asio::error::eof || ec == net::errc::truncated) {
                eof = true;
                r = rp.finish();
            } else if (ec) {
                if (wait.fired() == phase::upstream_response) {
                    d.fail = failure::upstream_timeout;
                    spdlog::warn("upstream {}: response timeout for {} {}", ucfg_.name, h_.method, h_.target);
                } else if (rq_.body_status != 0 || (!rq_.upload_done && ec == asio::error::operation_aborted)) {
                    d.fail = failure::cancelled;
                } else {
                    d.fail = failure::upstream_io;
                    d.read_error = ec;
                    d.retryable = !rp.started() && !d.head_flushed;
                }
                co_return end_download(d);
            } else {
                in.filled(n);
                r = rp.feed(in.unread());
                in.consume(r.consumed);
            }
        } else {
            r = rp.feed(in.unread());
            in.consume(r.consumed);
        }
        need_input = r.event == http::parse_event::need_more;

        switch (r.event) {
            case http::parse_event::need_more: break;
            case http::parse_event::head_done:
                if (rp.head().status < 200) {
                    if (rp.head().status == 101) {  // we never forward Upgrade, so a 101 is a broken backend
                        d.fail = failure::bad_response;
                        co_return end_download(d);
                    }
                    break;  // other interim responses are dropped; message_done follows
                }
                start_response(d);
                committed = true;
                break;
            case http::parse_event::body:
                relay_body(d);
                if (rq_.to_client.size() >= io_buffer_size && !co_await flush_to_client(d)) co_return end_download(d);
                break;
            case http::parse_event::message_done:
                if (rp.head().status < 200) {
                    rp.next_response();
                    break;
                }
                finish_response();
                if (!co_await flush_to_client(d)) co_return end_download(d);
                d.complete = true;
                d.head_flushed = true;
                d.upstream_reusable = rp.head().keep_alive && in.empty();
                co_return end_download(d);
            case http::parse_event::error:
                // started() counts bytes the parser consumed, so at EOF it is false exactly when not one
                // byte of a response arrived: nothing malformed, the connection just closed (run() logs it).
                d.closed_unanswered = eof && !rp.started();
                if (!d.closed_unanswered)
                    spdlog::warn("upstream {} sent a bad response to {} {}: {} ({})", ucfg_.name, h_.method,
                                 h_.target, http::make_error_code(rp.error()).message(), rp.error_reason());
                // Bytes that are no response (garbage at offset 0 leaves started() false) are a bad
                // response like any other: counted as one and never retried as if the connection were stale.
                d.fail = d.closed_unanswered ? failure::upstream_io : failure::bad_response;
                d.retryable = d.closed_unanswered && !d.head_flushed;
                if (!d.head_flushed) rq_.to_client.clear();
                co_return end_download(d);
        }
    }
}

}  // namespace atsgate::downstream
