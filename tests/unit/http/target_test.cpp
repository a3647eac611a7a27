// normalize_target (target.hpp): every rule of the normalisation and every refusal, one labelled
// row each; in-place rewriting gives the same result as a copy; the result is a fixed point; the
// request parser hands the normalised target to its head (at every split point) and refuses the
// rest with bad_target and the reason.

#include "http_test_util.hpp"

#include "proxy/http/request_parser.hpp"
#include "proxy/http/target.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <vector>

using namespace atsgate::http;
using namespace atsgate::http::test;
using namespace std::string_literals;

namespace {

struct row {
    const char* label;
    std::string in;
    std::string out;  // expected normalised target (status ok)
};

struct bad_row {
    const char* label;
    std::string in;
    target_status status;
};

const std::vector<row>& good_rows() {
    static const std::vector<row> rows = {
        // --- already normal: unchanged
        {"root", "/", "/"},
        {"asterisk-form", "*", "*"},
        {"plain path", "/mdm/checkin", "/mdm/checkin"},
        {"directory path keeps its slash", "/mdm/", "/mdm/"},
        {"query kept", "/scep?operation=GetCACert&message=CA", "/scep?operation=GetCACert&message=CA"},
        {"empty query kept", "/x?", "/x?"},
        {"dots inside a segment are not dot segments", "/a.b/c..d/...", "/a.b/c..d/..."},
        {"dot file", "/.well-known/com.apple.remotemanagement", "/.well-known/com.apple.remotemanagement"},
        {"sub-delims and ':' '@' stay literal", "/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;="},
        {"semicolon in an ordinary segment", "/a;jsessionid=1/b", "/a;jsessionid=1/b"},
        {"tilde", "/~user", "/~user"},
        // --- the query is never touched
        {"dot segments in the query stay", "/a?x=/../b/./c", "/a?x=/../b/./c"},
        {"percent-encoding in the query stays", "/a?x=%2f%2e%2E%zz%", "/a?x=%2f%2e%2E%zz%"},
        {"slashes in the query stay", "/a?//x", "/a?//x"},
        {"question mark in the query", "/a?b?c", "/a?b?c"},
        {"query after a shrunk path moves down", "/a/../b?q=1", "/b?q=1"},
        // --- duplicate slashes merged
        {"leading double slash", "//mdm/checkin", "/mdm/checkin"},
        {"double slash inside", "/mdm//checkin", "/mdm/checkin"},
        {"many slashes", "///a////b///", "/a/b/"},
        {"only slashes", "////", "/"},
        {"trailing double slash", "/a//", "/a/"},
        // --- dot segments (RFC 3986 section 5.2.4)
        {"single dot segment", "/a/./b", "/a/b"},
        {"leading single dot", "/./a", "/a"},
        {"trailing single dot keeps a slash", "/a/.", "/a/"},
        {"just a dot", "/.", "/"},
        {"dot then slash", "/a/./", "/a/"},
        {"double dot removes the previous segment", "/a/b/../c", "/a/c"},
        {"trailing double dot keeps a slash", "/a/b/..", "/a/"},
        {"double dot back to the root", "/a/..", "/"},
        {"double dot back to the root with slash", "/a/../", "/"},
        {"several double dots", "/a/b/c/../../d", "/a/d"},
        {"scep escape to mdm", "/scep/../mdm/checkin?operation=GetCACert", "/mdm/checkin?operation=GetCACert"},
        {"dots after merged slashes", "/a//..//b", "/b"},
        {"double dot after single dot", "/a/./../b", "/b"},
        {"RFC 3986 5.4.2 example mid/content=5/../6", "/b/c/mid/content=5/../6", "/b/c/mid/6"},
        {"triple dot is a name", "/a/.../b", "/a/.../b"},
        // --- percent-encoding: unreserved decoded, the rest upper-case hex
        {"encoded dot dot lower case", "/scep/%2e%2e/mdm", "/mdm"},
        {"encoded dot dot upper case", "/scep/%2E%2E/mdm", "/mdm"},
        {"mixed encoded and literal dots", "/scep/.%2e/mdm", "/mdm"},
        {"encoded single dot", "/a/%2e/b", "/a/b"},
        {"encoded dot in a name", "/a%2ejson", "/a.json"},
        {"encoded letters decoded", "/%6d%64%6D", "/mdm"},
        {"encoded digits decoded", "/v%31", "/v1"},
        {"encoded unreserved punctuation decoded", "/%2D%5F%7E%2E", "/-_~."},
        {"encoded reserved stays, upper-cased", "/a%3fb%3Bc%40d", "/a%3Fb%3Bc%40d"},
        {"encoded space stays", "/a%20b", "/a%20b"},
        {"encoded percent stays", "/100%25", "/100%25"},
        {"double-encoded dot stays double-encoded", "/%252e%252e/x", "/%252e%252e/x"},
        {"encoded non-ASCII upper-cased", "/caf%c3%a9", "/caf%C3%A9"},
        {"encoded hash stays", "/a%23b", "/a%23b"},
        {"encoded question mark never starts the query", "/a%3F/../b", "/b"},
        {"encoded semicolon is not a path parameter", "/..%3Bx/b", "/..%3Bx/b"},
        {"encoded DEL neighbour is not a control", "/%7e%80", "/~%80"},
    };
    return rows;
}

const std::vector<bad_row>& bad_rows() {
    static const std::vector<bad_row> rows = {
        {"empty", "", target_status::not_origin_form},
        {"absolute-form", "http://a/b", target_status::not_origin_form},
        {"authority-form", "a.example:443", target_status::not_origin_form},
        {"query only", "?a", target_status::not_origin_form},
        {"asterisk with more", "*x", target_status::not_origin_form},
        // --- percent-encoding
        {"lone percent", "/a%", target_status::bad_percent},
        {"percent and one digit", "/a%4", target_status::bad_percent},
        {"percent and one digit before slash", "/a%4/b", target_status::bad_percent},
        {"percent before the query", "/a%?x", target_status::bad_percent},
        {"non-hex digits", "/a%zz", target_status::bad_percent},
        {"IIS %u encoding", "/a/%u002e%u002e/b", target_status::bad_percent},
        {"half hex", "/%g0", target_status::bad_percent},
        // --- encoded separators
        {"encoded slash lower", "/scep%2f..%2fmdm", target_status::encoded_slash},
        {"encoded slash upper", "/a%2Fb", target_status::encoded_slash},
        {"encoded slash in dot-dot", "/scep/..%2Fmdm/checkin", target_status::encoded_slash},
        {"literal backslash", "/scep\\..\\mdm", target_status::backslash},
        {"encoded backslash", "/scep/..%5Cmdm", target_status::backslash},
        {"encoded backslash lower", "/a%5cb", target_status::backslash},
        // --- controls
        {"encoded NUL", "/a%00.json", target_status::control},
        {"encoded LF", "/a%0Ab", target_status::control},
        {"encoded CR", "/a%0db", target_status::control},
        {"encoded unit separator", "/%1F", target_status::control},
        {"encoded DEL", "/%7F", target_status::control},
        {"raw space", "/a b", target_status::bad_character},
        {"raw tab", "/a\tb", target_status::bad_character},
        {"raw NUL", "/a\0b"s, target_status::bad_character},
        {"raw DEL", "/a\x7f", target_status::bad_character},
        {"raw hash", "/a#b", target_status::bad_character},
        // --- above the root
        {"double dot at the root", "/..", target_status::above_root},
        {"double dot at the root with more", "/../etc/passwd", target_status::above_root},
        {"climbs after a segment", "/a/../../b", target_status::above_root},
        {"encoded climb", "/%2e%2e/x", target_status::above_root},
        {"climb after merged slashes", "//..//x", target_status::above_root},
        {"climb after a single dot", "/./../x", target_status::above_root},
        // --- dot segments with path parameters
        {"dot-dot with parameter", "/scep/..;/mdm/checkin", target_status::dot_parameter},
        {"dot-dot with named parameter", "/scep/..;x=1/mdm", target_status::dot_parameter},
        {"dot with parameter", "/a/.;x/b", target_status::dot_parameter},
        {"encoded dot-dot with parameter", "/a/%2e%2e;/b", target_status::dot_parameter},
    };
    return rows;
}

}  // namespace

TEST_CASE("normalize_target: normalised forms", "[http][target]") {
    for (const auto& r : good_rows()) {
        DYNAMIC_SECTION(r.label) {
            target_status st = target_status::bad_character;
            const std::string copy = normalized_copy(r.in, &st);
            INFO("in: " << r.in << ", status: " << to_string(st));
            REQUIRE(st == target_status::ok);
            CHECK(copy == r.out);
            // In place gives the same bytes.
            std::string buf = r.in;
            const auto n = normalize_target(buf, buf.data());
            REQUIRE(n.status == target_status::ok);
            CHECK(buf.substr(0, n.size) == r.out);
            CHECK(n.size <= r.in.size());
            // A fixed point: normalising again changes nothing.
            CHECK(normalized_copy(copy, &st) == copy);
            CHECK(st == target_status::ok);
        }
    }
}

TEST_CASE("normalize_target: refused targets", "[http][target][security]") {
    for (const auto& r : bad_rows()) {
        DYNAMIC_SECTION(r.label) {
            target_status st = target_status::ok;
            const std::string copy = normalized_copy(r.in, &st);
            INFO("in: " << r.in << ", status: " << to_string(st));
            CHECK(st == r.status);
            CHECK(copy.empty());
            std::string buf = r.in;
            CHECK(normalize_target(buf, buf.data()).status == r.status);
            CHECK_FALSE(to_string(st).empty());
        }
    }
}

TEST_CASE("normalize_target: every byte value in a segment", "[http][target]") {
    // Raw: letters, digits and the allowed punctuation pass; the rest is refused; '%', '.', '/' and
    // '?' have their own rules (covered above).
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        if (ch == '%' || ch == '.' || ch == '/' || ch == '?') continue;
        const std::string in = "/a"s + ch + "b";
        target_status st = target_status::ok;
        const auto out = normalized_copy(in, &st);
        INFO("byte " << c);
        if (c <= 0x20 || c == 0x7f || ch == '#') {
            CHECK(st == target_status::bad_character);
        } else if (ch == '\\') {
            CHECK(st == target_status::backslash);
        } else {
            CHECK(st == target_status::ok);
            CHECK(out == in);
        }
    }
    // Encoded: unreserved decoded, '/', '\' and controls refused, the rest upper-case hex.
    static constexpr char hex[] = "0123456789abcdef";
    for (int c = 0; c < 256; ++c) {
        const std::string in = "/a%"s + hex[c >> 4] + hex[c & 15] + "b";
        target_status st = target_status::ok;
        const auto out = normalized_copy(in, &st);
        INFO("byte %" << hex[c >> 4] << hex[c & 15]);
        const bool unreserved = std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
        if (c == '/') {
            CHECK(st == target_status::encoded_slash);
        } else if (c == '\\') {
            CHECK(st == target_status::backslash);
        } else if (c < 0x20 || c == 0x7f) {
            CHECK(st == target_status::control);
        } else if (unreserved) {
            CHECK(out == "/a"s + static_cast<char>(c) + "b");
        } else {
            static constexpr char upper[] = "0123456789ABCDEF";
            CHECK(out == "/a%"s + upper[c >> 4] + upper[c & 15] + "b");
        }
    }
}

TEST_CASE("request_parser: the head carries the normalised target, at every split point", "[http][target][request]") {
    for (const auto& r : good_rows()) {
        if (r.in == "*") continue;  // OPTIONS only; covered by the parser's own tests
        DYNAMIC_SECTION(r.label) {
            const std::string raw = "GET " + r.in + " HTTP/1.1\r\nHost: a\r\nX-After: target\r\n\r\n";
            for (const auto& pieces : all_splits(raw)) {
                INFO(describe_split(pieces));
                const auto res = run_requests(pieces);
                REQUIRE_FALSE(res.failed);
                REQUIRE(res.messages.size() == 1);
                CHECK(res.messages[0].target == r.out);
                // The fields stored after the target are intact.
                REQUIRE(res.messages[0].headers.size() == 2);
                CHECK(res.messages[0].headers[1].value == "target");
            }
        }
    }
}

TEST_CASE("request_parser: targets that cannot be normalised get bad_target with the reason", "[http][target][request]") {
    for (const auto& r : bad_rows()) {
        // Rows llhttp refuses itself (raw SP, CTL, ...) or that are not origin-form are covered by
        // the parser's malformed corpus; here: what llhttp lets through.
        if (r.status == target_status::bad_character || r.status == target_status::not_origin_form) continue;
        DYNAMIC_SECTION(r.label) {
            const std::string raw = "GET " + r.in + " HTTP/1.1\r\nHost: a\r\n\r\n";
            request_parser p{limits{}};
            p.reset();
            const auto res = p.feed(raw);
            REQUIRE(res.event == parse_event::error);
            CHECK(p.error() == errc::bad_target);
            CHECK(status_for(p.error()) == 400);
            CHECK(p.error_reason() == to_string(r.status));
            for (const auto& pieces : all_splits(raw)) {
                INFO(describe_split(pieces));
                const auto split = run_requests(pieces);
                REQUIRE(split.failed);
                CHECK(split.error == errc::bad_target);
                CHECK(split.heads == 0);
            }
        }
    }
}
