#pragma once
// Pure parsers and checks for the scalar shapes the config file uses (durations, sizes, IP
// literals, DNS names, upstream URLs, names) plus the "did you mean" matcher. Private to config/:
// only loader.cpp and the config unit tests include this. No toml++ here, no I/O, no global state.

#include "config/config.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace atsgate::config::detail {

enum class parse_status {
    ok,         // value is set
    bad_shape,  // the text does not have the expected form
    overflow,   // the form is right but the number does not fit (always out of any range we allow)
};

template <class T>
struct parsed {
    parse_status status = parse_status::bad_shape;
    T value{};
    bool ok() const { return status == parse_status::ok; }
};

// "<digits><unit>", unit one of ms, s, m, h (lower case, no sign, no space, no fraction, one unit
// only): "500ms", "30s", "2m", "1h", "0s". Leading zeros are accepted.
parsed<duration> parse_duration(std::string_view text);

// Renders a duration in the largest unit that represents it exactly: 120000ms -> "2m",
// 1500ms -> "1500ms", 0 -> "0s". parse_duration(format_duration(d)) == d.
std::string format_duration(duration d);

// "<digits>[suffix]" with suffix k|K|KiB (1024), m|M|MiB (1024^2), g|G|GiB (1024^3); no suffix =
// bytes. Binary multiples only: "4GiB" == "4G" == "4g" == 4294967296.
parsed<std::uint64_t> parse_size(std::string_view text);

// Renders bytes in the largest binary unit that represents it exactly: 1048576 -> "1MiB",
// 1000 -> "1000", 0 -> "0". parse_size(format_size(n)) == n.
std::string format_size(std::uint64_t bytes);

// An IPv4 or IPv6 address parsed from its textual literal.
struct ip_address {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

    bool is_unspecified() const;  // 0.0.0.0 or ::
    bool is_loopback() const;     // 127.0.0.0/8 or ::1 (IPv4-mapped loopback is not loopback here)
    friend bool operator==(const ip_address&, const ip_address&) = default;
};

// Strict literal parser, never more lenient than POSIX inet_pton(): IPv4 is exactly four decimal
// octets without leading zeros; IPv6 is RFC 4291 text form (one "::", optional dotted IPv4 tail),
// without brackets and without a zone ("%eth0").
std::optional<ip_address> parse_ip(std::string_view text);

// "ADDRESS" or "ADDRESS/PREFIX" (0..32 for IPv4, 0..128 for IPv6, decimal without leading zeros);
// the address as parse_ip() takes it, with every bit past the prefix zero ("10.0.0.1/8" is
// refused: write "10.0.0.0/8" or "10.0.0.1"). `text` is kept as written.
std::optional<cidr> parse_cidr(std::string_view text);

// LDH host name: dot-separated labels of 1..63 letters, digits and hyphens, not starting or ending
// with a hyphen; 253 characters at most; no trailing dot, no wildcard; the last label is not all
// digits (so "10.0.0.256" is neither an IP nor a name).
bool is_dns_name(std::string_view text);

// A name a certificate or route serves: an exact DNS name, a one-label wildcard "*.example.com"
// or an IP literal.
bool is_host_pattern(std::string_view text);

// [A-Za-z0-9_.-]{1,64}: listener and upstream names.
bool is_valid_name(std::string_view text);

// Result of parsing an upstream URL "http[s]://host[:port][/]".
enum class url_problem {
    ok,
    not_http,     // no "scheme://", or a scheme other than http/https
    userinfo,     // "user@" present
    query,        // "?..." present
    fragment,     // "#..." present
    path,         // a path other than "/"
    bad_host,     // empty, or not a DNS name / IPv4 literal / [IPv6 literal]
    bad_port,     // empty, non-digits, 0 or over 65535
};

struct upstream_url {
    url_problem problem = url_problem::ok;
    std::string host;        // IPv6 without brackets; set when problem == ok
    std::uint16_t port = 80;  // default 80 for http, 443 for https
    bool tls = false;         // https://
};

// Parses "http[s]://host[:port][/]"; scheme is case-insensitive (RFC 3986 3.1).
upstream_url parse_upstream_url(std::string_view url);

// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
// transpositions each cost 1 ("cetr" -> "cert" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` if its distance is at most 2 and smaller than word's length
// (so a one-letter typo does not match everything); ties go to the earlier candidate.
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

}  // namespace atsgate::config::detail
