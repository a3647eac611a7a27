#pragma once
// proxy/net/: the Asio-driven pieces shared by both hops: this TLS stream over a non-blocking
// socket, the per-connection watchdog with its scoped deadlines (watchdog.hpp), the data-plane
// executor types (asio.hpp) and net::errc. May use: tls (ossl.hpp RAII), Asio. Used by upstream,
// cluster, downstream, listener, server.
//
// A TLS stream that lets OpenSSL read the socket directly (socket BIO on the non-blocking fd, one
// syscall per flight with read-ahead) and uses Asio only for readiness: on WANT_READ it awaits
// socket.async_wait(). Compared with asio::ssl::stream this saves the BIO-pair copy and its two
// 17 KiB engine buffers per connection. The same pattern as nginx's ngx_ssl_recv.
//
// Writes are gathered: OpenSSL's records go into out_ (a BIO that only appends) and the stream
// sends them with one send() per operation, so records produced together leave in one segment:
// a TLS 1.3 server's NewSessionTicket with the first response, every record of a large write, a
// close_notify with the FIN (MSG_MORE, then close()). out_ holds nothing between operations (an
// idle connection keeps no buffer).
//
// TLS 1.3 session tickets (server role), which OpenSSL writes as the handshake completes, are
// held in out_ instead of leaving in a flight of their own: they go with the first response, or
// with the close_notify, or just before the stream would wait for the client (so a connection
// idle before its first request holds nothing). The first wait for a request tries a read first:
// the request usually follows the client's Finished at once.
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
    // With `stop_if_silent`, it returns asio::error::would_block instead of waiting when the peer has
    // not sent a single byte yet, so that the caller can wait for the first byte itself (a server
    // counts that wait as idle); calling handshake() again continues. The first attempt costs no
    // wait when the bytes are there already (TCP_DEFER_ACCEPT on the listener).
    awaitable<error_code> handshake(bool stop_if_silent = false);

    // Reads at least one byte of application data. Errors: asio::error::eof on close_notify,
    // errc::truncated on a TCP close without close_notify, errc::tls_protocol_error, socket errors.
    awaitable<std::tuple<error_code, std::size_t>> read_some(std::span<char> into);

    // Completes when application data may be readable (bytes buffered in OpenSSL or on the socket)
    // without needing a buffer, so idle connections hold none. Errors: socket errors
    // (operation_aborted when cancelled). Right after a TLS 1.3 server handshake it first reads
    // what is there already (the request, or an alert that the next read_some reports).
    awaitable<error_code> wait_readable();

    // Writes all of `data` (one or more TLS records). Errors as read_some.
    awaitable<error_code> write_all(std::span<const char> data);

    // Best effort, never waits: sends close_notify if the connection is healthy (after any held
    // session tickets), then closes the socket; the FIN travels in the close_notify's segment.
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

    // The write BIO's callbacks (data: this stream).
    static int bio_write(BIO* b, const char* data, size_t len, size_t* written);
    static long bio_ctrl(BIO* b, int cmd, long num, void* ptr);
    bool pending() const noexcept { return out_sent_ < out_.size(); }
    // Sends what is in out_ without waiting: {} when all of it left, would_block, or the socket error.
    error_code send_pending(int flags = 0) noexcept;
    // Sends all of out_, waiting for the socket to become writable as often as needed.
    awaitable<error_code> flush();

    tcp_socket socket_;
    ossl::ptr<SSL> ssl_;
    bool plain_ = false;        // no TLS at all
    bool broken_ = false;       // fatal error seen: never send close_notify (OpenSSL forbids SSL_shutdown)
    bool established_ = false;  // the handshake completed
    bool held_ = false;         // out_ holds TLS 1.3 tickets waiting for company (see above)
    std::string out_;           // records OpenSSL wrote and the socket did not take yet
    std::size_t out_sent_ = 0;  // of out_, already sent
    error_code peeked_;         // what the first read found instead of data, for the next read_some
    int ssl_reason_ = 0;
    std::string ssl_error_;
};

}  // namespace atsgate::net
