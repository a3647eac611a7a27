// Table-driven tests for the config layer's scalar parsers (config/detail_values.hpp).

#include "config/detail_values.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace cfg = atsgate::config;
namespace detail = atsgate::config::detail;
using detail::parse_status;
using namespace std::chrono_literals;

TEST_CASE("config: parse_duration", "[config][values]") {
    struct row {
        const char* label;
        const char* text;
        parse_status status;
        cfg::duration value;
    };
    const std::vector<row> rows = {
        {"milliseconds", "500ms", parse_status::ok, 500ms},
        {"seconds", "30s", parse_status::ok, 30s},
        {"minutes", "2m", parse_status::ok, 2min},
        {"hours", "1h", parse_status::ok, 1h},
        {"zero", "0s", parse_status::ok, 0ms},
        {"zero ms", "0ms", parse_status::ok, 0ms},
        {"leading zeros", "010s", parse_status::ok, 10s},
        {"largest hour count", "2562047788015h", parse_status::ok, 2562047788015h},
        {"empty", "", parse_status::bad_shape, 0ms},
        {"bare number", "10", parse_status::bad_shape, 0ms},
        {"unit only", "s", parse_status::bad_shape, 0ms},
        {"upper-case unit", "10S", parse_status::bad_shape, 0ms},
        {"space before unit", "10 s", parse_status::bad_shape, 0ms},
        {"leading space", " 10s", parse_status::bad_shape, 0ms},
        {"trailing space", "10s ", parse_status::bad_shape, 0ms},
        {"negative", "-1s", parse_status::bad_shape, 0ms},
        {"plus sign", "+1s", parse_status::bad_shape, 0ms},
        {"fraction", "1.5s", parse_status::bad_shape, 0ms},
        {"compound", "1m30s", parse_status::bad_shape, 0ms},
        {"days are not a unit", "1d", parse_status::bad_shape, 0ms},
        {"microseconds are not a unit", "10us", parse_status::bad_shape, 0ms},
        {"unit spelled out", "10sec", parse_status::bad_shape, 0ms},
        {"hours overflow int64 milliseconds", "2562047788016h", parse_status::overflow, 0ms},
        {"digits overflow uint64", "99999999999999999999ms", parse_status::overflow, 0ms},
        {"int64 max ms", "9223372036854775807ms", parse_status::ok, cfg::duration(std::numeric_limits<std::int64_t>::max())},
        {"int64 max + 1 ms", "9223372036854775808ms", parse_status::overflow, 0ms},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label << ": \"" << r.text << "\"") {
            const auto got = detail::parse_duration(r.text);
            CHECK(got.status == r.status);
            if (r.status == parse_status::ok) CHECK(got.value == r.value);
        }
    }
}

TEST_CASE("config: format_duration picks the largest exact unit and round-trips", "[config][values]") {
    struct row {
        cfg::duration value;
        const char* text;
    };
    const std::vector<row> rows = {
        {0ms, "0s"},     {1ms, "1ms"},     {1500ms, "1500ms"}, {1s, "1s"},   {90s, "90s"},
        {2min, "2m"},    {61min, "61m"},   {1h, "1h"},         {24h, "24h"}, {100ms, "100ms"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.text) {
            CHECK(detail::format_duration(r.value) == r.text);
            CHECK(detail::parse_duration(detail::format_duration(r.value)).value == r.value);
        }
    }
}

TEST_CASE("config: parse_size", "[config][values]") {
    struct row {
        const char* label;
        const char* text;
        parse_status status;
        std::uint64_t value;
    };
    constexpr std::uint64_t kib = 1024, mib = kib * 1024, gib = mib * 1024;
    const std::vector<row> rows = {
        {"bytes", "32768", parse_status::ok, 32768},
        {"zero", "0", parse_status::ok, 0},
        {"k", "32k", parse_status::ok, 32 * kib},
        {"K", "32K", parse_status::ok, 32 * kib},
        {"KiB", "32KiB", parse_status::ok, 32 * kib},
        {"m", "1m", parse_status::ok, mib},
        {"M", "1M", parse_status::ok, mib},
        {"MiB", "1MiB", parse_status::ok, mib},
        {"g", "4g", parse_status::ok, 4 * gib},
        {"G", "4G", parse_status::ok, 4 * gib},
        {"GiB", "4GiB", parse_status::ok, 4 * gib},
        {"zero with suffix", "0GiB", parse_status::ok, 0},
        {"uint64 max bytes", "18446744073709551615", parse_status::ok, std::numeric_limits<std::uint64_t>::max()},
        {"largest GiB count", "17179869183GiB", parse_status::ok, 17179869183ull * gib},
        {"empty", "", parse_status::bad_shape, 0},
        {"suffix only", "GiB", parse_status::bad_shape, 0},
        {"decimal GB", "4GB", parse_status::bad_shape, 0},
        {"decimal kB", "4kB", parse_status::bad_shape, 0},
        {"bytes suffix", "1024B", parse_status::bad_shape, 0},
        {"lower-case kib", "4kib", parse_status::bad_shape, 0},
        {"terabytes", "1T", parse_status::bad_shape, 0},
        {"space", "4 GiB", parse_status::bad_shape, 0},
        {"negative", "-1", parse_status::bad_shape, 0},
        {"fraction", "1.5G", parse_status::bad_shape, 0},
        {"hex", "0x400", parse_status::bad_shape, 0},
        {"uint64 max + 1", "18446744073709551616", parse_status::overflow, 0},
        {"GiB multiply overflows", "17179869184GiB", parse_status::overflow, 0},
        {"KiB multiply overflows", "18014398509481984k", parse_status::overflow, 0},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label << ": \"" << r.text << "\"") {
            const auto got = detail::parse_size(r.text);
            CHECK(got.status == r.status);
            if (r.status == parse_status::ok) CHECK(got.value == r.value);
        }
    }
}

TEST_CASE("config: format_size picks the largest exact binary unit and round-trips", "[config][values]") {
    struct row {
        std::uint64_t value;
        const char* text;
    };
    const std::vector<row> rows = {
        {0, "0"},           {1000, "1000"},      {1024, "1KiB"},         {1536, "1536"},
        {65536, "64KiB"},   {1048576, "1MiB"},   {4ull << 30, "4GiB"},   {1024ull << 30, "1024GiB"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.text) {
            CHECK(detail::format_size(r.value) == r.text);
            CHECK(detail::parse_size(detail::format_size(r.value)).value == r.value);
        }
    }
}

namespace {

// What glibc's inet_pton says, as the reference our parser must never be more lenient than.
std::optional<detail::ip_address> reference_parse(const std::string& text) {
    detail::ip_address out;
    unsigned char buf[16] = {};
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
        std::memcpy(out.bytes.data(), buf, 4);
        return out;
    }
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        out.v6 = true;
        std::memcpy(out.bytes.data(), buf, 16);
        return out;
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("config: parse_ip agrees with inet_pton", "[config][values]") {
    struct row {
        const char* text;
        bool valid;
    };
    const std::vector<row> rows = {
        {"0.0.0.0", true},
        {"127.0.0.1", true},
        {"255.255.255.255", true},
        {"10.0.0.5", true},
        {"256.0.0.1", false},
        {"1.2.3", false},
        {"1.2.3.4.5", false},
        {"01.2.3.4", false},
        {"1..2.3", false},
        {"1.2.3.4 ", false},
        {"", false},
        {"localhost", false},
        {"::", true},
        {"::1", true},
        {"1::", true},
        {"fe80::1", true},
        {"2001:db8::8a2e:370:7334", true},
        {"2001:0db8:0000:0000:0000:ff00:0042:8329", true},
        {"1:2:3:4:5:6:7:8", true},
        {"1:2:3:4:5:6:7::", true},
        {"::2:3:4:5:6:7:8", true},
        {"::ffff:192.0.2.1", true},
        {"1:2:3:4:5:6:1.2.3.4", true},
        {"1:2:3:4:5:6:7:1.2.3.4", false},
        {"::ffff:192.0.2.256", false},
        {"1:2:3:4:5:6:7:8:9", false},
        {"1:2:3:4:5:6:7", false},
        {"1::2::3", false},
        {":::", false},
        {":1", false},
        {"1:", false},
        {"12345::", false},
        {"g::", false},
        {"[::1]", false},
        {"fe80::1%eth0", false},
        {"1.2.3.4::", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION("\"" << r.text << "\"") {
            const auto got = detail::parse_ip(r.text);
            const auto ref = reference_parse(r.text);
            CHECK(got.has_value() == r.valid);
            CHECK(ref.has_value() == r.valid);
            if (got && ref) CHECK(*got == *ref);
        }
    }
}

TEST_CASE("config: ip_address classification", "[config][values]") {
    struct row {
        const char* text;
        bool loopback;
        bool unspecified;
    };
    const std::vector<row> rows = {
        {"127.0.0.1", true, false},   {"127.255.0.9", true, false}, {"128.0.0.1", false, false},
        {"0.0.0.0", false, true},     {"::1", true, false},         {"::", false, true},
        {"::ffff:127.0.0.1", false, false}, {"::2", false, false},  {"10.0.0.1", false, false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.text) {
            const auto ip = detail::parse_ip(r.text);
            REQUIRE(ip);
            CHECK(ip->is_loopback() == r.loopback);
            CHECK(ip->is_unspecified() == r.unspecified);
        }
    }
}

TEST_CASE("config: is_dns_name", "[config][values]") {
    const std::string label63(63, 'a');
    const std::string label64(64, 'a');
    // 4 labels of 63 + 3 dots = 255 > 253; 3 x 63 + 61 + 3 dots = 253.
    const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    const std::string name254 = label63 + "." + label63 + "." + label63 + "." + std::string(62, 'b');
    struct row {
        std::string text;
        bool valid;
    };
    const std::vector<row> rows = {
        {"mdm.example.com", true},
        {"MDM.Example.COM", true},
        {"localhost", true},
        {"a-b.c", true},
        {"xn--bcher-kva.example", true},
        {"1a.example.com", true},
        {"host-1", true},
        {label63 + ".com", true},
        {label64 + ".com", false},
        {name253, true},
        {name254, false},
        {"", false},
        {"*.example.com", false},
        {"-a.example.com", false},
        {"a-.example.com", false},
        {"a..b", false},
        {".example.com", false},
        {"example.com.", false},
        {"under_score.example", false},
        {"sp ace.example", false},
        {"10.0.0.256", false},
        {"1.2.3.4", false},
        {"123", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION("\"" << r.text.substr(0, 40) << "\" (" << r.text.size() << " chars)") {
            CHECK(detail::is_dns_name(r.text) == r.valid);
        }
    }
}

TEST_CASE("config: is_valid_name", "[config][values]") {
    struct row {
        std::string text;
        bool valid;
    };
    const std::vector<row> rows = {
        {"mdm", true},         {"legacy-1.a_b", true}, {std::string(64, 'x'), true},
        {std::string(65, 'x'), false}, {"", false},    {"with space", false},
        {"slash/", false},     {"é", false},           {"quote\"", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION("\"" << r.text << "\"") { CHECK(detail::is_valid_name(r.text) == r.valid); }
    }
}

TEST_CASE("config: parse_upstream_url", "[config][values]") {
    using detail::url_problem;
    struct row {
        const char* text;
        url_problem problem;
        const char* host;
        std::uint16_t port;
    };
    const std::vector<row> rows = {
        {"http://10.0.0.5:8080", url_problem::ok, "10.0.0.5", 8080},
        {"http://10.0.0.5", url_problem::ok, "10.0.0.5", 80},
        {"http://10.0.0.5/", url_problem::ok, "10.0.0.5", 80},
        {"http://10.0.0.5:8080/", url_problem::ok, "10.0.0.5", 8080},
        {"http://backend.internal:81", url_problem::ok, "backend.internal", 81},
        {"http://localhost", url_problem::ok, "localhost", 80},
        {"HTTP://Backend", url_problem::ok, "Backend", 80},
        {"http://[::1]:8080", url_problem::ok, "::1", 8080},
        {"http://[2001:db8::1]", url_problem::ok, "2001:db8::1", 80},
        {"http://h:65535", url_problem::ok, "h", 65535},
        {"https://10.0.0.5", url_problem::ok, "10.0.0.5", 443},
        {"HTTPS://10.0.0.5:8443", url_problem::ok, "10.0.0.5", 8443},
        {"ftp://10.0.0.5", url_problem::not_http, "", 0},
        {"10.0.0.5:8080", url_problem::not_http, "", 0},
        {"://x", url_problem::not_http, "", 0},
        {"", url_problem::not_http, "", 0},
        {"http://user@h", url_problem::userinfo, "", 0},
        {"http://user:pw@h:80", url_problem::userinfo, "", 0},
        {"http://h/?a=1", url_problem::query, "", 0},
        {"http://h?a=1", url_problem::query, "", 0},
        {"http://h#frag", url_problem::fragment, "", 0},
        {"http://h/mdm", url_problem::path, "", 0},
        {"http://h//", url_problem::path, "", 0},
        {"http://h/mdm?x", url_problem::path, "", 0},
        {"http://", url_problem::bad_host, "", 0},
        {"http://:80", url_problem::bad_host, "", 0},
        {"http://::1", url_problem::bad_host, "", 0},
        {"http://[::1", url_problem::bad_host, "", 0},
        {"http://[10.0.0.1]", url_problem::bad_host, "", 0},
        {"http://[::1]x", url_problem::bad_host, "", 0},
        {"http://[fe80::1%25eth0]", url_problem::bad_host, "", 0},
        {"http://under_score", url_problem::bad_host, "", 0},
        {"http://10.0.0.256", url_problem::bad_host, "", 0},
        {"http://h:", url_problem::bad_port, "", 0},
        {"http://h:0", url_problem::bad_port, "", 0},
        {"http://h:65536", url_problem::bad_port, "", 0},
        {"http://h:123456", url_problem::bad_port, "", 0},
        {"http://h:8o", url_problem::bad_port, "", 0},
        {"http://h:-1", url_problem::bad_port, "", 0},
        {"http://[::1]:", url_problem::bad_port, "", 0},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION("\"" << r.text << "\"") {
            const auto got = detail::parse_upstream_url(r.text);
            CHECK(got.problem == r.problem);
            if (r.problem == url_problem::ok) {
                CHECK(got.host == r.host);
                CHECK(got.port == r.port);
            }
        }
    }
}

TEST_CASE("config: edit_distance", "[config][values]") {
    struct row {
        const char* a;
        const char* b;
        std::size_t distance;
    };
    const std::vector<row> rows = {
        {"", "", 0},           {"cert", "cert", 0},   {"", "cert", 4},        {"cert", "", 4},
        {"cetr", "cert", 1},   {"crt", "cert", 1},    {"certt", "cert", 1},   {"kert", "cert", 1},
        {"prot", "port", 1},   {"workrs", "workers", 1}, {"ca", "abc", 3},    {"upstreams", "upstream", 1},
        {"listeners", "listener", 1}, {"timeout", "timeouts", 1}, {"tls", "trust", 3},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.a << " -> " << r.b) {
            CHECK(detail::edit_distance(r.a, r.b) == r.distance);
            CHECK(detail::edit_distance(r.b, r.a) == r.distance);
        }
    }
}

TEST_CASE("config: closest_match (did you mean)", "[config][values]") {
    constexpr std::string_view keys[] = {"name",        "address",  "port",        "cert",
                                         "key",         "trust",    "server_name", "upstream",
                                         "min_version", "tls12_ciphers", "tls13_ciphersuites", "groups"};
    struct row {
        const char* word;
        const char* expected;  // nullptr = no suggestion
    };
    const std::vector<row> rows = {
        {"cetr", "cert"},
        {"prot", "port"},
        {"adress", "address"},
        {"servername", "server_name"},
        {"upstreams", "upstream"},
        {"min-version", "min_version"},
        {"tls12_cipher", "tls12_ciphers"},
        {"keys", "key"},
        {"kye", "key"},
        {"group", "groups"},
        {"certificate", nullptr},
        {"tls", nullptr},
        {"x", nullptr},       // distance 1..3 to short keys, but a 1-letter key suggests nothing
        {"ke", "key"},
        {"totally_unrelated", nullptr},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.word) {
            const auto got = detail::closest_match(r.word, keys);
            if (r.expected == nullptr) {
                CHECK_FALSE(got.has_value());
            } else {
                REQUIRE(got.has_value());
                CHECK(*got == r.expected);
            }
        }
    }
}

TEST_CASE("config: parse_cidr and cidr::contains", "[config][values]") {
    struct row {
        const char* text;
        bool ok;
        unsigned prefix;
    };
    for (const auto& r : {row{"10.0.0.0/8", true, 8}, row{"192.0.2.7", true, 32}, row{"0.0.0.0/0", true, 0},
                          row{"2001:db8::/32", true, 32}, row{"::1", true, 128}, row{"::/0", true, 0},
                          row{"10.0.0.1/8", false, 0}, row{"10.0.0.0/33", false, 0}, row{"10.0.0.0/", false, 0},
                          row{"10.0.0.0/08", false, 0}, row{"10.0.0.0/-1", false, 0}, row{"2001:db8::/129", false, 0},
                          row{"2001:db8::1/32", false, 0}, row{"lb.example.com", false, 0}, row{"", false, 0}}) {
        DYNAMIC_SECTION(r.text) {
            const auto c = atsgate::config::detail::parse_cidr(r.text);
            CHECK(c.has_value() == r.ok);
            if (c) {
                CHECK(c->prefix == r.prefix);
                CHECK(c->text == r.text);
            }
        }
    }
    auto addr = [](const char* text) { return *atsgate::config::detail::parse_ip(text); };
    auto in = [&](const char* block, const char* a) {
        const auto c = *atsgate::config::detail::parse_cidr(block);
        const auto ip = addr(a);
        return c.contains(ip.v6, ip.bytes);
    };
    CHECK(in("10.0.0.0/8", "10.255.1.2"));
    CHECK_FALSE(in("10.0.0.0/8", "11.0.0.1"));
    CHECK(in("192.0.2.7", "192.0.2.7"));
    CHECK_FALSE(in("192.0.2.7", "192.0.2.8"));
    CHECK(in("10.1.0.0/17", "10.1.127.255"));
    CHECK_FALSE(in("10.1.0.0/17", "10.1.128.0"));
    CHECK(in("0.0.0.0/0", "203.0.113.9"));
    CHECK_FALSE(in("0.0.0.0/0", "2001:db8::1"));  // families never match across
    CHECK(in("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK_FALSE(in("2001:db8::/32", "2001:db9::1"));
    CHECK(in("10.0.0.0/8", "::ffff:10.2.3.4"));  // IPv4-mapped: compared as IPv4
    CHECK_FALSE(in("::/0", "::ffff:10.2.3.4"));
}
