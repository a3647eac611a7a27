// request_parser: valid corpus at every split point and pipelined, smuggling / malformed vectors,
// limits at their exact boundaries, and the event contract (consumed counts, reset, stickiness).

#include "http_test_util.hpp"
#include "mdm_corpus.hpp"

#include "proxy/http/request_parser.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace atsgate::http;
using namespace atsgate::http::test;
using namespace std::string_literals;

namespace {

struct valid_row {
    const char* name;
    std::string raw;
    // expectations checked on the whole-buffer parse
    std::string method, target;
    int minor;
    framing body;
    std::uint64_t content_length;
    std::string body_data;
    bool keep_alive;
    bool expect_continue;
    std::string host;
    std::size_t header_count;
};

std::string many_headers(int n) {
    std::string s = "GET /many HTTP/1.1\r\nHost: mdm.example.com\r\n";
    for (int i = 1; i < n; ++i) s += "X-Header-" + std::to_string(i) + ": value-" + std::to_string(i) + "\r\n";
    return s + "\r\n";
}

std::string many_chunks(int n, std::string& decoded) {
    std::string s = "POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < n; ++i) {
        const std::string data(static_cast<std::size_t>(i % 3 + 1), static_cast<char>('a' + i % 26));
        s += std::to_string(data.size()) + "\r\n" + data + "\r\n";
        decoded += data;
    }
    return s + "0\r\n\r\n";
}

std::vector<valid_row> valid_corpus() {
    std::vector<valid_row> rows;
    rows.push_back({"GET", "GET /mdm/enroll?x=1 HTTP/1.1\r\nHost: mdm.example.com\r\nAccept: */*\r\n\r\n", "GET",
                    "/mdm/enroll?x=1", 1, framing::none, 0, "", true, false, "mdm.example.com", 2});
    rows.push_back({"HEAD", "HEAD / HTTP/1.1\r\nHost: a.example:8443\r\n\r\n", "HEAD", "/", 1, framing::none, 0, "",
                    true, false, "a.example:8443", 1});
    rows.push_back({"PUT Content-Length 0", "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "PUT", "/x", 1,
                    framing::content_length, 0, "", true, false, "a", 2});
    rows.push_back({"POST Content-Length 11", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
                    "POST", "/p", 1, framing::content_length, 11, "hello world", true, false, "a", 2});
    rows.push_back({"chunked with extensions and trailer",
                    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;name=value\r\nhello\r\n1;flag\r\n \r\n5;q=\"quoted ok\"\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
                    "POST", "/c", 1, framing::chunked, 0, "hello world", true, false, "a", 2});
    rows.push_back({"chunked, tab before value (legal OWS)",
                    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tChunked \r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
                    "POST", "/c", 1, framing::chunked, 0, "0123456789", true, false, "a", 2});
    std::string decoded;
    auto chunks = many_chunks(40, decoded);
    rows.push_back({"40 small chunks (more than one span batch)", chunks, "POST", "/chunks", 1, framing::chunked, 0,
                    decoded, true, false, "a", 2});
    rows.push_back({"HTTP/1.0 without Host", "GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n", "GET", "/old", 0,
                    framing::none, 0, "", false, false, "", 1});
    rows.push_back({"HTTP/1.0 keep-alive", "GET /old HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n", "GET",
                    "/old", 0, framing::none, 0, "", true, false, "a", 2});
    rows.push_back({"HTTP/1.1 Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", "GET",
                    "/", 1, framing::none, 0, "", false, false, "a", 2});
    rows.push_back({"60 header fields", many_headers(60), "GET", "/many", 1, framing::none, 0, "", true, false,
                    "mdm.example.com", 60});
    rows.push_back({"MDM check-in PUT /mdm/checkin", checkin_request(), "PUT", "/mdm/checkin", 1,
                    framing::content_length, checkin_plist.size(), checkin_plist, true, false, "mdm.example.com", 9});
    rows.push_back({"MDM command poll PUT /mdm/server", command_poll_request(), "PUT", "/mdm/server", 1,
                    framing::content_length, command_poll_plist.size(), command_poll_plist, true, false,
                    "mdm.example.com", 9});
    rows.push_back({"Expect: 100-continue",
                    "PUT /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\nbody", "PUT",
                    "/upload", 1, framing::content_length, 4, "body", true, true, "a", 3});
    rows.push_back({"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "*", 1, framing::none, 0, "",
                    true, false, "a", 1});
    rows.push_back({"Upgrade request parsed as ordinary",
                    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET", "/ws", 1,
                    framing::none, 0, "", true, false, "a", 3});
    rows.push_back({"Upgrade request with body",
                    "POST /up HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabc",
                    "POST", "/up", 1, framing::content_length, 3, "abc", true, false, "a", 4});
    rows.push_back({"obs-text and empty value", "GET / HTTP/1.1\r\nHost: [::1]:8443\r\nX-Empty:\r\nX-Text: caf\xc3\xa9\r\n\r\n",
                    "GET", "/", 1, framing::none, 0, "", true, false, "[::1]:8443", 3});
    rows.push_back({"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", 1, framing::none, 0, "",
                    true, false, "a", 1});
    rows.push_back({"large Content-Length body (spans across many reads)",
                    with_length("PUT /big HTTP/1.1\r\nHost: a\r\n", std::string(3000, 'x')), "PUT", "/big", 1,
                    framing::content_length, 3000, std::string(3000, 'x'), true, false, "a", 2});
    return rows;
}

}  // namespace

TEST_CASE("request_parser: valid requests at every split point", "[http][request]") {
    for (const auto& row : valid_corpus()) {
        DYNAMIC_SECTION(row.name) {
            const auto whole = run_requests({row.raw});
            REQUIRE_FALSE(whole.failed);
            REQUIRE(whole.messages.size() == 1);
            REQUIRE(whole.consumed == row.raw.size());
            const auto& m = whole.messages[0];
            CHECK(m.method == row.method);
            CHECK(m.target == row.target);
            CHECK(m.major == 1);
            CHECK(m.minor == row.minor);
            CHECK(m.body == row.body);
            CHECK(m.content_length == row.content_length);
            CHECK(m.body_data == row.body_data);
            CHECK(m.keep_alive == row.keep_alive);
            CHECK(m.expect_continue == row.expect_continue);
            CHECK(m.host == row.host);
            CHECK(m.headers.size() == row.header_count);

            for (const auto& pieces : all_splits(row.raw)) {
                const auto r = run_requests(pieces);
                INFO(describe_split(pieces));
                REQUIRE_FALSE(r.failed);
                REQUIRE(r.messages.size() == 1);
                REQUIRE(r.messages[0] == m);
            }
        }
    }
}

TEST_CASE("request_parser: pipelined requests", "[http][request]") {
    std::string stream;
    std::vector<owned_request> expected;
    for (const auto& row : valid_corpus()) {
        if (!row.keep_alive) continue;  // nothing may follow a closing request
        stream += row.raw;
        expected.push_back(run_requests({row.raw}).messages.at(0));
    }
    SECTION("one buffer") {
        const auto r = run_requests({stream});
        REQUIRE_FALSE(r.failed);
        REQUIRE(r.messages == expected);
    }
    SECTION("byte by byte") {
        std::vector<std::string_view> bytes;
        for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view(stream).substr(i, 1));
        const auto r = run_requests(bytes);
        REQUIRE_FALSE(r.failed);
        REQUIRE(r.messages == expected);
    }
    SECTION("random read sizes") {
        std::mt19937 rng(20240601);
        for (int round = 0; round < 50; ++round) {
            std::vector<std::string_view> pieces;
            std::size_t pos = 0;
            while (pos < stream.size()) {
                const std::size_t n = std::min<std::size_t>(stream.size() - pos, rng() % 700 + 1);
                pieces.push_back(std::string_view(stream).substr(pos, n));
                pos += n;
            }
            INFO("round " << round);
            const auto r = run_requests(pieces);
            REQUIRE_FALSE(r.failed);
            REQUIRE(r.messages == expected);
        }
    }
    SECTION("a request after Connection: close is refused") {
        const auto r = run_requests({"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"});
        REQUIRE(r.messages.size() == 1);
        REQUIRE(r.heads == 1);
        REQUIRE(r.failed);
        REQUIRE(r.error == errc::bad_request);
    }
}

namespace {
struct bad_row {
    const char* name;
    std::string raw;
    errc expected;
    unsigned heads = 0;     // head_done events before the error (a chunked head precedes its body)
    unsigned messages = 0;  // requests legitimately completed before the bad one
};

const std::string post = "POST / HTTP/1.1\r\nHost: a\r\n";
const std::string chunked_post = post + "Transfer-Encoding: chunked\r\n\r\n";

std::vector<bad_row> bad_corpus() {
    return {
        // --- Content-Length / Transfer-Encoding ambiguity
        {"CL.TE", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", errc::smuggling},
        {"TE.CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
         errc::smuggling},
        {"CL.TE with smuggled request in body",
         post + "Content-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
         errc::smuggling},
        {"duplicate Content-Length, different", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
         errc::smuggling},
        {"duplicate Content-Length, identical", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
         errc::smuggling},
        {"Content-Length: +5", post + "Content-Length: +5\r\n\r\nhello", errc::smuggling},
        {"Content-Length: -5", post + "Content-Length: -5\r\n\r\nhello", errc::smuggling},
        {"Content-Length: 5, 5", post + "Content-Length: 5, 5\r\n\r\nhello", errc::smuggling},
        {"Content-Length: 5 5", post + "Content-Length: 5 5\r\n\r\nhello", errc::smuggling},
        {"Content-Length: 0x5", post + "Content-Length: 0x5\r\n\r\nhello", errc::smuggling},
        {"Content-Length empty", post + "Content-Length: \r\n\r\n", errc::smuggling},
        {"Content-Length huge (overflow)", post + "Content-Length: 99999999999999999999999\r\n\r\n", errc::smuggling},
        {"Transfer-Encoding : chunked (space before colon)", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
         errc::bad_request},
        {"Transfer-Encoding: xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", errc::smuggling},
        {"Transfer-Encoding: chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
         errc::smuggling},
        {"Transfer-Encoding: gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
         errc::smuggling},
        {"Transfer-Encoding: chunked, gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
         errc::smuggling},
        {"Transfer-Encoding: identity", post + "Transfer-Encoding: identity\r\n\r\n", errc::smuggling},
        {"two Transfer-Encoding fields", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         errc::smuggling},
        {"TE.TE: chunked + obfuscated second field",
         post + "Transfer-Encoding: chunked\r\nTransfer-encoding: x\r\n\r\n0\r\n\r\n", errc::smuggling},
        {"Transfer-Encoding on HTTP/1.0",
         "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", errc::smuggling},
        {"Transfer-Encoding folded (obs-fold)", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
         errc::bad_request},
        // --- chunk framing
        {"chunk size 0x5", chunked_post + "0x5\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"chunk size '5 ;'", chunked_post + "5 ;\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"chunk size '5 ' (trailing space)", chunked_post + "5 \r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"chunk size -5", chunked_post + "-5\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"chunk size not hex", chunked_post + "g\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"chunk size overflow", chunked_post + "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"empty chunk extension", chunked_post + "5;\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"control character in chunk extension", chunked_post + "5;a=\x01\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"missing CRLF after chunk data", chunked_post + "5\r\nhelloXX0\r\n\r\n", errc::bad_chunk, 1},
        {"chunk data longer than size", chunked_post + "3\r\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"bare LF after chunk size", chunked_post + "5\nhello\r\n0\r\n\r\n", errc::bad_chunk, 1},
        {"bare LF after chunk data", chunked_post + "5\r\nhello\n0\r\n\r\n", errc::bad_chunk, 1},
        {"bare LF ending the chunked body", chunked_post + "5\r\nhello\r\n0\r\n\n", errc::bad_chunk, 1},
        {"obs-fold in trailer", chunked_post + "5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n", errc::bad_chunk, 1},
        // --- line endings and field syntax
        {"bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", errc::bad_request},
        {"bare LF after header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", errc::bad_request},
        {"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", errc::bad_request},
        {"bare LF as leading empty line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request},
        {"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", errc::bad_request},
        {"bare CR line ending", "GET / HTTP/1.1\rHost: a\r\n\r\n", errc::bad_request},
        {"NUL in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, errc::bad_request},
        {"control char in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n", errc::bad_request},
        {"DEL in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", errc::bad_request},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", errc::bad_request},
        {"obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", errc::bad_request},
        {"whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", errc::bad_request},
        {"space between name and colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", errc::bad_request},
        {"tab between name and colon", "GET / HTTP/1.1\r\nHost: a\r\nX\t: y\r\n\r\n", errc::bad_request},
        {"invalid character in name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", errc::bad_request},
        {"empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: y\r\n\r\n", errc::bad_request},
        {"header line without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", errc::bad_request},
        // --- request line
        {"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request},
        {"space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", errc::bad_request},
        // Found by tests/fuzz (corpus/request_parser/http09_two_spaces): llhttp took these for
        // HTTP/0.9 and they were accepted, the second one without Host.
        {"no version, two spaces after method", "GET  /admin\r\nHost: a\r\n\r\n", errc::bad_request},
        {"no version, two spaces, no Host", "GET  /\r\n\r\n", errc::bad_request},
        {"no version, asterisk-form", "OPTIONS  *\r\nHost: a\r\n\r\n", errc::bad_request},
        {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request},
        {"lower-case method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request},
        {"unknown method", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_request},
        {"CONNECT", "CONNECT mdm.example.com:443 HTTP/1.1\r\nHost: mdm.example.com:443\r\n\r\n",
         errc::method_not_allowed},
        {"absolute-form target", "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target},
        {"asterisk-form with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target},
        {"fragment in target", "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_target},
        {"HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", errc::unsupported_version},
        {"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", errc::unsupported_version},
        {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", errc::unsupported_version},
        {"HTTP/0.9 style version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", errc::unsupported_version},
        // --- Host
        {"missing Host on HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", errc::missing_host},
        {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", errc::missing_host},
        {"two Host fields on HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", errc::missing_host},
        {"Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", errc::bad_request},
        {"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", errc::bad_request},
        {"Host with bad port", "GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", errc::bad_request},
        // --- pipelined: the second request is never reported
        {"valid request then duplicate CL",
         "GET / HTTP/1.1\r\nHost: a\r\n\r\n" + post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", errc::smuggling,
         1, 1},
        {"valid request then obs-fold", "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
         errc::bad_request, 1, 1},
        {"chunked request whose body hides a request behind a bad chunk",
         chunked_post + "5\r\nhello\r\nG\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n", errc::bad_chunk, 1, 0},
    };
}
}  // namespace

TEST_CASE("request_parser: smuggling and malformed vectors fail at every split point", "[http][request][security]") {
    for (const auto& row : bad_corpus()) {
        DYNAMIC_SECTION(row.name) {
            for (const auto& pieces : all_splits(row.raw)) {
                INFO(describe_split(pieces));
                const auto r = run_requests(pieces);
                REQUIRE(r.failed);
                REQUIRE(r.error == row.expected);
                // Never a head_done for a refused (or smuggled) request.
                REQUIRE(r.heads == row.heads);
                REQUIRE(r.messages.size() == row.messages);
            }
        }
    }
}

TEST_CASE("request_parser: error reason is given", "[http][request]") {
    request_parser p{limits{}};
    p.reset();
    const std::string raw = "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n";
    const auto r = p.feed(raw);
    REQUIRE(r.event == parse_event::error);
    REQUIRE(p.error() == errc::bad_request);
    REQUIRE_FALSE(p.error_reason().empty());
    REQUIRE(status_for(p.error()) == 400);
}

namespace {
// A request whose head is exactly `size` bytes (padded with an X-Pad field).
std::string head_of_size(std::size_t size) {
    const std::string base = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n";
    REQUIRE(size >= base.size());
    return "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(size - base.size(), 'p') + "\r\n\r\n";
}

std::string with_fields(unsigned n) {  // Host + (n-1) more
    std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (unsigned i = 1; i < n; ++i) s += "X" + std::to_string(i) + ": v\r\n";
    return s + "\r\n";
}

std::string chunked_of(std::uint64_t total) {  // body of `total` bytes in chunks of up to 7
    std::string s = chunked_post;
    std::uint64_t left = total;
    while (left > 0) {
        const auto n = std::min<std::uint64_t>(left, 7);
        s += std::to_string(n) + "\r\n" + std::string(n, 'c') + "\r\n";
        left -= n;
    }
    return s + "0\r\n\r\n";
}
}  // namespace

TEST_CASE("request_parser: limits at the exact boundary", "[http][request][limits]") {
    struct limit_row {
        std::string name;
        std::string raw;
        limits lim;
        std::optional<errc> expected;  // nullopt: accepted
    };
    std::vector<limit_row> rows;
    const std::size_t head = 200;
    for (const long d : {-1L, 0L, 1L}) {
        limits l;
        l.header_bytes = static_cast<std::uint32_t>(static_cast<long>(head) + d);
        rows.push_back({"head of 200 bytes, header_bytes = " + std::to_string(l.header_bytes), head_of_size(head), l,
                        d < 0 ? std::optional{errc::head_too_large} : std::nullopt});
        // The next pipelined request has its own budget.
        rows.push_back({"two pipelined 200-byte heads, header_bytes = " + std::to_string(l.header_bytes),
                        head_of_size(head) + head_of_size(head), l,
                        d < 0 ? std::optional{errc::head_too_large} : std::nullopt});
    }
    for (const long d : {-1L, 0L, 1L}) {
        limits l;
        l.header_count = static_cast<std::uint32_t>(10 + d);
        rows.push_back({"10 fields, header_count = " + std::to_string(l.header_count), with_fields(10), l,
                        d < 0 ? std::optional{errc::too_many_headers} : std::nullopt});
    }
    for (const long d : {-1L, 0L, 1L}) {
        limits l;
        l.body_bytes = static_cast<std::uint64_t>(100 + d);
        rows.push_back({"Content-Length 100, body_bytes = " + std::to_string(l.body_bytes),
                        with_length(post, std::string(100, 'b')), l,
                        d < 0 ? std::optional{errc::body_too_large} : std::nullopt});
        rows.push_back({"chunked 100 bytes, body_bytes = " + std::to_string(l.body_bytes), chunked_of(100), l,
                        d < 0 ? std::optional{errc::body_too_large} : std::nullopt});
    }
    {
        limits l;
        l.body_bytes = 0;  // unlimited
        rows.push_back({"Content-Length 10^12, body_bytes = 0 (unlimited): head accepted",
                        post + "Content-Length: 1000000000000\r\n\r\n", l, std::nullopt});
        l.body_bytes = 10;
        rows.push_back({"one chunk announcing more than the limit", chunked_post + "ffffff\r\nab", l,
                        std::optional{errc::body_too_large}});
    }

    for (const auto& row : rows) {
        DYNAMIC_SECTION(row.name) {
            for (const auto& pieces : all_splits(row.raw)) {
                INFO(describe_split(pieces));
                const auto r = run_requests(pieces, row.lim);
                if (row.expected) {
                    REQUIRE(r.failed);
                    REQUIRE(r.error == *row.expected);
                    // Over-limit heads and declared lengths are refused before head_done.
                    if (row.raw.find("Content-Length") != std::string::npos || *row.expected != errc::body_too_large)
                        REQUIRE(r.heads == 0);
                } else {
                    REQUIRE_FALSE(r.failed);
                    REQUIRE(r.heads >= 1);
                }
            }
        }
    }
}

TEST_CASE("request_parser: event contract", "[http][request]") {
    request_parser p{limits{}};
    p.reset();

    SECTION("head_done consumes exactly the head; message_done follows with consumed 0") {
        const std::string a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        const std::string b = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        const std::string buf = a + b;
        REQUIRE_FALSE(p.started());
        auto r = p.feed(buf);
        REQUIRE(r.event == parse_event::head_done);
        REQUIRE(r.consumed == a.size());
        REQUIRE(p.started());
        REQUIRE(p.head().target == "/a");
        r = p.feed(std::string_view(buf).substr(a.size()));
        REQUIRE(r.event == parse_event::message_done);
        REQUIRE(r.consumed == 0);
        // Without reset(), the parser stays at message_done.
        REQUIRE(p.feed(std::string_view(buf).substr(a.size())).event == parse_event::message_done);
        p.reset();
        REQUIRE_FALSE(p.started());
        r = p.feed(std::string_view(buf).substr(a.size()));
        REQUIRE(r.event == parse_event::head_done);
        REQUIRE(r.consumed == b.size());
        REQUIRE(p.head().target == "/b");
    }

    SECTION("body completing at the end of the input: body, then message_done on an empty feed") {
        const std::string raw = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
        auto r = p.feed(raw);
        REQUIRE(r.event == parse_event::head_done);
        const std::string_view rest = std::string_view(raw).substr(r.consumed);
        r = p.feed(rest);
        REQUIRE(r.event == parse_event::body);
        REQUIRE(r.consumed == 3);
        REQUIRE(p.body_spans().size() == 1);
        REQUIRE(std::string_view(p.body_spans()[0].data(), p.body_spans()[0].size()) == "abc");
        r = p.feed({});
        REQUIRE(r.event == parse_event::message_done);
        REQUIRE(r.consumed == 0);
        REQUIRE(p.body_bytes() == 3);
    }

    SECTION("empty input while waiting for the head") {
        const auto r = p.feed({});
        REQUIRE(r.event == parse_event::need_more);
        REQUIRE(r.consumed == 0);
        REQUIRE_FALSE(p.started());
    }

    SECTION("reset() in the middle of a request fails the parser") {
        auto r = p.feed(std::string_view("GET / HTTP/1.1\r\nHo"));
        REQUIRE(r.event == parse_event::need_more);
        p.reset();
        r = p.feed(std::string_view("st: a\r\n\r\n"));
        REQUIRE(r.event == parse_event::error);
        REQUIRE(p.error() == errc::bad_request);
    }

    SECTION("errors are sticky across reset()") {
        auto r = p.feed(std::string_view("GET / HTTP/1.1\nHost: a\r\n\r\n"));
        REQUIRE(r.event == parse_event::error);
        p.reset();
        r = p.feed(std::string_view("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        REQUIRE(r.event == parse_event::error);
        REQUIRE(r.consumed == 0);
    }

    SECTION("headers keep their values across storage reuse") {
        for (int i = 0; i < 3; ++i) {
            const std::string raw = "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: h" + std::to_string(i) +
                                    "\r\nX-A: " + std::string(static_cast<std::size_t>(100 * (i + 1)), 'a') + "\r\n\r\n";
            auto r = p.feed(raw);
            REQUIRE(r.event == parse_event::head_done);
            REQUIRE(p.head().host == "h" + std::to_string(i));
            REQUIRE(p.head().headers.size() == 2);
            REQUIRE(p.head().headers[1].value.size() == static_cast<std::size_t>(100 * (i + 1)));
            REQUIRE(find_header(p.head().headers, "x-a").has_value());
            r = p.feed({});
            REQUIRE(r.event == parse_event::message_done);
            p.reset();
        }
    }
}

TEST_CASE("request_parser: mutated corpus gives the same outcome at any split", "[http][request][fuzz]") {
    // Property: however the bytes are cut into reads, the parser reaches the same result (same
    // messages, same head count, same error). Checked on deterministic random mutations of the
    // valid corpus, with bytes that matter to HTTP framing.
    const char interesting[] = {'\r', '\n', ' ', '\t', ':', ',', ';', '0', '5', 'a', '\0', '\x7f', '\xff', '-', '/'};
    std::mt19937 rng(1234567);
    const auto corpus = valid_corpus();
    for (const auto& row : corpus) {
        DYNAMIC_SECTION(row.name) {
            for (int round = 0; round < 60; ++round) {
                std::string m = row.raw;
                const int edits = 1 + static_cast<int>(rng() % 3);
                for (int e = 0; e < edits && !m.empty(); ++e) {
                    const std::size_t at = rng() % m.size();
                    const char c = interesting[rng() % sizeof interesting];
                    switch (rng() % 3) {
                        case 0: m[at] = c; break;
                        case 1: m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c); break;
                        default: m.erase(at, 1); break;
                    }
                }
                const auto whole = run_requests({m});
                std::vector<std::vector<std::string_view>> cuts;
                std::vector<std::string_view> bytes;
                for (std::size_t i = 0; i < m.size(); ++i) bytes.push_back(std::string_view(m).substr(i, 1));
                cuts.push_back(bytes);
                for (int k = 0; k < 4; ++k) {
                    const std::size_t at = m.empty() ? 0 : rng() % m.size();
                    cuts.push_back({std::string_view(m).substr(0, at), std::string_view(m).substr(at)});
                }
                for (const auto& pieces : cuts) {
                    INFO("round " << round << ", " << describe_split(pieces));
                    const auto r = run_requests(pieces);
                    REQUIRE(r.failed == whole.failed);
                    REQUIRE(r.error == whole.error);
                    REQUIRE(r.heads == whole.heads);
                    REQUIRE(r.messages == whole.messages);
                }
            }
        }
    }
}

TEST_CASE("request_parser: restart() clears a sticky error and a half-parsed request", "[http][request]") {
    request_parser p{limits{}};
    p.reset();
    const std::string bad = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    REQUIRE(p.feed(bad).event == parse_event::error);
    p.reset();  // sticky: still failed
    CHECK(p.feed(std::string_view("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).event == parse_event::error);

    p.restart();  // a pooled parser handed to the next connection
    const std::string good = "GET /next HTTP/1.1\r\nHost: b\r\n\r\n";
    const auto r = p.feed(good);
    REQUIRE(r.event == parse_event::head_done);
    CHECK(p.head().target == "/next");
    CHECK(p.head().host == "b");

    // Abandoned mid-body: restart() starts at a request boundary again.
    request_parser q{limits{}};
    q.reset();
    REQUIRE(q.feed(std::string_view("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12")).event ==
            parse_event::head_done);
    q.restart();
    REQUIRE(q.feed(good).event == parse_event::head_done);
    CHECK(q.head().target == "/next");
}
