// Checks for the text keys of config/schema.hpp.

#include "config/schema.hpp"

#include "config/detail_values.hpp"

#include <algorithm>

namespace atsgate::config::schema {

std::optional<refusal> dns_name(std::string_view v) {
    if (detail::is_dns_name(v)) return std::nullopt;
    return refusal{", must be a DNS name", {}};
}

std::optional<refusal> dns_name_or_ip(std::string_view v) {
    if (detail::is_dns_name(v) || detail::parse_ip(v)) return std::nullopt;
    const bool wildcard = v.rfind("*.", 0) == 0;
    return refusal{", must be a DNS name or an IP address",
                   wildcard ? "wildcards are not allowed here; give the exact name devices connect to" : ""};
}

std::optional<refusal> header_name(std::string_view h) {
    // An RFC 9110 token that atsgate may set on forwarded requests.
    const bool token = !h.empty() && h.size() <= 64 && std::all_of(h.begin(), h.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
    if (!token) return refusal{", must be an HTTP header name", "letters, digits and -, at most 64 characters"};
    static constexpr std::string_view reserved[] = {
        "host",    "content-length",   "transfer-encoding", "connection",      "keep-alive",        "te", "trailer",
        "upgrade", "proxy-connection", "expect",            "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"};
    std::string lower;
    for (char c : h) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (std::find(std::begin(reserved), std::end(reserved), lower) != std::end(reserved))
        return refusal{", a header atsgate manages itself", "choose a dedicated name such as \"X-Client-Cert\""};
    return std::nullopt;
}

std::optional<refusal> path_prefix(std::string_view p) {
    const bool ok = !p.empty() && p.front() == '/' && p.size() <= 1024 && std::all_of(p.begin(), p.end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != '?' && c != '#';
    });
    if (ok) return std::nullopt;
    return refusal{", must be a path prefix starting with \"/\" (no spaces, query or fragment)", {}};
}

std::optional<refusal> absolute_path(std::string_view p) {
    const bool ok = !p.empty() && p.front() == '/' && p.size() <= 1024 &&
                    std::all_of(p.begin(), p.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (ok) return std::nullopt;
    return refusal{", must be a path starting with \"/\" without spaces", {}};
}

std::optional<refusal> media_type(std::string_view ct) {
    if (!ct.empty() && ct.size() <= 256 && std::all_of(ct.begin(), ct.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
        return std::nullopt;
    return refusal{", must be a printable media type", {}};
}

std::optional<refusal> email_address(std::string_view v) {
    const auto at = v.find('@');
    const bool ok = at != std::string_view::npos && at > 0 && at + 1 < v.size() && v.size() <= 254 &&
                    v.find('@', at + 1) == std::string_view::npos &&
                    std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ',' && c != '<' && c != '>'; });
    if (ok) return std::nullopt;
    return refusal{", must be an email address", "the ACME account contact, sent as mailto:"};
}

}  // namespace atsgate::config::schema
