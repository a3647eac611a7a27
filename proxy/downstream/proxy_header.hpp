#pragma once
// Reading the PROXY protocol header (proxy/proxyproto) at the start of a connection on a listener
// with proxy_protocol = true, before TLS or HTTP: who may send one (proxy_protocol_from), the
// deadline, and exactly how many bytes are taken from the socket (MSG_PEEK first, then only the
// header's bytes, so OpenSSL reads the ClientHello from the socket itself).

#include "config/config.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/proxyproto/errc.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace atsgate::downstream {

// Why a connection on a PROXY protocol listener was refused: four reasons of its own, then one
// per proxyproto::errc (index proxy_refusal_first_errc + errc).
enum class proxy_refusal : std::uint8_t {
    none = 0,
    untrusted_source = 1,  // the TCP peer is not in proxy_protocol_from
    timeout = 2,           // no complete header within timeouts.handshake
    closed = 3,            // the peer closed before a complete header (a TCP health check, a scan)
    io_error = 4,          // reading the socket failed
};
inline constexpr std::size_t proxy_refusal_first_errc = 4;
inline constexpr std::size_t proxy_refusal_count =
    proxy_refusal_first_errc + static_cast<std::size_t>(proxyproto::errc::v2_bad_checksum) + 1;
// The label of reason slot `i` ("untrusted_source", "v1_bad_port", ...); "" for slot 0.
std::string_view proxy_refusal_name(std::size_t i) noexcept;

struct proxy_outcome {
    std::size_t refusal = 0;   // 0: accepted; else a proxy_refusal slot (see above)
    net::tcp::endpoint client; // accepted: the client (from the header, or the TCP peer for LOCAL/UNKNOWN)
    bool own_endpoints = false;  // accepted without an address (LOCAL, UNKNOWN, UNSPEC, UNIX)
    int version = 0;             // 1 or 2 when a header was read
};

// Whether `peer` may send a PROXY header on listener `l` (its proxy_protocol_from).
bool trusted_proxy_source(const config::listener& l, const net::tcp::endpoint& peer) noexcept;

// Reads and consumes exactly the PROXY header from `socket`, waiting at most `within`. `peer` is the
// TCP peer. Never throws; never consumes a byte past the header.
net::awaitable<proxy_outcome> read_proxy_header(net::tcp_socket& socket, const net::tcp::endpoint& peer,
                                                std::chrono::milliseconds within);

}  // namespace atsgate::downstream
