// response_parser: framing kinds, HEAD / 1xx / 204 / 304, close-delimited bodies with finish(),
// truncation and malformed responses, every row at every split point.

#include "http_test_util.hpp"

#include "proxy/http/response_parser.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace atsgate::http;
using namespace atsgate::http::test;
using namespace std::string_literals;

namespace {

struct expect_msg {
    int status;
    framing body;
    std::string body_data;
    bool keep_alive;
    std::uint64_t content_length = 0;
};

struct response_row {
    const char* name;
    std::string method;
    std::string raw;
    bool eof;                          // finish() after the input
    std::vector<expect_msg> messages;  // interim responses first
    std::optional<errc> error;         // expected failure (after `messages`)
};

std::vector<response_row> response_corpus() {
    std::vector<response_row> rows;
    rows.push_back({"Content-Length", "PUT",
                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 5\r\n\r\nhello", false,
                    {{200, framing::content_length, "hello", true, 5}}, std::nullopt});
    rows.push_back({"Content-Length 0", "PUT", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false,
                    {{200, framing::content_length, "", true, 0}}, std::nullopt});
    rows.push_back({"chunked with extension and trailer", "GET",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nT: v\r\n\r\n",
                    false, {{200, framing::chunked, "abcdefg", true}}, std::nullopt});
    rows.push_back({"close-delimited + finish()", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
                    true, {{200, framing::until_close, "until the end", false}}, std::nullopt});
    rows.push_back({"HTTP/1.0 close-delimited", "GET", "HTTP/1.0 200 OK\r\n\r\nold", true,
                    {{200, framing::until_close, "old", false}}, std::nullopt});
    rows.push_back({"HTTP/1.0 keep-alive with Content-Length", "GET",
                    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false,
                    {{200, framing::content_length, "ok", true, 2}}, std::nullopt});
    rows.push_back({"Connection: close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                    false, {{200, framing::content_length, "ok", false, 2}}, std::nullopt});
    rows.push_back({"HEAD with Content-Length has no body", "HEAD",
                    "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", false,
                    {{200, framing::none, "", true, 1234}}, std::nullopt});
    rows.push_back({"HEAD with chunked has no body", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    false, {{200, framing::none, "", true}}, std::nullopt});
    rows.push_back({"204 No Content", "DELETE", "HTTP/1.1 204 No Content\r\n\r\n", false,
                    {{204, framing::none, "", true}}, std::nullopt});
    rows.push_back({"304 Not Modified with Content-Length", "GET",
                    "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n", false,
                    {{304, framing::none, "", true, 99}}, std::nullopt});
    rows.push_back({"100 Continue then 200", "PUT",
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone", false,
                    {{100, framing::none, "", true}, {200, framing::content_length, "done", true, 4}}, std::nullopt});
    rows.push_back({"103 Early Hints then 200", "GET",
                    "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                    false, {{103, framing::none, "", true}, {200, framing::chunked, "ok", true}}, std::nullopt});
    rows.push_back({"two 1xx then 204", "PUT",
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", false,
                    {{100, framing::none, "", true}, {102, framing::none, "", true}, {204, framing::none, "", true}},
                    std::nullopt});
    rows.push_back({"status line without reason", "GET", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false,
                    {{200, framing::content_length, "", true}}, std::nullopt});
    // --- failures
    rows.push_back({"truncated Content-Length body then EOF", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                    true, {}, errc::bad_response});
    rows.push_back({"truncated chunked body then EOF", "GET",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true, {}, errc::bad_response});
    rows.push_back({"truncated head then EOF", "GET", "HTTP/1.1 200 OK\r\nContent-Le", true, {}, errc::bad_response});
    rows.push_back({"EOF before anything", "GET", "", true, {}, errc::bad_response});
    rows.push_back({"CL + TE", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", false,
                    {}, errc::bad_response});
    rows.push_back({"duplicate Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
                    false, {}, errc::bad_response});
    rows.push_back({"Content-Length not digits", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2a\r\n\r\nok", false, {},
                    errc::bad_response});
    rows.push_back({"Transfer-Encoding gzip", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx", false, {},
                    errc::bad_response});
    rows.push_back({"Transfer-Encoding gzip, chunked", "GET",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false, {}, errc::bad_response});
    rows.push_back({"chunked from an HTTP/1.0 server", "GET",
                    "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, {}, errc::bad_response});
    rows.push_back({"bad chunk size", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
                    {}, errc::bad_response});
    rows.push_back({"missing CRLF after chunk", "GET",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n", false, {}, errc::bad_response});
    rows.push_back({"bare LF in status line", "GET", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", false, {},
                    errc::bad_response});
    rows.push_back({"obs-fold", "GET", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", false, {},
                    errc::bad_response});
    rows.push_back({"two-digit status", "GET", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", false, {},
                    errc::bad_response});
    rows.push_back({"HTTP/2.0 status line", "GET", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, {},
                    errc::bad_response});
    rows.push_back({"101 Switching Protocols (never asked for)", "GET",
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", false, {},
                    errc::bad_response});
    rows.push_back({"not HTTP at all", "GET", "SSH-2.0-OpenSSH_9.2\r\n", false, {}, errc::bad_response});
    rows.push_back({"NUL in header value", "GET", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"s, false, {},
                    errc::bad_response});
    return rows;
}

}  // namespace

TEST_CASE("response_parser: corpus at every split point", "[http][response]") {
    for (const auto& row : response_corpus()) {
        DYNAMIC_SECTION(row.name) {
            for (const auto& pieces : all_splits(row.raw)) {
                INFO(describe_split(pieces));
                const auto r = run_response(row.method, pieces, row.eof);
                REQUIRE(r.messages.size() == row.messages.size());
                for (std::size_t i = 0; i < row.messages.size(); ++i) {
                    const auto& got = r.messages[i];
                    const auto& want = row.messages[i];
                    INFO("message " << i << ": " << got);
                    CHECK(got.status == want.status);
                    CHECK(got.body == want.body);
                    CHECK(got.body_data == want.body_data);
                    CHECK(got.keep_alive == want.keep_alive);
                    CHECK(got.content_length == want.content_length);
                }
                if (row.error) {
                    REQUIRE(r.failed);
                    REQUIRE(r.error == *row.error);
                } else {
                    REQUIRE_FALSE(r.failed);
                }
            }
        }
    }
}

TEST_CASE("response_parser: head limit at the exact boundary", "[http][response][limits]") {
    const std::string base = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: \r\n\r\n";
    const std::size_t size = 300;
    const std::string raw =
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: " + std::string(size - base.size(), 'p') + "\r\n\r\n";
    REQUIRE(raw.size() == size);
    for (const long d : {-1L, 0L, 1L}) {
        limits l;
        l.response_header_bytes = static_cast<std::uint32_t>(static_cast<long>(size) + d);
        DYNAMIC_SECTION("300-byte head, response_header_bytes = " << l.response_header_bytes) {
            for (const auto& pieces : all_splits(raw)) {
                INFO(describe_split(pieces));
                const auto r = run_response("GET", pieces, false, l);
                if (d < 0) {
                    REQUIRE(r.failed);
                    REQUIRE(r.error == errc::response_head_too_large);
                } else {
                    REQUIRE_FALSE(r.failed);
                    REQUIRE(r.messages.size() == 1);
                }
            }
        }
    }
    for (const long d : {-1L, 0L}) {
        limits l;
        l.header_count = static_cast<std::uint32_t>(3 + d);
        DYNAMIC_SECTION("3 fields, header_count = " << l.header_count) {
            const auto r = run_response("GET", {"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n"}, false, l);
            REQUIRE(r.failed == (d < 0));
            if (d < 0) REQUIRE(r.error == errc::response_head_too_large);
        }
    }
}

TEST_CASE("response_parser: event contract", "[http][response]") {
    response_parser p{limits{}};

    SECTION("reset() starts a new exchange and clears errors") {
        p.reset("GET");
        REQUIRE(p.feed(std::string_view("garbage\r\n")).event == parse_event::error);
        p.reset("GET");
        REQUIRE_FALSE(p.started());
        const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        auto r = p.feed(raw);
        REQUIRE(r.event == parse_event::head_done);
        REQUIRE(r.consumed == raw.size());
        REQUIRE(p.started());
        REQUIRE(p.head().status == 200);
        REQUIRE(p.head().reason == "OK");
        r = p.feed({});
        REQUIRE(r.event == parse_event::message_done);
    }

    SECTION("bytes after a response are left unconsumed") {
        p.reset("GET");
        const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
        auto r = p.feed(raw);
        REQUIRE(r.event == parse_event::head_done);
        std::size_t pos = r.consumed;
        r = p.feed(std::string_view(raw).substr(pos));
        REQUIRE(r.event == parse_event::body);
        REQUIRE(r.consumed == 2);
        pos += r.consumed;
        r = p.feed(std::string_view(raw).substr(pos));
        REQUIRE(r.event == parse_event::message_done);
        REQUIRE(r.consumed == 0);
        REQUIRE(std::string_view(raw).substr(pos) == "EXTRA");
    }

    SECTION("next_response() outside a 1xx is refused") {
        p.reset("GET");
        auto r = p.feed(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        REQUIRE(r.event == parse_event::head_done);
        REQUIRE(p.feed({}).event == parse_event::message_done);
        p.next_response();
        REQUIRE(p.feed({}).event == parse_event::error);
        REQUIRE(p.error() == errc::bad_response);
    }

    SECTION("finish() on an unfinished head reports whether anything was received") {
        p.reset("GET");
        REQUIRE_FALSE(p.started());
        REQUIRE(p.finish().event == parse_event::error);
        REQUIRE_FALSE(p.started());  // nothing received: the caller may retry
        p.reset("GET");
        REQUIRE(p.feed(std::string_view("HTTP/1.1 2")).event == parse_event::need_more);
        REQUIRE(p.finish().event == parse_event::error);
        REQUIRE(p.started());
    }

    SECTION("finish() on a connection closed with zero bytes says nothing was sent") {
        // The upstream exchange tells "closed without a response" (logged as such, retryable on a
        // pooled connection) from a truncated response by started(): empty feeds (the exchange
        // feeds the parser again after every event) and a previous exchange on the same parser
        // (a keep-alive connection) must not count as a started response.
        const auto closed_with_nothing = [&] {
            REQUIRE(p.feed({}).event == parse_event::need_more);
            REQUIRE(p.feed({}).event == parse_event::need_more);
            REQUIRE_FALSE(p.started());
            const auto r = p.finish();
            REQUIRE(r.event == parse_event::error);
            REQUIRE(r.consumed == 0);
            REQUIRE_FALSE(p.started());
            REQUIRE(p.error() == errc::bad_response);
            REQUIRE(std::string_view(p.error_reason()) == "upstream closed without sending a response");
        };
        p.reset("GET");
        closed_with_nothing();
        p.reset("GET");  // a completed exchange first, then the next one gets nothing
        REQUIRE(p.feed(std::string_view("HTTP/1.1 204 No Content\r\n\r\n")).event == parse_event::head_done);
        REQUIRE(p.feed({}).event == parse_event::message_done);
        p.reset("GET");
        closed_with_nothing();
        // One byte makes it a truncated response.
        p.reset("GET");
        REQUIRE(p.feed(std::string_view("H")).event == parse_event::need_more);
        REQUIRE(p.finish().event == parse_event::error);
        REQUIRE(p.started());
        REQUIRE(std::string_view(p.error_reason()) == "upstream closed before the response was complete");
    }
}

TEST_CASE("response_parser: mutated corpus gives the same outcome at any split", "[http][response][fuzz]") {
    const char interesting[] = {'\r', '\n', ' ', '\t', ':', ',', ';', '0', '1', 'a', '\0', '\x7f', '\xff'};
    std::mt19937 rng(7654321);
    for (const auto& row : response_corpus()) {
        DYNAMIC_SECTION(row.name) {
            for (int round = 0; round < 40; ++round) {
                std::string m = row.raw;
                for (int e = 0; e < 2 && !m.empty(); ++e) {
                    const std::size_t at = rng() % m.size();
                    const char c = interesting[rng() % sizeof interesting];
                    switch (rng() % 3) {
                        case 0: m[at] = c; break;
                        case 1: m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c); break;
                        default: m.erase(at, 1); break;
                    }
                }
                const auto whole = run_response(row.method, {m}, row.eof);
                std::vector<std::string_view> bytes;
                for (std::size_t i = 0; i < m.size(); ++i) bytes.push_back(std::string_view(m).substr(i, 1));
                INFO("round " << round);
                const auto r = run_response(row.method, bytes, row.eof);
                REQUIRE(r.failed == whole.failed);
                REQUIRE(r.error == whole.error);
                REQUIRE(r.heads == whole.heads);
                REQUIRE(r.messages == whole.messages);
            }
        }
    }
}
