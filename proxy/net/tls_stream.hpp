#pragma once
// proxy/net/: the Asio-driven pieces shared by both hops: this TLS stream over a non-blocking
// socket, the per-connection watchdog with its scoped deadlines (watchdog.hpp), the data-plane
// executor types (asio.hpp) and net::errc. May use: tls (ossl.hpp RAII), Asio. Used by upstream,
// cluster, downstream, listener, server.
//
// A TLS stream that lets OpenSSL read and write the socket directly (socket BIO on the
// non-blocking fd) and uses Asio only for readiness: on WANT_READ / WANT_WRITE it awaits
// socket.async_wait(). Compared with asio::ssl::stream this saves the BIO-pair copy and its two
// 17 KiB engine buffers per connection, and one syscall per record (OpenSSL read-ahead). The same
// pattern as nginx's ngx_ssl_recv / ngx_ssl_write.
//
// Safe with one io_context per thread: the "try, then wait for readiness" order cannot miss an edge,
// because the reactor only runs after the coroutine has queued its wait.
// One read and one write may be outstanding at the same time (full duplex); never two reads or two
// writes. Not thread-safe: everything runs on the owning io_context's thread.

#include "proxy/net/asio.hpp"
#include "tls/ossl.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <tuple>

namespace atsgate::net {

class tls_stream {
public:
    enum class role { server, client };

    // Plaintext mode (SCEP listeners, which Apple exempts from ATS): same interface, no TLS.
    explicit tls_stream(tcp_socket&& socket) noexcept : socket_(std::move(socket)), plain_(true) {}

    // Takes the connected socket; creates the SSL object from `ctx` (not retained beyond SSL's own
    // reference). Check valid(): false when OpenSSL could not allocate.
    tls_stream(tcp_socket&& socket, SSL_CTX& ctx, role r) noexcept;
    ~tls_stream() = default;
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;

    bool valid() const noexcept { return plain_ || ssl_ != nullptr; }
    bool plaintext() const noexcept { return plain_; }

    // Runs the handshake. Errors: errc::tls_handshake_failed (see ssl_reason()), asio errors from
    // the socket (operation_aborted when a watchdog cancelled it), eof / truncated if the peer left.
    awaitable<error_code> handshake();

    // Reads at least one byte of application data. Errors: asio::error::eof on close_notify,
    // errc::truncated on a TCP close without close_notify, errc::tls_protocol_error, socket errors.
    awaitable<std::tuple<error_code, std::size_t>> read_some(std::span<char> into);

    // Completes when application data may be readable (bytes buffered in OpenSSL or on the socket)
    // without needing a buffer, so idle connections hold none. Errors: socket errors
    // (operation_aborted when cancelled).
    awaitable<error_code> wait_readable();

    // Writes all of `data` (one or more TLS records). Errors as read_some.
    awaitable<error_code> write_all(std::span<const char> data);

    // Best effort, never waits: sends close_notify if the connection is healthy, then closes the socket.
    void close() noexcept;
    // Best effort, never waits: sends close_notify if the connection is healthy and half-closes the
    // socket (FIN); the peer's bytes can still be read from socket(). close() still has to follow.
    void shutdown_send() noexcept;

    tcp_socket& socket() noexcept { return socket_; }
    SSL* native() noexcept { return ssl_.get(); }  // null in plaintext mode

    // OpenSSL reason code (ERR_GET_REASON) and text of the last failure, for classification and logs.
    int ssl_reason() const noexcept { return ssl_reason_; }
    const std::string& ssl_error_text() const noexcept { return ssl_error_; }

private:
    // Maps an OpenSSL result to "wait for read/write" or a final error.
    enum class next { done, want_read, want_write, failed };
    next classify(int ret, error_code& ec, bool handshaking) noexcept;
    static tcp::socket::wait_type wait_for(next n) noexcept;  // want_read / want_write
    void send_close_notify() noexcept;  // once, if the connection is healthy; never waits

    tcp_socket socket_;
    ossl::ptr<SSL> ssl_;
    bool plain_ = false;   // no TLS at all
    bool broken_ = false;  // fatal error seen: never send close_notify (OpenSSL forbids SSL_shutdown)
    int ssl_reason_ = 0;
    std::string ssl_error_;
};

}  // namespace atsgate::net
