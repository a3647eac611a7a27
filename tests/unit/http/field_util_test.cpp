// proxy/http/field_util.hpp: the character-class helpers the parsers and the writer rely on,
// checked exhaustively against straightforward definitions.

#include "proxy/http/field_util.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace atsgate::http::detail;

namespace {
bool reference_value_byte(unsigned char c) { return (c >= 0x20 && c != 0x7f) || c == '\t'; }
}  // namespace

TEST_CASE("field_util: is_field_value accepts exactly VCHAR, obs-text, SP and HTAB", "[http][field]") {
    // Every byte value at every position of strings of length 1..19 (covers the 8-byte words and
    // the tail).
    for (std::size_t len = 1; len < 20; ++len) {
        DYNAMIC_SECTION("length " << len) {
            for (std::size_t pos = 0; pos < len; ++pos) {
                for (int b = 0; b < 256; ++b) {
                    std::string v(len, 'a');
                    v[pos] = static_cast<char>(b);
                    INFO("byte " << b << " at " << pos);
                    REQUIRE(is_field_value(v) == reference_value_byte(static_cast<unsigned char>(b)));
                }
            }
        }
    }
    SECTION("mixed valid words") {
        REQUIRE(is_field_value("application/x-apple-aspen-mdm-checkin\t; charset=\xc3\xa9"));
        REQUIRE(is_field_value(""));
    }
}

TEST_CASE("field_util: tokens, lists, Content-Length, Host", "[http][field]") {
    SECTION("tchar") {
        const std::string tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for (int c = 0; c < 256; ++c) {
            INFO("char " << c);
            REQUIRE(is_tchar(static_cast<char>(c)) == (tchars.find(static_cast<char>(c)) != std::string::npos));
        }
        REQUIRE_FALSE(is_token(""));
        REQUIRE(is_token("Mdm-Signature"));
        REQUIRE_FALSE(is_token("X Y"));
    }
    SECTION("list_has_token") {
        REQUIRE(list_has_token("keep-alive, Close", "close"));
        REQUIRE(list_has_token(" ,,close ,", "close"));
        REQUIRE_FALSE(list_has_token("closed", "close"));
        REQUIRE_FALSE(list_has_token("", "close"));
    }
    SECTION("parse_content_length") {
        std::uint64_t n = 0;
        REQUIRE(parse_content_length("0", n));
        REQUIRE(n == 0);
        REQUIRE(parse_content_length("0005", n));
        REQUIRE(n == 5);
        REQUIRE(parse_content_length("9999999999999999999", n));
        REQUIRE(n == 9999999999999999999ull);
        for (const char* bad : {"", "+5", "-5", "5 ", "5,5", "0x5", "99999999999999999999"}) {
            INFO(bad);
            REQUIRE_FALSE(parse_content_length(bad, n));
        }
    }
    SECTION("is_valid_host") {
        for (const char* good : {"", "a", "mdm.example.com", "mdm.example.com:8443", "10.0.0.5:8080", "[::1]",
                                 "[2001:db8::1]:443", "host_name.local", "h:"}) {
            INFO(good);
            REQUIRE(is_valid_host(good));
        }
        for (const char* bad : {":80", "a/b", "user@a", "a:80x", "a:123456", "[::1", "[]", "[::1]x", "a b", "a%20",
                                "a:80:90", "[g::1]"}) {
            INFO(bad);
            REQUIRE_FALSE(is_valid_host(bad));
        }
    }
}
