#include "proxy/acme/timing.hpp"

#include "tls/civil_time.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace atsgate::acme {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

bool valid_date(int y, int m, int d) noexcept {
    if (m < 1 || m > 12 || d < 1) return false;
    static constexpr std::array<int, 12> len{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d > len[static_cast<std::size_t>(m - 1)]) return false;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

}  // namespace

std::int64_t renew_at_two_thirds(std::int64_t not_before, std::int64_t not_after) noexcept {
    const std::int64_t lifetime = not_after - not_before + 1;
    return not_before + lifetime * 2 / 3;
}

std::optional<std::int64_t> choose_in_window(const ari_window& w, std::int64_t now, double u) noexcept {
    if (w.end <= w.start) return std::nullopt;
    u = std::clamp(u, 0.0, 1.0);
    const auto span = static_cast<double>(w.end - w.start);
    const std::int64_t t = w.start + static_cast<std::int64_t>(std::floor(u * span));
    return std::max(t, now);
}

std::optional<ari_window> parse_renewal_info(std::string_view json) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(json, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* win = v.as_object().if_contains("suggestedWindow");
    if (win == nullptr || !win->is_object()) return std::nullopt;
    const auto* s = win->as_object().if_contains("start");
    const auto* e = win->as_object().if_contains("end");
    if (s == nullptr || e == nullptr || !s->is_string() || !e->is_string()) return std::nullopt;
    auto start = parse_rfc3339(s->as_string());
    auto end = parse_rfc3339(e->as_string());
    if (!start || !end || *end <= *start) return std::nullopt;
    return ari_window{*start, *end};
}

std::int64_t ari_poll_interval(std::optional<std::int64_t> retry_after) noexcept {
    if (!retry_after) return 6 * 3600;
    return std::clamp<std::int64_t>(*retry_after, 60, 24 * 3600);
}

std::int64_t backoff_ms(unsigned failures, std::int64_t base_ms, std::int64_t cap_ms, double u) noexcept {
    if (failures == 0) return 0;
    std::int64_t d = base_ms;
    for (unsigned i = 1; i < failures && d < cap_ms; ++i) d *= 2;
    d = std::min(d, cap_ms);
    u = std::clamp(u, 0.0, 1.0);
    return d / 2 + static_cast<std::int64_t>(u * static_cast<double>(d / 2));
}

std::optional<std::int64_t> parse_retry_after(std::string_view v, std::int64_t now) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    if (v.front() >= '0' && v.front() <= '9') {
        std::int64_t n = 0;
        for (char c : v) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + (c - '0');
            if (n > 10LL * 365 * 86400) return std::nullopt;  // not a plausible delay
        }
        return n;
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters).
    static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (v.size() != 29 || v.substr(3, 2) != ", " || v.substr(25) != " GMT") return std::nullopt;
    int d = 0, y = 0, hh = 0, mm = 0, ss = 0;
    if (!digits(v, 5, 2, d) || v[7] != ' ' || v[11] != ' ' || !digits(v, 12, 4, y) || v[16] != ' ' ||
        !digits(v, 17, 2, hh) || v[19] != ':' || !digits(v, 20, 2, mm) || v[22] != ':' || !digits(v, 23, 2, ss))
        return std::nullopt;
    auto it = std::find(months.begin(), months.end(), v.substr(8, 3));
    if (it == months.end()) return std::nullopt;
    const int m = static_cast<int>(it - months.begin()) + 1;
    if (!valid_date(y, m, d) || hh > 23 || mm > 59 || ss > 60) return std::nullopt;
    const std::int64_t t = tls::unix_from_civil(y, m, d) + hh * 3600 + mm * 60 + ss;
    return std::max<std::int64_t>(0, t - now);
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) noexcept {
    int y = 0, mo = 0, d = 0, hh = 0, mi = 0, ss = 0;
    if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, hh) ||
        s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, ss))
        return std::nullopt;
    if (!valid_date(y, mo, d) || hh > 23 || mi > 59 || ss > 60) return std::nullopt;
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.') {
        ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start) return std::nullopt;
    }
    std::int64_t offset = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        int oh = 0, om = 0;
        if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om) || oh > 23 ||
            om > 59)
            return std::nullopt;
        offset = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    return tls::unix_from_civil(y, mo, d) + hh * 3600 + mi * 60 + ss - offset;
}

}  // namespace atsgate::acme
