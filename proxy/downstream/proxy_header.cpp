#include "proxy/downstream/proxy_header.hpp"

#include "proxy/proxyproto/parser.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace atsgate::downstream {

namespace {

using namespace boost::asio::experimental::awaitable_operators;
namespace asio = net::asio;

std::array<std::uint8_t, 16> bytes_of(const asio::ip::address& a, bool& v6) {
    std::array<std::uint8_t, 16> out{};
    v6 = a.is_v6();
    if (v6) {
        out = a.to_v6().to_bytes();
    } else {
        const auto b = a.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), out.begin());
    }
    return out;
}

net::tcp::endpoint endpoint_of(const proxyproto::header& h) {
    if (h.fam == proxyproto::family::ipv4) {
        asio::ip::address_v4::bytes_type b{};
        std::copy(h.source.address.begin(), h.source.address.begin() + 4, b.begin());
        return {asio::ip::address_v4(b), h.source.port};
    }
    return {asio::ip::address_v6(h.source.address), h.source.port};
}

proxy_outcome refused(proxy_refusal r) {
    proxy_outcome o;
    o.refusal = static_cast<std::size_t>(r);
    return o;
}

}  // namespace

std::string_view proxy_refusal_name(std::size_t i) noexcept {
    switch (i) {
        case 0: return "";
        case 1: return "untrusted_source";
        case 2: return "timeout";
        case 3: return "closed";
        case 4: return "io_error";
        default: break;
    }
    if (i >= proxy_refusal_count) return "";
    return proxyproto::to_string(static_cast<proxyproto::errc>(i - proxy_refusal_first_errc));
}

bool trusted_proxy_source(const config::listener& l, const net::tcp::endpoint& peer) noexcept {
    bool v6 = false;
    const auto b = bytes_of(peer.address(), v6);
    for (const auto& c : l.proxy_protocol_from)
        if (c.contains(v6, b)) return true;
    return false;
}

net::awaitable<proxy_outcome> read_proxy_header(net::tcp_socket& socket, const net::tcp::endpoint& peer,
                                                std::chrono::milliseconds within) {
    // Header bytes already taken from the socket: all of them belong to the header (the parser's
    // need_more contract), so what is peeked next continues them.
    std::array<std::uint8_t, proxyproto::max_v2_length> buf;
    std::size_t have = 0;
    net::steady_timer timer(socket.get_executor());
    timer.expires_after(within);
    const int fd = socket.native_handle();
    // Bounded: every round either takes at least one byte (at most max_v2_length of them) or waits.
    for (std::size_t round = 0; round < 2 * proxyproto::max_v2_length + 2; ++round) {
        const ssize_t n = ::recv(fd, buf.data() + have, buf.size() - have, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) co_return refused(proxy_refusal::closed);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) co_return refused(proxy_refusal::io_error);
            auto r = co_await (socket.async_wait(net::tcp_socket::wait_read) || timer.async_wait());
            if (r.index() == 1) co_return refused(proxy_refusal::timeout);
            if (std::get<0>(std::get<0>(r))) co_return refused(proxy_refusal::io_error);
            continue;
        }
        const std::size_t total = have + static_cast<std::size_t>(n);
        const auto res = proxyproto::parse(std::span<const std::uint8_t>(buf.data(), total));
        if (res.st == proxyproto::status::invalid)
            co_return refused(static_cast<proxy_refusal>(proxy_refusal_first_errc + static_cast<std::size_t>(res.error)));
        // Take the header's bytes (done) or everything peeked (need_more: all of it is header).
        const std::size_t take = res.st == proxyproto::status::done ? res.hdr.length - have : static_cast<std::size_t>(n);
        std::size_t taken = 0;
        while (taken < take) {
            const ssize_t m = ::recv(fd, buf.data() + have + taken, take - taken, MSG_DONTWAIT);
            if (m < 0 && errno == EINTR) continue;
            if (m <= 0) co_return refused(proxy_refusal::io_error);  // peeked bytes are there: cannot happen
            taken += static_cast<std::size_t>(m);
        }
        have += take;
        if (res.st == proxyproto::status::need_more) {
            // Wait for more (what was peeked is taken, so readiness now means new bytes).
            auto r = co_await (socket.async_wait(net::tcp_socket::wait_read) || timer.async_wait());
            if (r.index() == 1) co_return refused(proxy_refusal::timeout);
            if (std::get<0>(std::get<0>(r))) co_return refused(proxy_refusal::io_error);
            continue;
        }
        proxy_outcome o;
        o.version = res.hdr.version;
        if (res.hdr.fam == proxyproto::family::none) {
            o.client = peer;
            o.own_endpoints = true;
        } else {
            o.client = endpoint_of(res.hdr);
        }
        co_return o;
    }
    co_return refused(proxy_refusal::io_error);
}

}  // namespace atsgate::downstream
