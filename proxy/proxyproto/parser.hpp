#pragma once
// proxy/proxyproto/: the PROXY protocol header parser and its error codes; nothing else. May use:
// std (+ Boost.System's header-only error_code). Used by downstream (proxy_header.hpp drives it).
//
// The PROXY protocol (HAProxy, "The PROXY protocol", versions 1 and 2): the header an L4 load
// balancer puts in front of the client's bytes to carry the client's address. Sans-io and pure:
// bytes in, a verdict out; no sockets, no allocation, no clock. Depends on std only.
//
// Reading a header without consuming the client's first TLS bytes: the driver peeks at the
// socket (MSG_PEEK) and passes *every byte received so far* to parse(). The contract that makes
// that work:
//   need_more  every byte given belongs to the header (it continues past them): the driver may
//              consume them all and wait for more; a header never ends inside a need_more input.
//   done       the header is exactly the first `length` bytes; consume those, leave the rest
//              (the TLS ClientHello) in the socket.
//   invalid    not a PROXY header, or a malformed one: refuse the connection (never fall back
//              to treating the bytes as TLS).
// So the driver consumes exactly the header and OpenSSL reads the socket from the first byte
// after it.
//
// What a valid header means (spec section 2.2 and 2.1):
//   v1 "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" (at most 107 bytes): the client is SRC:SPORT.
//   v1 "PROXY UNKNOWN[ anything]\r\n": use the connection's own endpoints.
//   v2 LOCAL (the balancer's own health checks): use the connection's own endpoints; the address
//      block and TLVs are skipped.
//   v2 PROXY with family INET / INET6 and transport STREAM (or UNSPEC): the client is the source
//      address. Family UNSPEC or UNIX: use the connection's own endpoints (the spec lets the
//      receiver accept those).
//   v2 TLVs are never interpreted, only skipped by the header length; the one exception is a
//      well-formed PP2_TYPE_CRC32C TLV, which is verified (a mismatch is invalid), as the spec
//      asks of receivers that support it. Malformed TLV bytes are ignored like any TLV.
// Strictness: exact single spaces, CRLF, decimal ports 0..65535 without leading zeros, IPv4
// dotted quads without leading zeros (no octal ambiguity), IPv6 text as inet_pton accepts it,
// TCP4 with an IPv4 and TCP6 with an IPv6 address; v2 version 2, commands LOCAL/PROXY, families
// 0..3, transports UNSPEC/STREAM (DGRAM is not a TCP connection), an address block that fits
// the length, and a total size of at most max_v2_length.

#include "proxy/proxyproto/errc.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace atsgate::proxyproto {

// The longest v1 header the spec allows, CRLF included.
inline constexpr std::size_t max_v1_length = 107;
// The longest v2 header accepted (16 fixed bytes + address block + TLVs). Balancers send a few
// dozen to a few hundred bytes of TLVs (AWS VPC endpoint ids, Azure link ids, HAProxy's SSL
// details); this bounds what an unauthenticated peer can make us buffer.
inline constexpr std::size_t max_v2_length = 16 + 4096;

enum class family : std::uint8_t {
    none,  // use the connection's own endpoints (v1 UNKNOWN, v2 LOCAL / UNSPEC / UNIX)
    ipv4,
    ipv6,
};

struct endpoint {
    // Network byte order; ipv4 uses the first 4 bytes.
    std::array<std::uint8_t, 16> address{};
    std::uint16_t port = 0;
};

struct header {
    int version = 0;          // 1 or 2
    bool local = false;       // v2 LOCAL command (a health check by the balancer itself)
    family fam = family::none;
    endpoint source;          // the client (valid when fam != none)
    endpoint destination;     // the address the client connected to (valid when fam != none)
    std::size_t length = 0;   // bytes of the header, CRLF / TLVs included
};

enum class status { need_more, done, invalid };

struct result {
    status st = status::need_more;
    header hdr;               // when done
    errc error = errc::ok;    // when invalid
};

// Parses the start of a connection. `data` is every byte received so far (see the contract
// above); it may hold bytes past the header. Never reads past data.size().
result parse(std::span<const std::uint8_t> data) noexcept;

// The address as text ("192.0.2.1", "2001:db8::1"); "" for family::none.
std::string to_string(family f, const endpoint& e);

// CRC-32C (Castagnoli), as the v2 checksum TLV uses it. Exposed for tests.
std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept;

}  // namespace atsgate::proxyproto
