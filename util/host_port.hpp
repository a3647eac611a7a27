#pragma once
// Hosts and ports as written in URLs, Host headers and logs (RFC 3986 3.2.2): an IPv6 literal in
// brackets, everything else as is. Formatting, and splitting an authority that was already
// validated (these split, they do not check).

#include <cstdint>
#include <string>
#include <string_view>

namespace atsgate::util {

// "[::1]" for an IPv6 literal (any host containing ':'), the host itself otherwise.
std::string bracketed(std::string_view host);

// "10.0.0.5:8080", "[::1]:443", "mdm.example.com:443".
std::string host_port(std::string_view host, std::uint16_t port);

// host_port(), without ":port" when `port` is the scheme's default (80 for http, 443 for https):
// the form of a Host header or URL authority.
std::string authority(std::string_view scheme, std::string_view host, std::uint16_t port);

// "host" of "host:port", "[v6]" of "[v6]:port"; `authority` itself when it has no port. An
// unterminated '[' gives `authority` back; after "[v6]" anything is dropped; without brackets the
// port is after the last ':'. For Host header values that passed http::is_valid_host.
std::string_view host_without_port(std::string_view authority) noexcept;

// "host[:port]" split at the port's ':' ("[v6]" keeps its brackets); `port` is empty when there is
// none. A '[' without "]:" after it is all host; without brackets the port starts after the first
// ':'. For authorities of URLs (Location) and configured host names.
struct split_authority {
    std::string_view host;
    std::string_view port;
};
split_authority split_host_port(std::string_view authority) noexcept;

}  // namespace atsgate::util
