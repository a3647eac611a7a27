#include "config/detail_values.hpp"

#include "util/hex.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace atsgate::config::detail {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Splits "<digits><rest>"; returns the digits' value, or overflow / bad_shape (no digits).
parsed<std::uint64_t> leading_number(std::string_view text, std::size_t& digits_end) {
    parsed<std::uint64_t> out;
    std::size_t i = 0;
    std::uint64_t v = 0;
    bool overflow = false;
    while (i < text.size() && is_digit(text[i])) {
        const auto d = static_cast<std::uint64_t>(text[i] - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) overflow = true;
        if (!overflow) v = v * 10 + d;
        ++i;
    }
    digits_end = i;
    if (i == 0) return out;
    out.status = overflow ? parse_status::overflow : parse_status::ok;
    out.value = overflow ? 0 : v;
    return out;
}

// Multiplies with overflow detection against `limit`.
parsed<std::uint64_t> scale(parsed<std::uint64_t> n, std::uint64_t factor, std::uint64_t limit) {
    if (!n.ok()) return n;
    if (n.value > limit / factor) return {parse_status::overflow, 0};
    return {parse_status::ok, n.value * factor};
}

std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view text) {
    std::array<std::uint8_t, 4> out{};
    std::size_t part = 0;
    std::size_t i = 0;
    while (true) {
        const std::size_t start = i;
        unsigned v = 0;
        while (i < text.size() && is_digit(text[i]) && i - start < 4) {
            v = v * 10 + static_cast<unsigned>(text[i] - '0');
            ++i;
        }
        const std::size_t len = i - start;
        if (len == 0 || len > 3 || v > 255) return std::nullopt;
        if (len > 1 && text[start] == '0') return std::nullopt;  // inet_pton rejects "01"
        out[part++] = static_cast<std::uint8_t>(v);
        if (part == 4) break;
        if (i >= text.size() || text[i] != '.') return std::nullopt;
        ++i;
    }
    if (i != text.size()) return std::nullopt;
    return out;
}

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text) {
    std::vector<std::uint16_t> groups;  // explicit 16-bit groups, in order
    std::optional<std::size_t> compress_at;
    const std::size_t n = text.size();
    std::size_t i = 0;
    if (n == 0) return std::nullopt;
    if (text[0] == ':') {
        if (n < 2 || text[1] != ':') return std::nullopt;
        compress_at = 0;
        i = 2;
    }
    while (i < n) {
        std::size_t j = i;
        while (j < n && util::hex_value(text[j]) >= 0) ++j;
        if (j < n && text[j] == '.') {  // dotted IPv4 tail: must be the last thing
            const auto v4 = parse_ipv4(text.substr(i));
            if (!v4) return std::nullopt;
            groups.push_back(static_cast<std::uint16_t>(((*v4)[0] << 8) | (*v4)[1]));
            groups.push_back(static_cast<std::uint16_t>(((*v4)[2] << 8) | (*v4)[3]));
            i = n;
            break;
        }
        if (j == i || j - i > 4) return std::nullopt;
        unsigned v = 0;
        for (std::size_t k = i; k < j; ++k) v = (v << 4) | static_cast<unsigned>(util::hex_value(text[k]));
        groups.push_back(static_cast<std::uint16_t>(v));
        if (groups.size() > 8) return std::nullopt;
        i = j;
        if (i == n) break;
        if (text[i] != ':') return std::nullopt;
        ++i;
        if (i < n && text[i] == ':') {
            if (compress_at) return std::nullopt;  // "::" at most once
            compress_at = groups.size();
            ++i;
        } else if (i == n) {
            return std::nullopt;  // trailing single ':'
        }
    }
    if (compress_at ? groups.size() > 7 : groups.size() != 8) return std::nullopt;
    std::array<std::uint16_t, 8> full{};
    if (compress_at) {
        const std::size_t head = *compress_at;
        const std::size_t tail = groups.size() - head;
        std::copy_n(groups.begin(), head, full.begin());
        std::copy_n(groups.begin() + static_cast<std::ptrdiff_t>(head), tail, full.end() - static_cast<std::ptrdiff_t>(tail));
    } else {
        std::copy(groups.begin(), groups.end(), full.begin());
    }
    std::array<std::uint8_t, 16> out{};
    for (std::size_t k = 0; k < 8; ++k) {
        out[2 * k] = static_cast<std::uint8_t>(full[k] >> 8);
        out[2 * k + 1] = static_cast<std::uint8_t>(full[k] & 0xff);
    }
    return out;
}

}  // namespace

parsed<duration> parse_duration(std::string_view text) {
    std::size_t end = 0;
    const auto number = leading_number(text, end);
    if (number.status == parse_status::bad_shape) return {};
    const std::string_view unit = text.substr(end);
    std::uint64_t factor = 0;
    if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60 * 1000;
    else if (unit == "h") factor = 60 * 60 * 1000;
    else return {};
    const auto limit = static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max());
    const auto ms = scale(number, factor, limit);
    if (!ms.ok()) return {ms.status, duration::zero()};
    return {parse_status::ok, duration(static_cast<duration::rep>(ms.value))};
}

std::string format_duration(duration d) {
    const auto ms = d.count();
    if (ms == 0) return "0s";
    if (ms % (60 * 60 * 1000) == 0) return std::to_string(ms / (60 * 60 * 1000)) + "h";
    if (ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

parsed<std::uint64_t> parse_size(std::string_view text) {
    std::size_t end = 0;
    const auto number = leading_number(text, end);
    if (number.status == parse_status::bad_shape) return {};
    const std::string_view suffix = text.substr(end);
    std::uint64_t factor = 0;
    if (suffix.empty()) factor = 1;
    else if (suffix == "k" || suffix == "K" || suffix == "KiB") factor = 1ull << 10;
    else if (suffix == "m" || suffix == "M" || suffix == "MiB") factor = 1ull << 20;
    else if (suffix == "g" || suffix == "G" || suffix == "GiB") factor = 1ull << 30;
    else return {};
    return scale(number, factor, std::numeric_limits<std::uint64_t>::max());
}

std::string format_size(std::uint64_t bytes) {
    if (bytes == 0) return "0";
    if (bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
    return std::to_string(bytes);
}

bool ip_address::is_unspecified() const {
    const std::size_t len = v6 ? 16 : 4;
    return std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len),
                       [](std::uint8_t b) { return b == 0; });
}

bool ip_address::is_loopback() const {
    if (!v6) return bytes[0] == 127;
    return std::all_of(bytes.begin(), bytes.begin() + 15, [](std::uint8_t b) { return b == 0; }) &&
           bytes[15] == 1;
}

std::optional<ip_address> parse_ip(std::string_view text) {
    ip_address out;
    if (text.find(':') == std::string_view::npos) {
        const auto v4 = parse_ipv4(text);
        if (!v4) return std::nullopt;
        std::copy(v4->begin(), v4->end(), out.bytes.begin());
        return out;
    }
    const auto v6 = parse_ipv6(text);
    if (!v6) return std::nullopt;
    out.v6 = true;
    out.bytes = *v6;
    return out;
}

std::optional<cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    const auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    const unsigned max = ip->v6 ? 128 : 32;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        const std::string_view p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return std::nullopt;
        prefix = 0;
        for (char c : p) {
            if (c < '0' || c > '9') return std::nullopt;
            prefix = prefix * 10 + static_cast<unsigned>(c - '0');
        }
        if (prefix > max) return std::nullopt;
    }
    // No host bits set past the prefix.
    for (unsigned bit = prefix; bit < max; ++bit)
        if (ip->bytes[bit / 8] & (0x80u >> (bit % 8))) return std::nullopt;
    cidr c;
    c.v6 = ip->v6;
    c.bytes = ip->bytes;
    c.prefix = static_cast<std::uint8_t>(prefix);
    c.text = std::string(text);
    return c;
}

bool is_dns_name(std::string_view text) {
    if (text.empty() || text.size() > 253) return false;
    std::string_view last_label;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = text.find('.', start);
        const std::string_view label =
            text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
        last_label = label;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return !std::all_of(last_label.begin(), last_label.end(), is_digit);
}

bool is_host_pattern(std::string_view text) {
    if (text.rfind("*.", 0) == 0) return is_dns_name(text.substr(2));
    return is_dns_name(text) || parse_ip(text).has_value();
}

bool is_valid_name(std::string_view text) {
    if (text.empty() || text.size() > 64) return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
    });
}

upstream_url parse_upstream_url(std::string_view url) {
    upstream_url out;
    const std::size_t sep = url.find("://");
    if (sep == std::string_view::npos || sep == 0) return {url_problem::not_http, {}, 0};
    std::string scheme;
    for (char c : url.substr(0, sep)) scheme += to_lower(c);
    if (scheme != "http" && scheme != "https") return {url_problem::not_http, {}, 0};
    out.tls = scheme == "https";
    out.port = out.tls ? 443 : 80;

    const std::string_view rest = url.substr(sep + 3);
    const std::size_t auth_end = rest.find_first_of("/?#");
    const std::string_view authority = rest.substr(0, auth_end);
    const std::string_view tail =
        auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);

    if (authority.find('@') != std::string_view::npos) return {url_problem::userinfo, {}, 0};
    const std::size_t path_end = tail.find_first_of("?#");
    const std::string_view path = tail.substr(0, path_end);
    if (!path.empty() && path != "/") return {url_problem::path, {}, 0};
    if (path_end != std::string_view::npos)
        return {tail[path_end] == '?' ? url_problem::query : url_problem::fragment, {}, 0};

    std::string_view host;
    std::string_view port_text;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return {url_problem::bad_host, {}, 0};
        host = authority.substr(1, close - 1);
        const auto ip = parse_ip(host);
        if (!ip || !ip->v6) return {url_problem::bad_host, {}, 0};
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return {url_problem::bad_host, {}, 0};
            has_port = true;
            port_text = after.substr(1);
        }
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        const auto ip = parse_ip(host);
        if (!(ip && !ip->v6) && !is_dns_name(host)) return {url_problem::bad_host, {}, 0};
    }
    if (has_port) {
        if (port_text.empty() || port_text.size() > 5 ||
            !std::all_of(port_text.begin(), port_text.end(), is_digit))
            return {url_problem::bad_port, {}, 0};
        unsigned v = 0;
        for (char c : port_text) v = v * 10 + static_cast<unsigned>(c - '0');
        if (v == 0 || v > 65535) return {url_problem::bad_port, {}, 0};
        out.port = static_cast<std::uint16_t>(v);
    }
    out.host = std::string(host);
    return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    // d[i][j] = distance between a[0..i) and b[0..j), stored row-major.
    std::vector<std::size_t> d((n + 1) * (m + 1));
    auto at = [m, &d](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
    for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
    for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            std::size_t best = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                best = std::min(best, at(i - 2, j - 2) + 1);
            at(i, j) = best;
        }
    }
    return at(n, m);
}

std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates) {
    std::optional<std::string_view> best;
    std::size_t best_distance = 3;
    for (const auto candidate : candidates) {
        const std::size_t d = edit_distance(word, candidate);
        if (d < best_distance && d < word.size()) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

}  // namespace atsgate::config::detail

namespace atsgate::config {

bool cidr::contains(bool addr_v6, const std::array<std::uint8_t, 16>& addr) const noexcept {
    std::array<std::uint8_t, 16> a = addr;
    bool a6 = addr_v6;
    // ::ffff:a.b.c.d is the IPv4 client a.b.c.d (a dual-stack socket's view of it).
    static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (a6 && std::equal(std::begin(mapped), std::end(mapped), a.begin())) {
        std::copy(a.begin() + 12, a.end(), a.begin());
        a6 = false;
    }
    if (a6 != v6) return false;
    for (unsigned bit = 0; bit < prefix; ++bit) {
        const std::uint8_t m = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        if ((a[bit / 8] & m) != (bytes[bit / 8] & m)) return false;
    }
    return true;
}

}  // namespace atsgate::config
