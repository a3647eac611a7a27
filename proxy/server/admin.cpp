#include "proxy/server/admin.hpp"

#include "proxy/http/request_parser.hpp"
#include "proxy/server/admin_session.hpp"
#include "proxy/server/dashboard.hpp"
#include "proxy/http/rewrite.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <chrono>
#include <ctime>
#include <optional>

namespace atsgate::server {

namespace {

namespace asio = net::asio;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t pos = 0;
    while (pos < path.size()) {
        if (path[pos] == '/') {
            ++pos;
            continue;
        }
        const auto end = path.find('/', pos);
        parts.push_back(path.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
        if (end == std::string_view::npos) break;
        pos = end;
    }
    return parts;
}

// "a=1&b=2" -> {(a,1),(b,2)}; false on anything that is not name=non-negative-integer.
bool parse_weights(std::string_view query, std::vector<std::pair<std::string, std::uint32_t>>& out) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0) return false;
        std::uint32_t w = 0;
        const auto v = item.substr(eq + 1);
        const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), w);
        if (ec != std::errc{} || ptr != v.data() + v.size() || w > 1000000) return false;
        out.emplace_back(std::string(item.substr(0, eq)), w);
    }
    return !out.empty();
}

// What the router needs of one request, copied out of the parser (its views do not outlive it).
struct admin_request {
    std::string method;
    std::string target;
    std::string authorization;  // "" if absent
    std::string cookie;         // "" if absent
    std::string origin;         // "" if absent
    std::string host;           // "" if absent
    std::string fetch_site;     // Sec-Fetch-Site, "" if absent
    std::string body;           // POST /login only
};

constexpr std::string_view session_cookie = "atsgate_session";
constexpr std::int64_t session_lifetime = 12 * 3600;
constexpr std::size_t max_form_body = 4096;

bool bearer_ok(const admin_request& rq, const std::string& token) {
    if (token.empty()) return true;
    const std::string_view auth = rq.authorization;
    if (auth.size() != 7 + token.size() || !http::iequals(auth.substr(0, 7), "bearer ")) return false;
    return CRYPTO_memcmp(auth.data() + 7, token.data(), token.size()) == 0;
}

bool session_ok(const admin_request& rq, const std::string& token, const session_keys& keys) {
    if (token.empty() || rq.cookie.empty()) return false;
    const auto v = cookie_value(rq.cookie, session_cookie);
    return v && keys.verify(*v, token, static_cast<std::int64_t>(std::time(nullptr)));
}

admin_reply text(std::uint16_t status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body), {}}; }

admin_reply html_page(std::uint16_t status, std::string body) {
    return {status, "text/html; charset=utf-8", std::move(body), {}};
}

admin_reply see_other(std::string_view location) {
    admin_reply r = text(303, "see " + std::string(location) + "\n");
    r.headers.emplace_back("Location", std::string(location));
    return r;
}

// A form POST from another site (login CSRF). Browsers send Sec-Fetch-Site; Origin is "null" on
// our own form because every admin answer says Referrer-Policy: no-referrer, so it only decides
// for browsers without Sec-Fetch-Site.
bool cross_site(const admin_request& rq) {
    if (!rq.fetch_site.empty()) return rq.fetch_site != "same-origin" && rq.fetch_site != "none";
    return !rq.origin.empty() && rq.origin != "null" && rq.origin != "http://" + rq.host;
}

// ?refresh=N (2..3600) for the dashboard's script; 15 otherwise.
unsigned refresh_of(std::string_view query) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.substr(0, 8) != "refresh=") continue;
        unsigned n = 0;
        const auto v = item.substr(8);
        const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec == std::errc{} && p == v.data() + v.size() && n >= 2 && n <= 3600) return n;
    }
    return 15;
}

admin_reply route(const admin_request& rq, const admin_handlers& hs, const session_keys& keys) {
    const std::string_view target = rq.target;
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    const bool get = rq.method == "GET" || rq.method == "HEAD";
    if (path == "/healthz") return text(200, "ok\n");
    if (path == "/readyz") {
        const bool d = hs.draining && hs.draining();
        return text(d ? 503 : 200, d ? "draining\n" : "ready\n");
    }
    if (path == "/login") {
        if (get) return hs.token.empty() || session_ok(rq, hs.token, keys) ? see_other("/") : html_page(200, render_login(""));
        if (rq.method != "POST") return text(405, "use GET or POST\n");
        if (cross_site(rq)) return text(403, "cross-site login refused\n");
        if (hs.token.empty()) return see_other("/");
        const auto given = form_field(rq.body, "token");
        if (!given || given->size() != hs.token.size() ||
            CRYPTO_memcmp(given->data(), hs.token.data(), hs.token.size()) != 0) {
            spdlog::warn("admin: dashboard login with a wrong token");
            return html_page(401, render_login("That is not the admin token."));
        }
        admin_reply r = see_other("/");
        r.headers.emplace_back("Set-Cookie", std::string(session_cookie) + "=" +
                                                 keys.mint(hs.token, static_cast<std::int64_t>(std::time(nullptr)),
                                                           session_lifetime) +
                                                 "; Path=/; Max-Age=" + std::to_string(session_lifetime) +
                                                 "; HttpOnly; SameSite=Strict");
        return r;
    }
    if (path == "/logout") {
        if (rq.method != "POST") return text(405, "use POST\n");
        admin_reply r = see_other("/");
        r.headers.emplace_back("Set-Cookie", std::string(session_cookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
        return r;
    }
    const bool by_bearer = bearer_ok(rq, hs.token);
    // The session cookie opens read-only pages only (see admin_session.hpp).
    const bool by_session = !by_bearer && get && (path == "/" || path == "/status") && session_ok(rq, hs.token, keys);
    if (!by_bearer && !by_session) {
        if (path == "/" && get) return html_page(401, render_login(""));
        return text(401, "missing or wrong bearer token\n");
    }
    if (path == "/" && get && hs.dashboard) return hs.dashboard(by_session, refresh_of(query));
    if (path == "/metrics" && get) return hs.metrics();
    if (path == "/status" && get) return hs.status();
    if (path == "/reload") {
        if (rq.method != "POST") return text(405, "use POST\n");
        return hs.reload();
    }
    const auto parts = split_path(path);
    if (parts.size() == 4 && parts[0] == "routes" && parts[3] == "weights") {
        if (rq.method != "POST" && rq.method != "PUT") return text(405, "use POST\n");
        std::vector<std::pair<std::string, std::uint32_t>> weights;
        if (!parse_weights(query, weights)) return text(400, "expected ?<upstream>=<weight>&... with weights 0..1000000\n");
        return hs.weights(parts[1], parts[2], weights);
    }
    return text(404, "not found\n");
}

admin_request copy_request(const http::request_head& h) {
    admin_request rq;
    rq.method = std::string(h.method);
    rq.target = std::string(h.target);
    auto field = [&](std::string_view name) { return std::string(http::find_header(h.headers, name).value_or("")); };
    rq.authorization = field("authorization");
    rq.cookie = field("cookie");
    rq.origin = field("origin");
    rq.host = field("host");
    rq.fetch_site = field("sec-fetch-site");
    return rq;
}

net::awaitable<void> session(net::tcp_socket socket, const admin_handlers& hs, const session_keys& keys) {
    http::limits lim;
    lim.header_bytes = 8192;
    lim.header_count = 50;
    lim.body_bytes = 64 * 1024;
    http::request_parser parser(lim);
    parser.reset();
    std::array<char, 4096> buf;
    net::steady_timer timer(socket.get_executor());
    timer.expires_after(5s);
    admin_reply reply = text(400, "bad request\n");
    bool head = false;
    std::optional<admin_request> rq;  // set at head_done; answered at once, or at message_done for a form
    bool want_body = false;
    for (bool done = false; !done;) {
        auto result = co_await (socket.async_read_some(asio::buffer(buf)) || timer.async_wait());
        if (result.index() != 0) co_return;  // timeout
        auto [ec, n] = std::get<0>(result);
        if (ec) co_return;
        std::size_t off = 0;
        while (!done) {
            const auto r = parser.feed({buf.data() + off, n - off});
            off += r.consumed;
            if (r.event == http::parse_event::head_done) {
                head = parser.head().method == "HEAD";
                rq = copy_request(parser.head());
                want_body = rq->method == "POST" && rq->target.substr(0, rq->target.find('?')) == "/login";
                if (!want_body) {
                    reply = route(*rq, hs, keys);
                    done = true;
                }
            } else if (r.event == http::parse_event::body) {
                for (const auto& span : parser.body_spans()) rq->body.append(span.data(), span.size());
                if (rq->body.size() > max_form_body) {
                    reply = text(413, "form too large\n");
                    done = true;
                }
            } else if (r.event == http::parse_event::message_done) {
                if (rq) reply = route(*rq, hs, keys);
                done = true;
            } else if (r.event == http::parse_event::error) {
                done = true;
            } else {
                break;  // need_more: everything given was consumed
            }
        }
    }
    const bool html = reply.content_type.rfind("text/html", 0) == 0;
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + std::string(http::reason_phrase(reply.status)) +
                      "\r\nContent-Type: " + reply.content_type + "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                      "\r\nCache-Control: no-store\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n"
                      "Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\nContent-Security-Policy: " +
                      (html ? dashboard_csp() : std::string("default-src 'none'; frame-ancestors 'none'")) + "\r\n";
    for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
    out += "\r\n";
    if (!head) out += reply.body;
    co_await asio::async_write(socket, asio::buffer(out), net::token);
    net::error_code ec;
    socket.shutdown(net::tcp::socket::shutdown_both, ec);
}

}  // namespace

net::awaitable<void> admin_loop(net::tcp_acceptor& acceptor, const admin_handlers& hs) {
    static const session_keys keys;  // one secret per process: sessions survive a reload, not a restart
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept();
        if (ec) {
            if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
            continue;
        }
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket), hs, keys), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("admin request failed: {}", ex.what());
            }
        });
    }
}

}  // namespace atsgate::server
