// util/: JSON strings and the JSON writer, hex, host:port, join. Table-driven, one label per row.

#include "util/util.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

namespace util = atsgate::util;
using namespace std::string_literals;

TEST_CASE("util: JSON string literals escape what RFC 8259 requires and repair invalid UTF-8", "[unit][util]") {
    struct row {
        const char* label;
        std::string in;
        std::string out;
    };
    const row rows[] = {
        {"plain", "mdm.example.com", R"("mdm.example.com")"},
        {"quote and backslash", R"(a"b\c)", R"("a\"b\\c")"},
        {"short escapes", "\b\f\n\r\t", R"("\b\f\n\r\t")"},
        {"other controls as \\u00XX, lower-case hex", "\x01\x1f\x7f"s, R"("\u0001\u001f\u007f")"},
        {"NUL", "a\0b"s, R"("a\u0000b")"},
        {"valid UTF-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\""},
        {"lone continuation byte", "a\x80z", R"("a\ufffdz")"},
        {"overlong encoding", "\xc0\xaf", R"("\ufffd\ufffd")"},
        {"UTF-16 surrogate", "\xed\xa0\x80", R"("\ufffd\ufffd\ufffd")"},
        {"beyond U+10FFFF", "\xf4\x90\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},
        {"truncated sequence at the end", "\xe2\x82", R"("\ufffd\ufffd")"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            CHECK(util::json_quote(r.in) == r.out);
            std::string appended = "x";
            util::append_json_string(appended, r.in);
            CHECK(appended == "x" + r.out);
        }
    }
}

TEST_CASE("util: the JSON writer places commas and colons", "[unit][util]") {
    SECTION("nested objects and arrays") {
        util::json_writer j;
        j.open('{').key("ok").boolean(true).key("n").num(-2).key("s").str("a\"b").key("none").null();
        j.key("list").open('[').num(1).str("x").open('{').key("k").num(3).close('}').close(']');
        j.key("empty").open('{').close('}').key("raw").raw("[1,2]").close('}');
        CHECK(j.take() == R"({"ok":true,"n":-2,"s":"a\"b","none":null,"list":[1,"x",{"k":3}],"empty":{},"raw":[1,2]})");
    }
    SECTION("a top-level array") {
        util::json_writer j;
        j.open('[').open('[').close(']').open('[').num(0).close(']').close(']');
        CHECK(j.take() == "[[],[0]]");
    }
}

TEST_CASE("util: hex encoding", "[unit][util]") {
    const std::array<std::uint8_t, 4> bytes{0x00, 0x0a, 0xbc, 0xff};
    CHECK(util::hex(bytes) == "000abcff");
    CHECK(util::hex(bytes, util::hex_case::upper) == "000ABCFF");
    CHECK(util::hex(bytes, util::hex_case::upper, ':') == "00:0A:BC:FF");
    CHECK(util::hex(std::span<const std::uint8_t>{}) == "");
    CHECK(util::hex(std::string_view{}, util::hex_case::lower, ':') == "");
    CHECK(util::hex(std::string_view("\x00\x7f\x80\xff", 4)) == "007f80ff");
    std::string out = "%";
    util::append_hex(out, 0x2f, util::hex_case::upper);
    CHECK(out == "%2F");
}

TEST_CASE("util: host:port brackets IPv6 literals", "[unit][util]") {
    struct row {
        const char* host;
        std::uint16_t port;
        const char* host_port;
        const char* https_authority;
    };
    const row rows[] = {
        {"10.0.0.5", 8080, "10.0.0.5:8080", "10.0.0.5:8080"},
        {"mdm.example.com", 443, "mdm.example.com:443", "mdm.example.com"},
        {"::1", 443, "[::1]:443", "[::1]"},
        {"fe80::1", 8443, "[fe80::1]:8443", "[fe80::1]:8443"},
        {"::ffff:10.0.0.1", 80, "[::ffff:10.0.0.1]:80", "[::ffff:10.0.0.1]:80"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.host << " " << r.port) {
            CHECK(util::host_port(r.host, r.port) == r.host_port);
            CHECK(util::authority("https", r.host, r.port) == r.https_authority);
        }
    }
    CHECK(util::authority("http", "a.example", 80) == "a.example");
    CHECK(util::authority("http", "a.example", 443) == "a.example:443");
    CHECK(util::bracketed("::") == "[::]");
    CHECK(util::bracketed("0.0.0.0") == "0.0.0.0");
}

TEST_CASE("util: splitting an authority into host and port", "[unit][util]") {
    struct row {
        const char* in;
        const char* without_port;  // host_without_port (Host header values)
        const char* host;          // split_host_port (URL authorities, configured names)
        const char* port;
    };
    const row rows[] = {
        {"mdm.example.com:8443", "mdm.example.com", "mdm.example.com", "8443"},
        {"mdm.example.com", "mdm.example.com", "mdm.example.com", ""},
        {"mdm.example.com:", "mdm.example.com", "mdm.example.com", ""},
        {"[::1]:8443", "[::1]", "[::1]", "8443"},
        {"[::1]", "[::1]", "[::1]", ""},
        {"[::1", "[::1", "[::1", ""},
        {"[::1]x", "[::1]", "[::1]x", ""},
        {"a:b:c", "a:b", "a", "b:c"},
        {"", "", "", ""},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.in) {
            CHECK(util::host_without_port(r.in) == r.without_port);
            const auto split = util::split_host_port(r.in);
            CHECK(split.host == r.host);
            CHECK(split.port == r.port);
        }
    }
}

TEST_CASE("util: hex digits", "[unit][util]") {
    static_assert(util::hex_value('0') == 0 && util::hex_value('9') == 9);
    static_assert(util::hex_value('a') == 10 && util::hex_value('F') == 15);
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        const bool digit = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        CHECK((util::hex_value(ch) >= 0) == digit);
        for (auto hc : {util::hex_case::lower, util::hex_case::upper}) {  // decodes what hex() writes
            const std::string h = util::hex(std::string_view(&ch, 1), hc);
            CHECK(util::hex_value(h[0]) * 16 + util::hex_value(h[1]) == c);
        }
    }
}

TEST_CASE("util: join", "[unit][util]") {
    CHECK(util::join(std::vector<std::string>{}) == "");
    CHECK(util::join(std::vector<std::string>{"a"}) == "a");
    CHECK(util::join(std::vector<std::string>{"a", "b", "c"}) == "a, b, c");
    CHECK(util::join(std::vector<std::string_view>{"x", "", "y"}, ":") == "x::y");
    const std::array<const char*, 2> names{"P-256", "X25519"};
    CHECK(util::join(names, "; ") == "P-256; X25519");
}

TEST_CASE("util: html_escape: markup, quotes, controls and invalid UTF-8", "[unit][util]") {
    using atsgate::util::html_escape;
    CHECK(html_escape("<script>alert('x')</script>") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    CHECK(html_escape("a\"b&c") == "a&quot;b&amp;c");
    CHECK(html_escape("line\nbreak\x1b[31m\x7f") == "line?break?[31m?");
    CHECK(html_escape("caf\xc3\xa9") == "caf\xc3\xa9");
    CHECK(html_escape("bad\xff\xc0\xaf" "end") == "bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "end");
    CHECK(html_escape("") == "");
    CHECK(html_escape("&amp;") == "&amp;amp;");
}

TEST_CASE("util: log_safe escapes control bytes, backslashes and invalid UTF-8, and bounds the text", "[unit][util]") {
    struct row {
        const char* label;
        std::string in;
        std::size_t max;
        std::string out;
    };
    const std::vector<row> rows = {
        {"plain", "urn:ietf:params:acme:error:badCSR", 256, "urn:ietf:params:acme:error:badCSR"},
        {"CR LF", "a\r\n[error] forged", 256, "a\\x0D\\x0A[error] forged"},
        {"ESC, NUL, DEL, TAB", "\x1b[2J\0\x7f\t"s, 256, "\\x1B[2J\\x00\\x7F\\x09"},
        {"backslash", "a\\x0D", 256, "a\\\\x0D"},
        {"valid UTF-8 kept", "caf\xc3\xa9", 256, "caf\xc3\xa9"},
        {"invalid UTF-8", "\xc3(\xff", 256, "\\xC3(\\xFF"},
        {"cut", "abcdefghij", 4, "abcd...(6 more bytes)"},
        {"cut at a UTF-8 boundary", "ab\xc3\xa9", 3, "ab...(2 more bytes)"},
        {"empty", "", 4, ""},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        CHECK(util::log_safe(r.in, r.max) == r.out);
    }
}
