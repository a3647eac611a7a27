#include "proxy/upstream/connection.hpp"

#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace atsgate::upstream {

net::awaitable<net::error_code> connection::start_tls(SSL_CTX& ctx, const std::string& sni, const std::string& verify_name) {
    tls_.emplace(std::move(plain_), ctx, net::tls_stream::role::client);
    if (!tls_->valid()) co_return net::error_code(net::asio::error::no_memory);
    SSL* ssl = tls_->native();
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
    if (!verify_name.empty()) SSL_set1_host(ssl, verify_name.c_str());
    ERR_clear_error();
    co_return co_await tls_->handshake();
}

net::awaitable<std::tuple<net::error_code, std::size_t>> connection::read_some(std::span<char> into) {
    if (tls_) co_return co_await tls_->read_some(into);
    co_return co_await plain_.async_read_some(net::asio::buffer(into.data(), into.size()));
}

net::awaitable<net::error_code> connection::write_all(std::span<const char> data) {
    if (tls_) co_return co_await tls_->write_all(data);
    auto [ec, n] = co_await net::asio::async_write(plain_, net::asio::buffer(data.data(), data.size()), net::token);
    co_return ec;
}

net::awaitable<net::error_code> connection::write_all(const std::vector<net::asio::const_buffer>& pieces,
                                                      std::string& scratch) {
    if (tls_) {
        scratch.clear();
        for (const auto& b : pieces) scratch.append(static_cast<const char*>(b.data()), b.size());
        co_return co_await tls_->write_all(scratch);
    }
    auto [ec, n] = co_await net::asio::async_write(plain_, pieces, net::token);
    co_return ec;
}

bool connection::still_usable() noexcept {
    net::tcp_socket& s = socket();
    if (!s.is_open()) return false;
    char byte;
    const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;  // nothing pending: healthy
    if (n == 0 || !tls_) return false;  // EOF; or stray bytes on plain HTTP (a second response)
    // TLS: bytes may be post-handshake messages (session tickets). Let OpenSSL consume them; any
    // application data or alert means the connection is not clean.
    SSL* ssl = tls_->native();
    char buf[1];
    std::size_t got = 0;
    const int r = SSL_read_ex(ssl, buf, sizeof buf, &got);
    if (r == 1) return false;  // unsolicited application data
    const int e = SSL_get_error(ssl, r);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_READ;
}

void connection::close() noexcept {
    if (tls_) {
        tls_->close();
        return;
    }
    net::error_code ec;
    plain_.shutdown(net::tcp::socket::shutdown_both, ec);
    plain_.close(ec);
}

}  // namespace atsgate::upstream
