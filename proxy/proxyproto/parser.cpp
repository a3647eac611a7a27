#include "proxy/proxyproto/parser.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <string_view>

namespace atsgate::proxyproto {

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> v2_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::size_t v2_fixed = 16;
constexpr std::uint8_t tlv_crc32c = 0x03;

result invalid(errc e) noexcept {
    result r;
    r.st = status::invalid;
    r.error = e;
    return r;
}

result need_more() noexcept { return {}; }

// True if `data` is a prefix of `sig` or starts with all of it.
template <class Sig>
bool matches_prefix(std::span<const std::uint8_t> data, const Sig& sig) noexcept {
    const std::size_t n = std::min(data.size(), std::size(sig));
    for (std::size_t i = 0; i < n; ++i)
        if (data[i] != static_cast<std::uint8_t>(sig[i])) return false;
    return true;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Decimal 0..max without leading zeros (except "0" itself), 1..digits long.
bool parse_decimal(std::string_view s, std::uint32_t max, std::size_t digits, std::uint32_t& out) noexcept {
    if (s.empty() || s.size() > digits) return false;
    if (s.size() > 1 && s[0] == '0') return false;
    std::uint32_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) return false;
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (v > max) return false;
    out = v;
    return true;
}

bool parse_ipv4(std::string_view s, endpoint& e) noexcept {
    for (int i = 0; i < 4; ++i) {
        const auto dot = s.find('.');
        const std::string_view part = (i < 3) ? s.substr(0, dot) : s;
        if (i < 3 && dot == std::string_view::npos) return false;
        std::uint32_t v = 0;
        if (!parse_decimal(part, 255, 3, v)) return false;
        e.address[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
        if (i < 3) s.remove_prefix(dot + 1);
    }
    return true;
}

bool parse_ipv6(std::string_view s, endpoint& e) noexcept {
    // INET6_ADDRSTRLEN (46) covers every textual form, the embedded-IPv4 one included.
    char buf[48];
    if (s.empty() || s.size() >= sizeof(buf)) return false;
    for (char c : s)
        if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.')) return false;
    std::copy(s.begin(), s.end(), buf);
    buf[s.size()] = '\0';
    return ::inet_pton(AF_INET6, buf, e.address.data()) == 1;
}

// Splits `line` at single spaces into at most `max` fields; false on an empty field (double
// space, leading or trailing space) or more than `max` fields.
template <std::size_t N>
bool split_fields(std::string_view line, std::array<std::string_view, N>& fields, std::size_t& count) noexcept {
    count = 0;
    for (;;) {
        const auto sp = line.find(' ');
        const std::string_view f = line.substr(0, sp);
        if (f.empty() || count == N) return false;
        fields[count++] = f;
        if (sp == std::string_view::npos) return true;
        line.remove_prefix(sp + 1);
    }
}

result parse_v1(std::span<const std::uint8_t> data) noexcept {
    // Find CRLF within the first 107 bytes; every byte before it must be printable ASCII.
    const std::size_t limit = std::min(data.size(), max_v1_length);
    std::size_t end = 0;  // index of '\r'
    bool found = false;
    for (std::size_t i = 0; i < limit; ++i) {
        const std::uint8_t c = data[i];
        if (c == '\r') {
            // Too long first, whatever follows: the reason must not depend on how the bytes were
            // split across reads (found by fuzz_proxyproto).
            if (i + 2 > max_v1_length) return invalid(errc::v1_too_long);
            if (i + 1 >= data.size()) return need_more();  // the LF may follow
            if (data[i + 1] != '\n') return invalid(errc::v1_malformed);
            end = i;
            found = true;
            break;
        }
        if (c < 0x20 || c > 0x7E) return invalid(errc::v1_malformed);
    }
    if (!found) return data.size() >= max_v1_length ? invalid(errc::v1_too_long) : need_more();

    const std::string_view line(reinterpret_cast<const char*>(data.data()), end);
    result r;
    r.st = status::done;
    r.hdr.version = 1;
    r.hdr.length = end + 2;
    // "PROXY UNKNOWN" alone, or followed by a space and anything: the spec tells receivers to
    // ignore what follows and use the connection's endpoints.
    const std::string_view rest = line.substr(v1_prefix.size());
    if (rest == "UNKNOWN" || rest.starts_with("UNKNOWN ")) return r;

    std::array<std::string_view, 6> f;
    std::size_t n = 0;
    if (!split_fields(line, f, n)) return invalid(errc::v1_malformed);
    if (n < 2 || f[0] != "PROXY") return invalid(errc::v1_malformed);
    const bool v4 = f[1] == "TCP4";
    if (!v4 && f[1] != "TCP6") return invalid(errc::v1_bad_protocol);
    if (n != 6) return invalid(errc::v1_malformed);
    r.hdr.fam = v4 ? family::ipv4 : family::ipv6;
    auto addr = v4 ? parse_ipv4 : parse_ipv6;
    if (!addr(f[2], r.hdr.source) || !addr(f[3], r.hdr.destination)) return invalid(errc::v1_bad_address);
    std::uint32_t sport = 0, dport = 0;
    if (!parse_decimal(f[4], 65535, 5, sport) || !parse_decimal(f[5], 65535, 5, dport)) return invalid(errc::v1_bad_port);
    r.hdr.source.port = static_cast<std::uint16_t>(sport);
    r.hdr.destination.port = static_cast<std::uint16_t>(dport);
    return r;
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[i] = c;
    }
    return t;
}();

std::uint32_t detail_crc32c_update(std::uint32_t c, std::span<const std::uint8_t> data) noexcept {
    for (std::uint8_t b : data) c = crc32c_table[(c ^ b) & 0xFF] ^ (c >> 8);
    return c;
}

std::uint16_t be16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

// Verifies a well-formed PP2_TYPE_CRC32C TLV in [from, total), if there is one. TLV bytes that do
// not form a TLV are ignored (the walk stops there).
bool checksum_ok(std::span<const std::uint8_t> h, std::size_t from) noexcept {
    std::size_t off = from;
    while (off + 3 <= h.size()) {
        const std::uint8_t type = h[off];
        const std::size_t len = be16(&h[off + 1]);
        const std::size_t value = off + 3;
        if (value + len > h.size()) return true;
        if (type == tlv_crc32c && len == 4) {
            const std::uint32_t want = (std::uint32_t{h[value]} << 24) | (std::uint32_t{h[value + 1]} << 16) |
                                       (std::uint32_t{h[value + 2]} << 8) | std::uint32_t{h[value + 3]};
            // The checksum covers the whole header with the checksum field zeroed.
            constexpr std::array<std::uint8_t, 4> zero{};
            std::uint32_t c = detail_crc32c_update(0xFFFFFFFFu, h.first(value));
            c = detail_crc32c_update(c, zero);
            c = detail_crc32c_update(c, h.subspan(value + 4));
            return (c ^ 0xFFFFFFFFu) == want;
        }
        off = value + len;
    }
    return true;
}

result parse_v2(std::span<const std::uint8_t> data) noexcept {
    if (data.size() >= 13) {
        const std::uint8_t vc = data[12];
        if ((vc >> 4) != 2) return invalid(errc::v2_bad_version);
        if ((vc & 0x0F) > 1) return invalid(errc::v2_bad_command);
    }
    const bool local = data.size() >= 13 && (data[12] & 0x0F) == 0;
    if (data.size() >= 14 && !local) {
        const std::uint8_t ft = data[13];
        if ((ft >> 4) > 3) return invalid(errc::v2_bad_family);
        if ((ft & 0x0F) > 1) return invalid(errc::v2_bad_transport);
    }
    if (data.size() < v2_fixed) return need_more();
    const std::size_t total = v2_fixed + be16(&data[14]);
    if (total > max_v2_length) return invalid(errc::v2_too_long);
    std::size_t addr_len = 0;
    const std::uint8_t fam = data[13] >> 4;
    if (!local) {
        static constexpr std::size_t block[] = {0, 12, 36, 216};  // UNSPEC, INET, INET6, UNIX
        addr_len = block[fam];
        if (total < v2_fixed + addr_len) return invalid(errc::v2_bad_length);
    }
    if (data.size() < total) return need_more();

    const auto h = data.first(total);
    result r;
    r.st = status::done;
    r.hdr.version = 2;
    r.hdr.length = total;
    r.hdr.local = local;
    if (local) return r;  // health check: the connection's own endpoints; block and TLVs skipped
    const std::uint8_t* a = h.data() + v2_fixed;
    if (fam == 1) {
        r.hdr.fam = family::ipv4;
        std::copy(a, a + 4, r.hdr.source.address.begin());
        std::copy(a + 4, a + 8, r.hdr.destination.address.begin());
        r.hdr.source.port = be16(a + 8);
        r.hdr.destination.port = be16(a + 10);
    } else if (fam == 2) {
        r.hdr.fam = family::ipv6;
        std::copy(a, a + 16, r.hdr.source.address.begin());
        std::copy(a + 16, a + 32, r.hdr.destination.address.begin());
        r.hdr.source.port = be16(a + 32);
        r.hdr.destination.port = be16(a + 34);
    }
    // UNSPEC and UNIX: family::none, the connection's own endpoints.
    if (!checksum_ok(h, v2_fixed + addr_len)) return invalid(errc::v2_bad_checksum);
    return r;
}

}  // namespace

result parse(std::span<const std::uint8_t> data) noexcept {
    if (data.empty()) return need_more();
    if (data[0] == 'P') {
        if (!matches_prefix(data, v1_prefix)) return invalid(errc::not_proxy_protocol);
        return data.size() <= v1_prefix.size() ? need_more() : parse_v1(data);
    }
    if (!matches_prefix(data, v2_signature)) return invalid(errc::not_proxy_protocol);
    return data.size() < v2_signature.size() ? need_more() : parse_v2(data);
}

std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept {
    return detail_crc32c_update(0xFFFFFFFFu, data) ^ 0xFFFFFFFFu;
}

std::string to_string(family f, const endpoint& e) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (f == family::ipv4) return ::inet_ntop(AF_INET, e.address.data(), buf, sizeof(buf)) ? buf : "";
    if (f == family::ipv6) return ::inet_ntop(AF_INET6, e.address.data(), buf, sizeof(buf)) ? buf : "";
    return {};
}

}  // namespace atsgate::proxyproto
