#pragma once
// Private helpers of proxy/http (not part of the codec API): RFC 9110 token and list syntax on
// string_views, with no allocation. Used by the parsers and by rewrite.cpp.

#include "proxy/http/message.hpp"

#include <cstdint>
#include <string_view>

namespace atsgate::http::detail {

// tchar (RFC 9110 section 5.6.2): the characters of a header name or a token.
constexpr bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
        case '.': case '^': case '_': case '`': case '|': case '~': return true;
        default: return false;
    }
}

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
// (NUL, CR, LF, other CTLs, DEL) is refused.
constexpr bool is_field_value(std::string_view s) noexcept {
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
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

}  // namespace atsgate::http::detail
