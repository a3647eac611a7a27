// proxyproto::parse: every rule of the PROXY protocol v1 and v2 as atsgate applies it, each input
// also fed at every prefix length (the need_more contract the socket driver relies on: a header
// never ends inside a need_more input), and with client bytes after the header.

#include "proxy/proxyproto/parser.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace atsgate::proxyproto;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes b(std::string_view s) { return bytes(s.begin(), s.end()); }

result parse_all(const bytes& in) { return parse(std::span<const std::uint8_t>(in.data(), in.size())); }

// The first bytes of a TLS 1.2/1.3 ClientHello record, as they follow a header.
const bytes client_hello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};

// Every prefix shorter than the header is need_more; the header alone and the header followed by
// client bytes give the same result.
void check_prefixes(const bytes& header_bytes, const result& whole) {
    REQUIRE(whole.st == status::done);
    REQUIRE(whole.hdr.length == header_bytes.size());
    for (std::size_t k = 0; k < header_bytes.size(); ++k) {
        const auto r = parse(std::span<const std::uint8_t>(header_bytes.data(), k));
        INFO("prefix of " << k << " bytes");
        CHECK(r.st == status::need_more);
    }
    bytes more = header_bytes;
    more.insert(more.end(), client_hello.begin(), client_hello.end());
    const auto r = parse_all(more);
    CHECK(r.st == status::done);
    CHECK(r.hdr.length == header_bytes.size());
    CHECK(r.hdr.fam == whole.hdr.fam);
    CHECK(r.hdr.source.address == whole.hdr.source.address);
    CHECK(r.hdr.source.port == whole.hdr.source.port);
}

// An invalid input: no prefix of it is done, and the whole gives `e`.
void check_invalid(const bytes& in, errc e) {
    const auto r = parse_all(in);
    CHECK(r.st == status::invalid);
    CHECK(to_string(r.error) == std::string(to_string(e)));
    for (std::size_t k = 0; k < in.size(); ++k) {
        const auto p = parse(std::span<const std::uint8_t>(in.data(), k));
        INFO("prefix of " << k << " bytes");
        CHECK(p.st != status::done);
        if (p.st == status::invalid) CHECK(to_string(p.error) == std::string(to_string(e)));
    }
}

// A v2 header: signature, ver/cmd, fam/transport, length, then `body` (address block + TLVs).
bytes v2(std::uint8_t ver_cmd, std::uint8_t fam_tr, const bytes& body, int length_override = -1) {
    bytes h = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, ver_cmd, fam_tr};
    const std::size_t len = length_override >= 0 ? static_cast<std::size_t>(length_override) : body.size();
    h.push_back(static_cast<std::uint8_t>(len >> 8));
    h.push_back(static_cast<std::uint8_t>(len & 0xFF));
    h.insert(h.end(), body.begin(), body.end());
    return h;
}

// INET address block 192.0.2.10:51234 -> 198.51.100.7:443.
const bytes inet_block = {192, 0, 2, 10, 198, 51, 100, 7, 0xC8, 0x22, 0x01, 0xBB};
// INET6 block 2001:db8::1:51234 -> 2001:db8::2:443.
bytes inet6_block() {
    bytes a(36, 0);
    a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8; a[15] = 1;
    a[16] = 0x20; a[17] = 0x01; a[18] = 0x0d; a[19] = 0xb8; a[31] = 2;
    a[32] = 0xC8; a[33] = 0x22; a[34] = 0x01; a[35] = 0xBB;
    return a;
}

bytes tlv(std::uint8_t type, const bytes& value) {
    bytes t;
    t.reserve(3 + value.size());
    t.push_back(type);
    t.push_back(static_cast<std::uint8_t>(value.size() >> 8));
    t.push_back(static_cast<std::uint8_t>(value.size() & 0xFF));
    for (const std::uint8_t v : value) t.push_back(v);  // (insert() trips GCC 12's -Warray-bounds at -O3)
    return t;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Writes the CRC32C of `h` (computed with the 4 bytes at `at` zero) at `at`, xor `mask`.
void set_crc(bytes& h, std::size_t at, std::uint32_t mask = 0) {
    for (std::size_t i = 0; i < 4; ++i) h[at + i] = 0;
    const std::uint32_t c = crc32c(h) ^ mask;
    h[at] = static_cast<std::uint8_t>(c >> 24);
    h[at + 1] = static_cast<std::uint8_t>(c >> 16);
    h[at + 2] = static_cast<std::uint8_t>(c >> 8);
    h[at + 3] = static_cast<std::uint8_t>(c);
}

// `h` with the checksum in its last 4 bytes.
bytes with_crc(bytes h, std::uint32_t mask = 0) {
    set_crc(h, h.size() - 4, mask);
    return h;
}

}  // namespace

TEST_CASE("proxyproto v1: valid headers", "[unit][proxyproto]") {
    struct row {
        const char* label;
        std::string text;
        family fam;
        std::string src, dst;
        std::uint16_t sport, dport;
    };
    const std::string max6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::vector<row> rows{
        {"TCP4", "PROXY TCP4 192.0.2.10 198.51.100.7 51234 443\r\n", family::ipv4, "192.0.2.10", "198.51.100.7", 51234, 443},
        {"TCP4 zero octets and ports", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", family::ipv4, "0.0.0.0", "255.255.255.255", 0, 65535},
        {"TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n", family::ipv6, "2001:db8::1", "2001:db8::2", 51234, 443},
        {"TCP6 IPv4-mapped", "PROXY TCP6 ::ffff:192.0.2.10 ::1 1 2\r\n", family::ipv6, "::ffff:192.0.2.10", "::1", 1, 2},
        {"TCP6 longest (104 bytes)", "PROXY TCP6 " + max6 + " " + max6 + " 65535 65535\r\n", family::ipv6, max6, max6, 65535, 65535},
        {"UNKNOWN", "PROXY UNKNOWN\r\n", family::none, "", "", 0, 0},
        {"UNKNOWN with the rest ignored (107 bytes)", "PROXY UNKNOWN " + max6 + " " + max6 + " 65535 65535\r\n", family::none, "", "", 0, 0},
        {"UNKNOWN with junk after it", "PROXY UNKNOWN whatever the balancer says\r\n", family::none, "", "", 0, 0},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            const auto in = b(r.text);
            const auto res = parse_all(in);
            REQUIRE(res.st == status::done);
            CHECK(res.hdr.version == 1);
            CHECK_FALSE(res.hdr.local);
            CHECK(res.hdr.fam == r.fam);
            CHECK(res.hdr.length == r.text.size());
            CHECK(to_string(res.hdr.fam, res.hdr.source) == r.src);
            CHECK(to_string(res.hdr.fam, res.hdr.destination) == r.dst);
            if (r.fam != family::none) {
                CHECK(res.hdr.source.port == r.sport);
                CHECK(res.hdr.destination.port == r.dport);
            }
            check_prefixes(in, res);
        }
    }
}

TEST_CASE("proxyproto v1: refused headers, each with its reason", "[unit][proxyproto]") {
    struct row {
        const char* label;
        std::string text;
        errc e;
    };
    const std::string max6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::vector<row> rows{
        {"lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", errc::not_proxy_protocol},
        {"PROXY without space", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", errc::not_proxy_protocol},
        {"HTTP request", "GET / HTTP/1.1\r\n", errc::not_proxy_protocol},
        {"TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", errc::v1_bad_protocol},
        {"UNKNOWNX", "PROXY UNKNOWNX\r\n", errc::v1_bad_protocol},
        {"UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", errc::v1_bad_protocol},
        {"double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", errc::v1_malformed},
        {"trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", errc::v1_malformed},
        {"missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", errc::v1_malformed},
        {"extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", errc::v1_malformed},
        {"tab", "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", errc::v1_malformed},
        {"NUL", std::string("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33), errc::v1_malformed},
        {"LF without CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", errc::v1_malformed},
        {"CR without LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", errc::v1_malformed},
        {"octet 256", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", errc::v1_bad_address},
        {"leading zero octet", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", errc::v1_bad_address},
        {"three octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", errc::v1_bad_address},
        {"five octets", "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", errc::v1_bad_address},
        {"empty octet", "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n", errc::v1_bad_address},
        {"TCP4 with IPv6", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", errc::v1_bad_address},
        {"TCP6 with IPv4", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", errc::v1_bad_address},
        {"IPv6 with zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", errc::v1_bad_address},
        {"IPv6 two ::", "PROXY TCP6 1::2::3 ::1 1 2\r\n", errc::v1_bad_address},
        {"port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", errc::v1_bad_port},
        {"port with leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", errc::v1_bad_port},
        {"negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", errc::v1_bad_port},
        {"port 6 digits", "PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n", errc::v1_bad_port},
        {"108 bytes without CRLF", "PROXY UNKNOWN " + std::string(94, 'x'), errc::v1_too_long},
        {"CRLF at bytes 107-108", "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n", errc::v1_too_long},
        // fuzz_proxyproto: a CR at byte 107 followed by something else than LF was v1_malformed as a
        // whole but v1_too_long when the read ended at the CR.
        {"CR at byte 107 then junk", "PROXY UNKNOWN " + std::string(92, '<') + "\r.238\n", errc::v1_too_long},
        {"TCP6 line of 108 bytes", "PROXY TCP6 " + max6 + " " + max6 + " 65535 65535 " + std::string(3, 'x') + "\r\n", errc::v1_too_long},
        {"TCP6 line of 107 bytes with an extra field", "PROXY TCP6 " + max6 + " " + max6 + " 65535 65535 xx\r\n", errc::v1_malformed},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) { check_invalid(b(r.text), r.e); }
    }
}

TEST_CASE("proxyproto: bytes that are not a PROXY header are refused at the first byte that shows it",
          "[unit][proxyproto]") {
    // A TLS ClientHello (what a client that bypasses the balancer sends) at once.
    const auto r = parse_all(client_hello);
    CHECK(r.st == status::invalid);
    CHECK(r.error == errc::not_proxy_protocol);
    CHECK(parse(std::span<const std::uint8_t>(client_hello.data(), 1)).st == status::invalid);
    // Nothing yet: wait.
    CHECK(parse({}).st == status::need_more);
    // Each byte of the v2 signature flipped is refused as soon as that byte is there.
    const bytes good = v2(0x21, 0x11, inet_block);
    for (std::size_t i = 0; i < 12; ++i) {
        bytes bad = good;
        bad[i] ^= 0x20;
        INFO("signature byte " << i);
        const auto p = parse(std::span<const std::uint8_t>(bad.data(), i + 1));
        CHECK(p.st == status::invalid);
        CHECK(p.error == errc::not_proxy_protocol);
    }
}

TEST_CASE("proxyproto v2: valid headers", "[unit][proxyproto]") {
    SECTION("PROXY, INET, STREAM") {
        const auto h = v2(0x21, 0x11, inet_block);
        const auto r = parse_all(h);
        REQUIRE(r.st == status::done);
        CHECK(r.hdr.version == 2);
        CHECK_FALSE(r.hdr.local);
        CHECK(r.hdr.fam == family::ipv4);
        CHECK(to_string(r.hdr.fam, r.hdr.source) == "192.0.2.10");
        CHECK(r.hdr.source.port == 51234);
        CHECK(to_string(r.hdr.fam, r.hdr.destination) == "198.51.100.7");
        CHECK(r.hdr.destination.port == 443);
        check_prefixes(h, r);
    }
    SECTION("PROXY, INET6, STREAM") {
        const auto h = v2(0x21, 0x21, inet6_block());
        const auto r = parse_all(h);
        REQUIRE(r.st == status::done);
        CHECK(r.hdr.fam == family::ipv6);
        CHECK(to_string(r.hdr.fam, r.hdr.source) == "2001:db8::1");
        CHECK(to_string(r.hdr.fam, r.hdr.destination) == "2001:db8::2");
        CHECK(r.hdr.source.port == 51234);
        check_prefixes(h, r);
    }
    SECTION("PROXY, INET, transport UNSPEC") {
        const auto r = parse_all(v2(0x21, 0x10, inet_block));
        REQUIRE(r.st == status::done);
        CHECK(r.hdr.fam == family::ipv4);
    }
    SECTION("LOCAL (a health check of the balancer): own endpoints; family, transport and block ignored") {
        for (const std::uint8_t fam_tr : {0x00, 0x11, 0x22, 0xFF}) {
            const auto h = v2(0x20, fam_tr, bytes(7, 0xAB));
            const auto r = parse_all(h);
            INFO("fam/transport byte " << int(fam_tr));
            REQUIRE(r.st == status::done);
            CHECK(r.hdr.local);
            CHECK(r.hdr.fam == family::none);
            CHECK(r.hdr.length == 16 + 7);
            check_prefixes(h, r);
        }
        const auto empty = parse_all(v2(0x20, 0x00, {}));
        REQUIRE(empty.st == status::done);
        CHECK(empty.hdr.length == 16);
    }
    SECTION("PROXY with family UNSPEC or UNIX: own endpoints") {
        const auto unspec = parse_all(v2(0x21, 0x00, bytes(5, 1)));
        REQUIRE(unspec.st == status::done);
        CHECK(unspec.hdr.fam == family::none);
        CHECK_FALSE(unspec.hdr.local);
        const auto unix_h = v2(0x21, 0x31, bytes(216, 'a'));
        const auto ux = parse_all(unix_h);
        REQUIRE(ux.st == status::done);
        CHECK(ux.hdr.fam == family::none);
        check_prefixes(unix_h, ux);
    }
    SECTION("TLVs are skipped, whatever they hold") {
        const auto tlvs = cat({tlv(0x01, b("http/1.1")), tlv(0x02, b("mdm.example.com")), tlv(0x04, bytes(16, 0)),
                               tlv(0x05, bytes(20, 0x42)), tlv(0xEA, b("\x01vpce-08d2bf15fac5001c9")),
                               tlv(0x20, bytes(40, 0xFF))});
        const auto h = v2(0x21, 0x11, cat({inet_block, tlvs}));
        const auto r = parse_all(h);
        REQUIRE(r.st == status::done);
        CHECK(to_string(r.hdr.fam, r.hdr.source) == "192.0.2.10");
        CHECK(r.hdr.length == h.size());
        check_prefixes(h, r);
        // Malformed TLV bytes (a length running past the header, a lone type byte) are ignored too.
        for (const bytes& junk : {bytes{0x01, 0xFF, 0xFF, 0x00}, bytes{0x03}, bytes{0x03, 0x00}, bytes{0x03, 0x00, 0x09, 1, 2}}) {
            const auto j = parse_all(v2(0x21, 0x11, cat({inet_block, junk})));
            CHECK(j.st == status::done);
            CHECK(j.hdr.fam == family::ipv4);
        }
    }
    SECTION("a PP2_TYPE_CRC32C TLV is verified") {
        const auto base = v2(0x21, 0x11, cat({inet_block, tlv(0x01, b("h2")), tlv(0x03, bytes(4, 0))}));
        const auto good = with_crc(base);
        const auto r = parse_all(good);
        REQUIRE(r.st == status::done);
        CHECK(r.hdr.fam == family::ipv4);
        check_prefixes(good, r);
        // Not necessarily the last TLV: the checksum covers the TLVs after it too.
        auto mid = v2(0x21, 0x21, cat({inet6_block(), tlv(0x03, bytes(4, 0)), tlv(0x04, bytes(3, 0))}));
        set_crc(mid, 16 + 36 + 3);
        const auto m = parse_all(mid);
        REQUIRE(m.st == status::done);
        CHECK(m.hdr.fam == family::ipv6);
        mid.back() ^= 1;  // a NOOP byte changed in transit
        CHECK(parse_all(mid).error == errc::v2_bad_checksum);
        // A CRC32C TLV of the wrong size is not a checksum: ignored.
        CHECK(parse_all(v2(0x21, 0x11, cat({inet_block, tlv(0x03, bytes(3, 0))}))).st == status::done);
    }
}

TEST_CASE("proxyproto v2: refused headers, each with its reason, as soon as the byte that shows it arrives",
          "[unit][proxyproto]") {
    struct row {
        const char* label;
        bytes h;
        errc e;
    };
    const std::vector<row> rows{
        {"version 1", v2(0x11, 0x11, inet_block), errc::v2_bad_version},
        {"version 3", v2(0x31, 0x11, inet_block), errc::v2_bad_version},
        {"version 0", v2(0x01, 0x11, inet_block), errc::v2_bad_version},
        {"command 2", v2(0x22, 0x11, inet_block), errc::v2_bad_command},
        {"command 15", v2(0x2F, 0x11, inet_block), errc::v2_bad_command},
        {"family 4", v2(0x21, 0x41, inet_block), errc::v2_bad_family},
        {"family 15", v2(0x21, 0xF1, inet_block), errc::v2_bad_family},
        {"transport DGRAM", v2(0x21, 0x12, inet_block), errc::v2_bad_transport},
        {"transport 3", v2(0x21, 0x13, inet_block), errc::v2_bad_transport},
        {"INET block of 11 bytes", v2(0x21, 0x11, bytes(inet_block.begin(), inet_block.end() - 1)), errc::v2_bad_length},
        {"INET6 block of 35 bytes", v2(0x21, 0x21, bytes(35, 0)), errc::v2_bad_length},
        {"UNIX block of 215 bytes", v2(0x21, 0x31, bytes(215, 0)), errc::v2_bad_length},
        {"INET with length 0", v2(0x21, 0x11, {}), errc::v2_bad_length},
        {"CRC32C mismatch", with_crc(v2(0x21, 0x11, cat({inet_block, tlv(0x03, bytes(4, 0))})), 1), errc::v2_bad_checksum},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) { check_invalid(r.h, r.e); }
    }
    SECTION("a length over the limit is refused from the 16 fixed bytes, before any body") {
        const auto h = v2(0x21, 0x11, inet_block, static_cast<int>(max_v2_length - 16 + 1));
        const auto r = parse(std::span<const std::uint8_t>(h.data(), 16));
        CHECK(r.st == status::invalid);
        CHECK(r.error == errc::v2_too_long);
        // The limit itself is accepted (a LOCAL header of exactly max_v2_length bytes).
        const auto at_limit = v2(0x20, 0x00, bytes(max_v2_length - 16, 0));
        CHECK(parse_all(at_limit).st == status::done);
    }
    SECTION("the version is judged from 13 bytes, the family from 14") {
        const auto h = v2(0x11, 0x11, inet_block);
        CHECK(parse(std::span<const std::uint8_t>(h.data(), 12)).st == status::need_more);
        CHECK(parse(std::span<const std::uint8_t>(h.data(), 13)).st == status::invalid);
        const auto f = v2(0x21, 0x51, inet_block);
        CHECK(parse(std::span<const std::uint8_t>(f.data(), 13)).st == status::need_more);
        CHECK(parse(std::span<const std::uint8_t>(f.data(), 14)).error == errc::v2_bad_family);
    }
}

TEST_CASE("proxyproto: CRC-32C and address text", "[unit][proxyproto]") {
    // The standard check value of CRC-32C (RFC 3720 B.4 / the Castagnoli polynomial).
    const auto digits = b("123456789");
    CHECK(crc32c(digits) == 0xE3069283u);
    CHECK(crc32c({}) == 0u);
    endpoint e;
    CHECK(to_string(family::none, e).empty());
    e.address[0] = 10; e.address[3] = 1;
    CHECK(to_string(family::ipv4, e) == "10.0.0.1");
}

TEST_CASE("proxyproto: errc names and messages are distinct and stable", "[unit][proxyproto]") {
    std::vector<std::string> names;
    for (int i = 1; i <= static_cast<int>(errc::v2_bad_checksum); ++i) {
        const auto e = static_cast<errc>(i);
        const std::string n = to_string(e);
        CHECK(n != "unknown");
        CHECK(std::find(names.begin(), names.end(), n) == names.end());
        names.push_back(n);
        const boost::system::error_code ec = e;
        CHECK(ec.category().name() == std::string("atsgate.proxyproto"));
        CHECK(ec.message().find("PROXY") != std::string::npos);
    }
}
