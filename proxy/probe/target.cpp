#include "proxy/probe/target.hpp"

#include "proxy/http/message.hpp"
#include "util/host_port.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace atsgate::probe {
namespace {

bool dns_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

}  // namespace

bool is_ip_literal(std::string_view host) noexcept {
    if (host.empty() || host.size() > 63) return false;
    char buf[64];
    std::copy(host.begin(), host.end(), buf);
    buf[host.size()] = '\0';
    unsigned char addr[16];
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

std::string target::authority() const { return util::host_port(host, port); }

std::string target::url() const {
    return scheme + "://" + util::authority(scheme, host, port) + path;
}

std::optional<target> parse_target(std::string_view text, std::string& error) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
    if (text.empty()) {
        error = "empty target";
        return std::nullopt;
    }
    for (unsigned char c : text) {
        if (c < 0x21 || c == 0x7F) {
            error = "target contains a space or control character";
            return std::nullopt;
        }
    }
    target t;
    std::string_view rest = text;
    if (http::starts_with_ci(rest, "https://")) {
        rest.remove_prefix(8);
    } else if (http::starts_with_ci(rest, "http://")) {
        t.scheme = "http";
        t.port = 80;
        rest.remove_prefix(7);
    } else if (rest.find("://") != std::string_view::npos) {
        error = "unsupported scheme in \"" + std::string(text) + "\" (use https://)";
        return std::nullopt;
    }

    std::size_t auth_end = rest.find_first_of("/?#");
    std::string_view auth = rest.substr(0, auth_end);
    std::string_view tail = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
    if (auth.find('@') != std::string_view::npos) {
        error = "user information in \"" + std::string(text) + "\" is not supported";
        return std::nullopt;
    }

    std::string_view host, port;
    if (!auth.empty() && auth.front() == '[') {
        std::size_t close = auth.find(']');
        if (close == std::string_view::npos) {
            error = "unterminated IPv6 literal in \"" + std::string(text) + "\"";
            return std::nullopt;
        }
        host = auth.substr(1, close - 1);
        std::string_view after = auth.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                error = "malformed authority in \"" + std::string(text) + "\"";
                return std::nullopt;
            }
            port = after.substr(1);
            if (port.empty()) {
                error = "empty port in \"" + std::string(text) + "\"";
                return std::nullopt;
            }
        }
        if (host.find(':') == std::string_view::npos || !is_ip_literal(host)) {
            error = "invalid IPv6 literal in \"" + std::string(text) + "\"";
            return std::nullopt;
        }
    } else {
        std::size_t colon = auth.rfind(':');
        if (colon != std::string_view::npos && auth.find(':') != colon) {
            error = "IPv6 literals must be in brackets: \"" + std::string(text) + "\"";
            return std::nullopt;
        }
        host = auth.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = auth.substr(colon + 1);
            if (port.empty()) {
                error = "empty port in \"" + std::string(text) + "\"";
                return std::nullopt;
            }
        }
    }
    if (host.empty()) {
        error = "no host in \"" + std::string(text) + "\"";
        return std::nullopt;
    }
    t.host.reserve(host.size());
    for (char c : host) t.host += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    t.host_is_ip = is_ip_literal(t.host);
    if (!t.host_is_ip) {
        if (t.host.size() > 253 || !std::all_of(t.host.begin(), t.host.end(), dns_char) || t.host.front() == '.' ||
            t.host.front() == '-') {
            error = "invalid host name \"" + std::string(host) + "\"";
            return std::nullopt;
        }
    }
    if (!port.empty()) {
        unsigned value = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535) {
            error = "invalid port \"" + std::string(port) + "\" in \"" + std::string(text) + "\"";
            return std::nullopt;
        }
        t.port = static_cast<std::uint16_t>(value);
    }
    std::string_view path = tail.substr(0, tail.find('#'));
    if (path.empty())
        t.path = "/";
    else if (path.front() == '?')
        t.path = "/" + std::string(path);
    else
        t.path = std::string(path);
    return t;
}

std::string resolve_location(const target& base, std::string_view location) {
    while (!location.empty() && (location.front() == ' ' || location.front() == '\t')) location.remove_prefix(1);
    while (!location.empty() && (location.back() == ' ' || location.back() == '\t')) location.remove_suffix(1);
    if (location.empty()) return {};
    if (http::starts_with_ci(location, "https://") || http::starts_with_ci(location, "http://")) return std::string(location);
    if (location.substr(0, 2) == "//") return base.scheme + ":" + std::string(location);
    // Any other "scheme:" prefix (letters, digits, + - . before the first ':' and before any '/').
    std::size_t colon = location.find(':');
    std::size_t slash = location.find_first_of("/?#");
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) return {};
    target t = base;
    if (location.front() == '/') {
        t.path = std::string(location.substr(0, location.find('#')));
    } else if (location.front() == '?') {
        t.path = base.path.substr(0, base.path.find('?')) + std::string(location.substr(0, location.find('#')));
    } else {
        std::string dir = base.path.substr(0, base.path.find('?'));
        dir = dir.substr(0, dir.rfind('/') + 1);
        if (dir.empty()) dir.push_back('/');
        t.path = dir + std::string(location.substr(0, location.find('#')));
    }
    return t.url();
}

}  // namespace atsgate::probe
