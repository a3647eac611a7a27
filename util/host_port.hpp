#pragma once
// Hosts and ports as written in URLs, Host headers and logs (RFC 3986 3.2.2): an IPv6 literal in
// brackets, everything else as is.

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

}  // namespace atsgate::util
