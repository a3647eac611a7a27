#include "proxy/net/tls_stream.hpp"

#include "proxy/net/errc.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <utility>

namespace atsgate::net {

namespace {

// A gathered write larger than this is sent before OpenSSL adds more records to it.
constexpr std::size_t gather_limit = 64 * 1024;

// The write BIO: appends what OpenSSL writes to the stream's out_ (never a retry, never a
// syscall). Created once, process lifetime; each stream's BIO is owned by its SSL object.
BIO_METHOD* gather_method(BIO_METHOD* (*make)()) {
    static BIO_METHOD* const m = make();
    return m;
}

}  // namespace

int tls_stream::bio_write(BIO* b, const char* data, size_t len, size_t* written) {
    auto* self = static_cast<tls_stream*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (self == nullptr) return 0;
    try {
        if (!self->pending()) {  // drained: start over
            self->out_.clear();
            self->out_sent_ = 0;
        }
        self->out_.append(data, len);
    } catch (const std::bad_alloc&) {
        return 0;  // OpenSSL reports SSL_ERROR_SYSCALL: the connection is dropped
    }
    *written = len;
    return 1;
}

long tls_stream::bio_ctrl(BIO* b, int cmd, long, void*) {
    switch (cmd) {
        case BIO_CTRL_FLUSH: return 1;  // sent by the stream after the SSL call
        case BIO_CTRL_WPENDING: {
            auto* self = static_cast<tls_stream*>(BIO_get_data(b));
            return self != nullptr ? static_cast<long>(self->out_.size() - self->out_sent_) : 0;
        }
        default: return 0;
    }
}

tls_stream::tls_stream(tcp_socket&& socket, SSL_CTX& ctx, role r) noexcept : socket_(std::move(socket)) {
    error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return;
    BIO_METHOD* method = gather_method([]() -> BIO_METHOD* {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "atsgate gathered writes");
        if (m == nullptr || BIO_meth_set_write_ex(m, &tls_stream::bio_write) != 1 ||
            BIO_meth_set_ctrl(m, &tls_stream::bio_ctrl) != 1 ||
            BIO_meth_set_create(m, [](BIO* b) { BIO_set_init(b, 1); return 1; }) != 1)
            return nullptr;  // never freed: one per process
        return m;
    });
    ssl_ = ossl::own(SSL_new(&ctx));
    auto wbio = method != nullptr ? ossl::own(BIO_new(method)) : ossl::ptr<BIO>();
    if (!ssl_ || !wbio || SSL_set_rfd(ssl_.get(), socket_.native_handle()) != 1) {
        ssl_error_ = ossl::drain_errors();
        ssl_.reset();
        return;
    }
    BIO_set_data(wbio.get(), this);  // the stream is never moved (not movable)
    SSL_set0_wbio(ssl_.get(), wbio.release());  // owned by the SSL object from here
    if (r == role::server) {
        SSL_set_accept_state(ssl_.get());
    } else {
        SSL_set_connect_state(ssl_.get());
    }
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

error_code tls_stream::send_pending(int flags) noexcept {
    while (pending()) {
        const ssize_t n = ::send(socket_.native_handle(), out_.data() + out_sent_, out_.size() - out_sent_,
                                 MSG_NOSIGNAL | flags);
        if (n > 0) {
            out_sent_ += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return asio::error::would_block;
        return error_code(n < 0 ? errno : EPIPE, boost::system::system_category());
    }
    // Drained: an idle connection holds no write buffer.
    out_.clear();
    out_.shrink_to_fit();
    out_sent_ = 0;
    return {};
}

awaitable<error_code> tls_stream::flush() {
    for (;;) {
        const error_code ec = send_pending();
        if (ec != asio::error::would_block) co_return ec;
        auto [wec] = co_await socket_.async_wait(tcp::socket::wait_write);
        if (wec) co_return wec;
    }
}

awaitable<error_code> tls_stream::handshake(bool stop_if_silent) {
    if (plain_) co_return error_code{};
    if (!ssl_) co_return errc::tls_resource;
    for (;;) {
        const int r = SSL_do_handshake(ssl_.get());
        error_code ec;
        const next n = r == 1 ? next::done : classify(r, ec, true);  // (before send(): errno)
        // A TLS 1.3 server's last call wrote only its session tickets: they wait for company.
        // Anything else (a flight, TLS 1.2's final flight, an alert) leaves now.
        if (r == 1 && pending() && SSL_is_server(ssl_.get()) == 1 && SSL_version(ssl_.get()) == TLS1_3_VERSION) {
            held_ = true;
            established_ = true;
            co_return error_code{};
        }
        error_code fec = pending() ? send_pending() : error_code{};
        if (r == 1) {
            if (fec == asio::error::would_block) fec = co_await flush();
            if (fec) co_return fec;
            established_ = true;
            co_return error_code{};
        }
        if (n == next::failed) co_return ec;  // an alert went out above as far as the socket took it
        if (fec == asio::error::would_block) fec = co_await flush();
        if (fec) co_return fec;
        if (n == next::done) continue;
        if (stop_if_silent && n == next::want_read && BIO_number_read(SSL_get_rbio(ssl_.get())) == 0)
            co_return asio::error::would_block;
        auto [wec] = co_await socket_.async_wait(wait_for(n));
        if (wec) co_return wec;
    }
}

awaitable<std::tuple<error_code, std::size_t>> tls_stream::read_some(std::span<char> into) {
    if (plain_) co_return co_await socket_.async_read_some(asio::buffer(into.data(), into.size()));
    if (!ssl_) co_return std::tuple{error_code(errc::tls_resource), std::size_t{0}};
    if (peeked_) co_return std::tuple{std::exchange(peeked_, error_code{}), std::size_t{0}};
    for (;;) {
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_.get(), into.data(), into.size(), &n);
        error_code ec;
        const next what = r == 1 ? next::done : classify(r, ec, false);  // (before send(): errno)
        if (what == next::want_read || what == next::want_write) held_ = false;  // never held over a wait
        // Post-handshake messages OpenSSL answered while reading (KeyUpdate), or an alert. (Held
        // tickets and what follows them leave with the response or the close.)
        error_code fec = pending() && !held_ ? send_pending() : error_code{};
        if (what == next::failed) co_return std::tuple{ec, std::size_t{0}};
        if (fec == asio::error::would_block) fec = co_await flush();
        if (fec) co_return std::tuple{fec, std::size_t{0}};
        if (what == next::done) co_return std::tuple{error_code{}, n};
        auto [wec] = co_await socket_.async_wait(wait_for(what));
        if (wec) co_return std::tuple{wec, std::size_t{0}};
    }
}

awaitable<error_code> tls_stream::wait_readable() {
    if (ssl_ && SSL_has_pending(ssl_.get()) == 1) co_return error_code{};
    if (held_) {
        // Right after the handshake: the request is most likely here already. One read (into
        // OpenSSL's buffer) saves the readiness wait; if nothing is here, the held tickets leave
        // before the wait instead of with the response.
        char byte;
        std::size_t n = 0;
        const int r = SSL_peek_ex(ssl_.get(), &byte, 1, &n);
        if (r == 1) co_return error_code{};
        error_code ec;
        const next what = classify(r, ec, false);
        held_ = false;
        if (what == next::failed) {
            peeked_ = ec;  // close_notify, EOF or an error: the next read_some reports it
            co_return error_code{};
        }
        if (const error_code fec = co_await flush()) co_return fec;
    }
    auto [ec] = co_await socket_.async_wait(tcp::socket::wait_read);
    co_return ec;
}

awaitable<error_code> tls_stream::write_all(std::span<const char> data) {
    if (plain_) {
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), token);
        co_return ec;
    }
    if (!ssl_) co_return errc::tls_resource;
    held_ = false;  // held tickets leave with this data, in the same segment
    while (!data.empty()) {
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl_.get(), data.data(), data.size(), &n);
        if (r == 1) {
            data = data.subspan(n);
            if (out_.size() - out_sent_ >= gather_limit)
                if (const error_code ec = co_await flush()) co_return ec;
            continue;
        }
        error_code ec;
        const next what = classify(r, ec, false);
        if (what == next::failed) {
            if (pending()) send_pending();  // an alert, as far as the socket takes it
            co_return ec;
        }
        if (const error_code fec = co_await flush()) co_return fec;
        if (what == next::done) continue;
        auto [wec] = co_await socket_.async_wait(wait_for(what));
        if (wec) co_return wec;
    }
    if (!pending()) co_return error_code{};
    error_code ec = send_pending();
    if (ec == asio::error::would_block) ec = co_await flush();
    co_return ec;
}

void tls_stream::send_close_notify() noexcept {
    if (!ssl_ || broken_ || !established_ || (SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) != 0) return;
    // One attempt at close_notify; we do not wait for the peer's (RFC 8446 section 6.1 allows
    // closing after sending ours).
    if (SSL_shutdown(ssl_.get()) < 0) ERR_clear_error();
}

void tls_stream::close() noexcept {
    send_close_notify();
    // Held tickets (a client that never sent a request) go first: it resumes next time. MSG_MORE
    // keeps the close_notify queued, so that close() sends it together with the FIN.
    if (pending()) send_pending(MSG_MORE);
    error_code ec;
    socket_.close(ec);  // no shutdown() first: nobody else holds the descriptor, close() sends the FIN
}

void tls_stream::shutdown_send() noexcept {
    send_close_notify();
    if (pending()) send_pending(MSG_MORE);  // the FIN of shutdown() joins it
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace atsgate::net
