#include "proxy/acme/https_url.hpp"

#include "proxy/http/message.hpp"

namespace atsgate::acme {

std::optional<https_url> parse_https_url(std::string_view url) {
    constexpr std::string_view scheme = "https://";
    if (url.size() <= scheme.size() || !http::starts_with_ci(url, scheme)) return std::nullopt;
    std::string_view rest = url.substr(scheme.size());
    const auto slash = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
    if (const auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
    https_url u;
    std::string_view port;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port = after.substr(1);
        }
    } else {
        const auto colon = authority.find(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (u.host.empty()) return std::nullopt;
    for (char c : u.host)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return std::nullopt;
    if (!port.empty() || authority.back() == ':') {
        if (port.empty() || port.size() > 5) return std::nullopt;
        unsigned v = 0;
        for (char c : port) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + static_cast<unsigned>(c - '0');
        }
        if (v == 0 || v > 65535) return std::nullopt;
        u.port = static_cast<std::uint16_t>(v);
    }
    u.target = path.empty() ? "/" : std::string(path.front() == '?' ? "/" : "") + std::string(path);
    for (char c : u.target)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return std::nullopt;
    return u;
}

bool on_origin(std::string_view url, std::string_view base) {
    if (url.size() > 2048) return false;
    for (unsigned char c : url)
        if (c <= 0x20 || c >= 0x7F) return false;
    const auto u = parse_https_url(url);
    const auto b = parse_https_url(base);
    if (!u || !b || u->port != b->port || u->host.size() != b->host.size()) return false;
    for (std::size_t i = 0; i < u->host.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(u->host[i]) != lower(b->host[i])) return false;
    }
    return true;
}

}  // namespace atsgate::acme
