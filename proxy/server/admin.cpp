#include "proxy/server/admin.hpp"

#include "proxy/http/request_parser.hpp"
#include "proxy/http/rewrite.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <chrono>

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

bool authorized(const http::request_head& h, const std::string& token) {
    if (token.empty()) return true;
    const auto auth = http::find_header(h.headers, "authorization");
    if (!auth || auth->size() != 7 + token.size() || !http::iequals(auth->substr(0, 7), "bearer ")) return false;
    return CRYPTO_memcmp(auth->data() + 7, token.data(), token.size()) == 0;
}

admin_reply route(const http::request_head& h, const admin_handlers& hs) {
    const std::string_view target = h.target;
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/readyz") {
        const bool d = hs.draining && hs.draining();
        return {static_cast<std::uint16_t>(d ? 503 : 200), "text/plain; charset=utf-8", d ? "draining\n" : "ready\n"};
    }
    if (!authorized(h, hs.token)) return {401, "text/plain; charset=utf-8", "missing or wrong bearer token\n"};
    const bool get = h.method == "GET" || h.method == "HEAD";
    if (path == "/metrics" && get) return hs.metrics();
    if (path == "/status" && get) return hs.status();
    if (path == "/reload") {
        if (h.method != "POST") return {405, "text/plain; charset=utf-8", "use POST\n"};
        return hs.reload();
    }
    const auto parts = split_path(path);
    if (parts.size() == 4 && parts[0] == "routes" && parts[3] == "weights") {
        if (h.method != "POST" && h.method != "PUT") return {405, "text/plain; charset=utf-8", "use POST\n"};
        std::vector<std::pair<std::string, std::uint32_t>> weights;
        if (!parse_weights(query, weights))
            return {400, "text/plain; charset=utf-8", "expected ?<upstream>=<weight>&... with weights 0..1000000\n"};
        return hs.weights(parts[1], parts[2], weights);
    }
    return {404, "text/plain; charset=utf-8", "not found\n"};
}

net::awaitable<void> session(net::tcp_socket socket, const admin_handlers& hs) {
    http::limits lim;
    lim.header_bytes = 8192;
    lim.header_count = 50;
    lim.body_bytes = 64 * 1024;
    http::request_parser parser(lim);
    parser.reset();
    std::array<char, 4096> buf;
    net::steady_timer timer(socket.get_executor());
    timer.expires_after(5s);
    admin_reply reply{400, "text/plain; charset=utf-8", "bad request\n"};
    bool head = false;
    for (bool done = false; !done;) {
        auto result = co_await (socket.async_read_some(asio::buffer(buf)) || timer.async_wait());
        if (result.index() != 0) co_return;  // timeout
        auto [ec, n] = std::get<0>(result);
        if (ec) co_return;
        std::size_t off = 0;
        while (off < n && !done) {
            const auto r = parser.feed({buf.data() + off, n - off});
            off += r.consumed;
            if (r.event == http::parse_event::head_done) {
                head = parser.head().method == "HEAD";
                reply = route(parser.head(), hs);
                done = true;
            } else if (r.event == http::parse_event::error) {
                done = true;
            }
        }
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + std::string(http::reason_phrase(reply.status)) +
                      "\r\nContent-Type: " + reply.content_type + "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                      "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
    if (!head) out += reply.body;
    co_await asio::async_write(socket, asio::buffer(out), net::token);
    net::error_code ec;
    socket.shutdown(net::tcp::socket::shutdown_both, ec);
}

}  // namespace

net::awaitable<void> admin_loop(net::tcp_acceptor& acceptor, const admin_handlers& hs) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept();
        if (ec) {
            if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
            continue;
        }
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket), hs), [](std::exception_ptr e) {
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
