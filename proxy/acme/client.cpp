#include "proxy/acme/client.hpp"

#include "proxy/http/response_parser.hpp"
#include "proxy/net/errc.hpp"
#include "proxy/net/tls_stream.hpp"
#include "util/text.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>

#include <array>
#include <variant>

namespace atsgate::acme {
namespace asio = net::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t max_body = 1 << 20;
using resolver_t = net::token_t::as_default_on_t<net::tcp::resolver>;

std::string verb_name(http_request::verb v) {
    switch (v) {
        case http_request::verb::get: return "GET";
        case http_request::verb::head: return "HEAD";
        case http_request::verb::post: return "POST";
    }
    return "GET";
}

// The request without deadline; fetch() races it against a timer.
net::awaitable<std::pair<std::string, http_response>> exchange(SSL_CTX& ctx, const https_url& u,
                                                               const http_request& req, const std::string& ua) {
    using result = std::pair<std::string, http_response>;
    auto ex = co_await asio::this_coro::executor;
    const std::string where = u.host + ":" + std::to_string(u.port);
    resolver_t resolver(ex);
    auto [rec, endpoints] = co_await resolver.async_resolve(u.host, std::to_string(u.port));
    if (rec) co_return result{"resolve " + u.host + ": " + rec.message(), {}};

    net::tcp_socket sock(ex);
    net::error_code ec = asio::error::host_not_found;
    for (const auto& e : endpoints) {
        net::error_code ignored;
        if (sock.is_open()) sock.close(ignored);
        auto [cec] = co_await sock.async_connect(e.endpoint());
        ec = cec;
        if (!ec) break;
        if (ec == asio::error::operation_aborted) break;
    }
    if (ec) co_return result{"connect " + where + ": " + ec.message(), {}};

    net::tls_stream tls(std::move(sock), ctx, net::tls_stream::role::client);
    if (!tls.valid()) co_return result{"TLS: cannot create a connection: " + tls.ssl_error_text(), {}};
    SSL* ssl = tls.native();
    net::error_code aec;
    asio::ip::make_address(u.host, aec);
    const bool is_ip = !aec;
    if (!is_ip) SSL_set_tlsext_host_name(ssl, u.host.c_str());
    const int host_ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u.host.c_str())
                              : SSL_set1_host(ssl, u.host.c_str());
    if (host_ok != 1) co_return result{"TLS: cannot set the name to verify: " + ossl::drain_errors(), {}};
    if (auto hec = co_await tls.handshake()) {
        std::string why = tls.ssl_error_text().empty() ? hec.message() : tls.ssl_error_text();
        const long v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK) why = std::string("certificate of ") + where + " not trusted: " +
                                  X509_verify_cert_error_string(v);
        co_return result{"TLS handshake with " + where + ": " + why, {}};
    }

    std::string head = verb_name(req.method) + " " + u.target + " HTTP/1.1\r\nHost: " + u.host +
                       (u.port != 443 ? ":" + std::to_string(u.port) : std::string{}) + "\r\nUser-Agent: " + ua +
                       "\r\nAccept-Language: en\r\nConnection: close\r\n";
    if (!req.accept.empty()) head += "Accept: " + req.accept + "\r\n";
    if (req.method == http_request::verb::post)
        head += "Content-Type: application/jose+json\r\nContent-Length: " + std::to_string(req.body.size()) + "\r\n";
    head += "\r\n";
    head += req.body;
    if (auto wec = co_await tls.write_all(head)) co_return result{"send to " + where + ": " + wec.message(), {}};

    http::limits lim;
    lim.response_header_bytes = 64 * 1024;
    http::response_parser parser(lim);
    parser.reset(req.method == http_request::verb::head ? "HEAD" : verb_name(req.method));
    http_response resp;
    std::array<char, 8192> buf;
    bool done = false;
    while (!done) {
        auto [rdec, n] = co_await tls.read_some(buf);
        std::span<const char> in(buf.data(), rdec ? 0 : n);
        if (rdec) {
            if (rdec != asio::error::eof && rdec != net::error_code(net::errc::truncated))
                co_return result{"read from " + where + ": " + rdec.message(), {}};
            auto f = parser.finish();
            if (f.event != http::parse_event::message_done)
                co_return result{"the connection to " + where + " closed inside the response", {}};
            for (auto s : parser.body_spans()) resp.body.append(s.data(), s.size());
            break;
        }
        while (!in.empty() || !done) {
            auto r = parser.feed(in);
            in = in.subspan(r.consumed);
            if (r.event == http::parse_event::error)
                co_return result{"invalid HTTP response from " + where + ": " + std::string(parser.error_reason()), {}};
            if (r.event == http::parse_event::head_done) {
                const auto& h = parser.head();
                if (h.status >= 100 && h.status < 200) continue;
                resp.status = h.status;
                if (auto v = http::find_header(h.headers, "Location")) resp.location = std::string(*v);
                if (auto v = http::find_header(h.headers, "Replay-Nonce")) resp.replay_nonce = std::string(*v);
                if (auto v = http::find_header(h.headers, "Retry-After")) resp.retry_after = std::string(*v);
                continue;
            }
            if (r.event == http::parse_event::body) {
                for (auto s : parser.body_spans()) resp.body.append(s.data(), s.size());
                if (resp.body.size() > max_body) co_return result{"response from " + where + " larger than 1 MiB", {}};
                continue;
            }
            if (r.event == http::parse_event::message_done) {
                if (parser.head().status >= 100 && parser.head().status < 200) {
                    parser.next_response();
                    continue;
                }
                done = true;
                break;
            }
            break;  // need_more
        }
    }
    tls.close();
    co_return result{std::string{}, std::move(resp)};
}

}  // namespace

ossl::ptr<SSL_CTX> make_client_context(const std::string& ca_file, std::string& err) {
    auto ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        err = "cannot create a TLS context: " + ossl::drain_errors();
        return {};
    }
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!ca_file.empty()) {
        if (SSL_CTX_load_verify_file(ctx.get(), ca_file.c_str()) != 1) {
            err = "cannot load the ACME CA bundle " + ca_file + ": " + ossl::drain_reason();
            return {};
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
        err = "cannot load the system trust store: " + ossl::drain_reason();
        return {};
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    ERR_clear_error();
    return ctx;
}

https_client::https_client(asio::any_io_executor ex, ossl::ptr<SSL_CTX> ctx, std::string user_agent)
    : ex_(std::move(ex)), ctx_(std::move(ctx)), user_agent_(std::move(user_agent)) {}

net::awaitable<std::pair<std::string, http_response>> https_client::fetch(const http_request& req,
                                                                          std::chrono::milliseconds timeout) {
    using result = std::pair<std::string, http_response>;
    auto u = parse_https_url(req.url);
    if (!u) co_return result{"not an https URL: " + req.url, {}};
    net::steady_timer timer(ex_);
    timer.expires_after(timeout);
    auto r = co_await (exchange(*ctx_, *u, req, user_agent_) || timer.async_wait());
    if (r.index() == 1)
        co_return result{verb_name(req.method) + " " + req.url + ": no complete answer within " +
                             std::to_string(timeout.count()) + " ms",
                         {}};
    co_return std::get<0>(std::move(r));
}

net::awaitable<order_outcome> run_order(https_client& client, order_flow& flow, challenge_board& board,
                                        std::chrono::milliseconds request_timeout,
                                        std::function<std::int64_t()> now_ms, std::function<double()> random01,
                                        std::function<void(const std::string&)> log) {
    auto say = [&](const std::string& line) {
        if (log) log(line);
    };
    order_outcome out;
    net::steady_timer timer(co_await asio::this_coro::executor);
    step s = flow.start(now_ms());
    bool published = false;
    for (;;) {
        switch (s.what) {
            case step::kind::send: {
                say(verb_name(s.request.method) + " " + s.request.url);
                auto [err, resp] = co_await client.fetch(s.request, request_timeout);
                if (!err.empty()) {
                    say("  transport error: " + err);
                    s = flow.on_transport_error(err, now_ms(), random01());
                } else {
                    say("  -> " + std::to_string(resp.status) + (resp.location.empty() ? "" : " " + util::log_safe(resp.location)));
                    s = flow.on_response(resp, now_ms());
                }
                break;
            }
            case step::kind::wait: {
                say("  wait " + std::to_string(s.wait_ms) + " ms");
                timer.expires_after(std::chrono::milliseconds(s.wait_ms));
                co_await timer.async_wait();
                s = flow.resume(now_ms());
                break;
            }
            case step::kind::publish: {
                std::string err;
                for (const auto& t : s.tasks)
                    say("  publish " + std::string(to_string(t.kind)) + " for " + t.domain + " (token " + t.token + ")");
                if (!board.publish(s.tasks, now_ms() / 1000, err)) {
                    out.error = "cannot publish the challenges: " + err;
                    board.withdraw(flow.tasks());
                    co_return out;
                }
                published = true;
                s = flow.published(now_ms());
                break;
            }
            case step::kind::done:
            case step::kind::failed: {
                if (published) board.withdraw(flow.tasks());
                out.ok = s.what == step::kind::done;
                out.certificate_pem = std::move(s.certificate_pem);
                out.error = std::move(s.error);
                out.retry_after_s = s.retry_after_s;
                out.account_url = flow.account_url();
                out.renewal_info_url = flow.dir().renewal_info;
                say(out.ok ? "  certificate issued" : "  order failed: " + out.error);
                co_return out;
            }
        }
    }
}

net::awaitable<ari_answer> fetch_renewal_info(https_client& client, const std::string& renewal_info_url,
                                              const std::string& cert_id, std::chrono::milliseconds timeout,
                                              std::int64_t now_s) {
    ari_answer a;
    std::string url = renewal_info_url;
    if (!url.empty() && url.back() != '/') url += '/';
    url += cert_id;
    // A named request, not a temporary in the co_await: GCC 12 destroys such a temporary from a
    // bitwise copy in the coroutine frame (free() of a pointer into the frame; see poll_ari).
    const http_request req{http_request::verb::get, url, {}, {}};
    auto fetched = co_await client.fetch(req, timeout);
    const std::string& err = fetched.first;
    const http_response& resp = fetched.second;
    if (!err.empty()) {
        a.error = err;
        a.poll_after_s = 3600;
        co_return a;
    }
    a.poll_after_s = ari_poll_interval(parse_retry_after(resp.retry_after, now_s));
    if (resp.status != 200) {
        a.error = "GET " + url + ": HTTP " + std::to_string(resp.status);
        co_return a;
    }
    a.window = parse_renewal_info(resp.body);
    if (!a.window) a.error = "GET " + url + ": no usable suggestedWindow";
    co_return a;
}

}  // namespace atsgate::acme
