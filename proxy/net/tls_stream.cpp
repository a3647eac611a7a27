#include "proxy/net/tls_stream.hpp"

#include "proxy/net/errc.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>

#include <cerrno>

namespace atsgate::net {

tls_stream::tls_stream(tcp_socket&& socket, SSL_CTX& ctx, role r) noexcept : socket_(std::move(socket)) {
    error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return;
    ssl_ = ossl::own(SSL_new(&ctx));
    if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.native_handle()) != 1) {
        ssl_error_ = ossl::drain_errors();
        ssl_.reset();
        return;
    }
    if (r == role::server)
        SSL_set_accept_state(ssl_.get());
    else
        SSL_set_connect_state(ssl_.get());
}

tls_stream::next tls_stream::classify(int ret, error_code& ec, bool handshaking) noexcept {
    const int err = SSL_get_error(ssl_.get(), ret);
    switch (err) {
        case SSL_ERROR_WANT_READ: return next::want_read;
        case SSL_ERROR_WANT_WRITE: return next::want_write;
        case SSL_ERROR_ZERO_RETURN:  // close_notify received
            ec = asio::error::eof;
            return next::failed;
        case SSL_ERROR_SYSCALL: {
            const int e = errno;
            broken_ = true;
            ssl_error_ = ossl::drain_errors();
            ec = e != 0 ? error_code(e, boost::system::system_category()) : error_code(errc::truncated);
            return next::failed;
        }
        default: {  // SSL_ERROR_SSL and anything unexpected
            broken_ = true;
            const unsigned long first = ERR_peek_error();
            ssl_reason_ = ERR_GET_REASON(first);
            ssl_error_ = ossl::drain_errors();
            if (ssl_reason_ == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                ec = errc::truncated;
            else
                ec = handshaking ? errc::tls_handshake_failed : errc::tls_protocol_error;
            return next::failed;
        }
    }
}

tcp::socket::wait_type tls_stream::wait_for(next n) noexcept {
    return n == next::want_write ? tcp::socket::wait_write : tcp::socket::wait_read;
}

awaitable<error_code> tls_stream::handshake() {
    if (plain_) co_return error_code{};
    if (!ssl_) co_return errc::tls_resource;
    for (;;) {
        const int r = SSL_do_handshake(ssl_.get());
        if (r == 1) co_return error_code{};
        error_code ec;
        const next n = classify(r, ec, true);
        if (n == next::failed) co_return ec;
        if (n == next::done) co_return error_code{};
        auto [wec] = co_await socket_.async_wait(wait_for(n));
        if (wec) co_return wec;
    }
}

awaitable<std::tuple<error_code, std::size_t>> tls_stream::read_some(std::span<char> into) {
    if (plain_) co_return co_await socket_.async_read_some(asio::buffer(into.data(), into.size()));
    if (!ssl_) co_return std::tuple{error_code(errc::tls_resource), std::size_t{0}};
    for (;;) {
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_.get(), into.data(), into.size(), &n);
        if (r == 1) co_return std::tuple{error_code{}, n};
        error_code ec;
        const next what = classify(r, ec, false);
        if (what == next::failed) co_return std::tuple{ec, std::size_t{0}};
        if (what == next::done) co_return std::tuple{error_code{}, n};
        auto [wec] = co_await socket_.async_wait(wait_for(what));
        if (wec) co_return std::tuple{wec, std::size_t{0}};
    }
}

awaitable<error_code> tls_stream::wait_readable() {
    if (ssl_ && SSL_has_pending(ssl_.get()) == 1) co_return error_code{};
    auto [ec] = co_await socket_.async_wait(tcp::socket::wait_read);
    co_return ec;
}

awaitable<error_code> tls_stream::write_all(std::span<const char> data) {
    if (plain_) {
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), token);
        co_return ec;
    }
    if (!ssl_) co_return errc::tls_resource;
    while (!data.empty()) {
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl_.get(), data.data(), data.size(), &n);
        if (r == 1) {
            data = data.subspan(n);
            continue;
        }
        error_code ec;
        const next what = classify(r, ec, false);
        if (what == next::failed) co_return ec;
        if (what == next::done) continue;
        auto [wec] = co_await socket_.async_wait(wait_for(what));
        if (wec) co_return wec;
    }
    co_return error_code{};
}

void tls_stream::send_close_notify() noexcept {
    if (ssl_ && !broken_ && SSL_is_init_finished(ssl_.get()) && (SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) == 0) {
        // One non-blocking attempt at close_notify; we do not wait for the peer's (RFC 8446 section 6.1
        // allows closing after sending ours).
        if (SSL_shutdown(ssl_.get()) < 0) ERR_clear_error();
    }
}

void tls_stream::close() noexcept {
    send_close_notify();
    error_code ec;
    socket_.close(ec);  // no shutdown() first: nobody else holds the descriptor, close() sends the FIN
}

void tls_stream::shutdown_send() noexcept {
    send_close_notify();
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace atsgate::net
