#pragma once
// Private helpers of proxy/http (not part of the codec API): RFC 9110 token and list syntax on
// string_views, with no allocation. Used by the parsers and by rewrite.cpp.

#include "proxy/http/message.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace atsgate::http::detail {

// tchar (RFC 9110 section 5.6.2): the characters of a header name or a token.
constexpr bool is_tchar_slow(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
        case '.': case '^': case '_': case '`': case '|': case '~': return true;
        default: return false;
    }
}

inline constexpr auto tchar_table = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = is_tchar_slow(static_cast<char>(c));
    return t;
}();

constexpr bool is_tchar(char c) noexcept { return tchar_table[static_cast<unsigned char>(c)]; }

constexpr bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// field-value characters (RFC 9110 section 5.5): VCHAR, obs-text, SP and HTAB. Everything else
// (NUL, CR, LF, other CTLs, DEL) is refused. Eight bytes at a time (SWAR); a word that may hold a
// CTL or DEL is re-checked bytewise, which also lets HTAB through.
inline bool is_field_value(std::string_view s) noexcept {
    const auto byte_ok = [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c >= 0x20 || c == '\t') && c != 0x7f;
    };
    constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const char* p = s.data();
    std::size_t n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;  // some byte < 0x20
        const std::uint64_t d = w ^ (ones * 0x7f);
        const std::uint64_t del = (d - ones) & ~d & highs;  // some byte == 0x7f
        if ((below_space | del) != 0)
            for (int i = 0; i < 8; ++i)
                if (!byte_ok(p[i])) return false;
    }
    for (; n > 0; ++p, --n)
        if (!byte_ok(*p)) return false;
    return true;
}

// Which of the fields the parsers look at a name is (case-insensitive), by length first so that
// most names cost one comparison of their size.
enum class known_field : std::uint8_t { other, host, content_length, transfer_encoding, connection, expect };

inline known_field classify_field(std::string_view name) noexcept {
    switch (name.size()) {
        case 4: return iequals(name, "host") ? known_field::host : known_field::other;
        case 6: return iequals(name, "expect") ? known_field::expect : known_field::other;
        case 10: return iequals(name, "connection") ? known_field::connection : known_field::other;
        case 14: return iequals(name, "content-length") ? known_field::content_length : known_field::other;
        case 17: return iequals(name, "transfer-encoding") ? known_field::transfer_encoding : known_field::other;
        default: return known_field::other;
    }
}

// Calls f(item) for each non-empty, OWS-trimmed element of a comma-separated list
// (RFC 9110 section 5.6.1). Stops early when f returns true; returns whether it did.
template <class F>
constexpr bool any_list_item(std::string_view list, F&& f) noexcept {
    while (true) {
        const auto comma = list.find(',');
        const auto item = trim_ows(list.substr(0, comma));
        if (!item.empty() && f(item)) return true;
        if (comma == std::string_view::npos) return false;
        list.remove_prefix(comma + 1);
    }
}

// True if the comma-separated list contains `token` (case-insensitive).
inline bool list_has_token(std::string_view list, std::string_view token) noexcept {
    return any_list_item(list, [token](std::string_view item) { return iequals(item, token); });
}

// Content-Length value: 1*DIGIT (RFC 9110 section 8.6), no sign, no list, no overflow.
constexpr bool parse_content_length(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty() || s.size() > 19) return false;  // 19 digits always fit in 64 bits
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = v;
    return true;
}

// Host header value (RFC 9110 section 7.2: uri-host [ ":" port ]). Deliberately narrower than
// reg-name: letters, digits, '-', '.', '_' and '~', or a bracketed IPv6 literal; port up to 5
// digits. The value feeds routing and Location rewriting, so nothing that could be read as a
// path, userinfo or second authority ('/', '@', '%', ...) is accepted. Empty is valid (RFC 9112
// section 3.2: a target without authority is sent with an empty Host).
constexpr bool is_valid_host(std::string_view s) noexcept {
    if (s.empty()) return true;
    std::string_view port;
    if (s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos || close < 3) return false;
        for (char c : s.substr(1, close - 1)) {
            const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.') return false;
        }
        const auto rest = s.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
        }
    } else {
        const auto colon = s.find(':');
        const auto host = s.substr(0, colon);
        if (host.empty()) return false;
        for (char c : host) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
            if (!ok) return false;
        }
        if (colon != std::string_view::npos) port = s.substr(colon + 1);
    }
    if (port.size() > 5) return false;
    for (char c : port)
        if (c < '0' || c > '9') return false;
    return true;
}

// The fields that decide a message's framing and connection handling, gathered in one pass over
// a completed head (shared by the request and the response parser).
struct framing_fields {
    unsigned hosts = 0, lengths = 0, codings = 0;  // how many Host / Content-Length / Transfer-Encoding
    std::string_view host, length, coding;         // the last value of each
    bool close = false;                            // Connection lists "close"
    bool keep_alive = false;                       // Connection lists "keep-alive"
    bool expect_continue = false;                  // Expect: 100-continue
};

inline framing_fields scan_framing(const std::vector<header>& headers) noexcept {
    framing_fields f;
    for (const auto& h : headers) {
        switch (classify_field(h.name)) {
            case known_field::host:
                ++f.hosts;
                f.host = h.value;
                break;
            case known_field::content_length:
                ++f.lengths;
                f.length = h.value;
                break;
            case known_field::transfer_encoding:
                ++f.codings;
                f.coding = h.value;
                break;
            case known_field::connection:
                f.close |= list_has_token(h.value, "close");
                f.keep_alive |= list_has_token(h.value, "keep-alive");
                break;
            case known_field::expect: f.expect_continue |= iequals(h.value, "100-continue"); break;
            case known_field::other: break;
        }
    }
    return f;
}

}  // namespace atsgate::http::detail
