#pragma once
// One connection to an upstream member: plain TCP or TLS (the internal hop toward a legacy
// backend may be https://). Single-threaded (the worker's). One read and one write may be pending
// at the same time.

#include "proxy/net/asio.hpp"
#include "proxy/net/tls_stream.hpp"

#include <boost/asio/buffer.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace atsgate::upstream {

class connection {
public:
    explicit connection(const net::asio::any_io_executor& ex) : plain_(ex) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // The TCP socket (for connect, watchdog cancellation and options).
    net::tcp_socket& socket() noexcept { return tls_ ? tls_->socket() : plain_; }

    // After the TCP connect: runs a TLS client handshake with `ctx`, sending `sni` (may be empty) and,
    // when `verify_name` is not empty, checking the certificate against it (ctx decides whether
    // verification is enforced). Errors: net errc / socket errors.
    net::awaitable<net::error_code> start_tls(SSL_CTX& ctx, const std::string& sni, const std::string& verify_name);

    net::awaitable<std::tuple<net::error_code, std::size_t>> read_some(std::span<char> into);
    net::awaitable<net::error_code> write_all(std::span<const char> data);
    // Gathered write: one writev on plain TCP; on TLS the pieces are coalesced into `scratch` first
    // so that they leave as one record.
    net::awaitable<net::error_code> write_all(const std::vector<net::asio::const_buffer>& pieces, std::string& scratch);

    // Cheap liveness check before reusing an idle connection: false if the backend closed it (EOF,
    // RST, close_notify) or sent unsolicited application bytes. On TLS it also consumes
    // post-handshake messages (TLS 1.3 session tickets) that arrived while idle.
    bool still_usable() noexcept;

    void close() noexcept;
    bool is_tls() const noexcept { return tls_.has_value(); }

    std::uint32_t requests = 0;  // requests served on it so far

private:
    net::tcp_socket plain_;
    std::optional<net::tls_stream> tls_;
};

}  // namespace atsgate::upstream
