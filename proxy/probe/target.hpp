#pragma once
// What `atsgate probe` is pointed at: an https:// (or, to be reported, http://) URL, or host:port.
// Pure parsing, no DNS.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atsgate::probe {

struct target {
    std::string scheme = "https";  // "https" or "http" (an http:// target is only reported, never probed)
    std::string host;              // lower-case DNS name or IP literal, without brackets
    std::uint16_t port = 443;
    std::string path = "/";        // origin-form request target: "/path?query" (fragment dropped)
    bool host_is_ip = false;       // IPv4 or IPv6 literal: no SNI is sent (RFC 6066 section 3)

    // "host:port" with brackets around an IPv6 literal.
    std::string authority() const;
    // Canonical URL: "https://host[:port]/path" (default ports omitted).
    std::string url() const;
};

// Parses "https://host[:port][/path]", "http://host[:port][/path]", "host:port" or "host" (port
// 443). Refuses user info, other schemes, empty or malformed hosts, ports outside 1..65535, and
// control characters or spaces (which could not be sent in a request line). On failure returns
// nullopt and sets `error` to a one-line reason.
std::optional<target> parse_target(std::string_view text, std::string& error);

// True for an IPv4 dotted quad or an IPv6 literal (without brackets).
bool is_ip_literal(std::string_view host) noexcept;

// Resolves a redirect Location against the URL it came from (RFC 3986 section 5.2, the cases
// servers use: absolute http(s) URL, scheme-relative "//host/...", absolute path, relative path).
// Returns "" when `location` is empty or uses another scheme.
std::string resolve_location(const target& base, std::string_view location);

}  // namespace atsgate::probe
