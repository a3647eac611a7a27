#pragma once
// Test drivers for the HTTP codec: feed a byte stream (in the given pieces) through a parser the
// way downstream/connection does, and capture every message as owned values so runs with
// different split points can be compared.

#include "proxy/http/request_parser.hpp"
#include "proxy/http/response_parser.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::http::test {

struct owned_header {
    std::string name, value;
    bool operator==(const owned_header&) const = default;
};

struct owned_request {
    std::string method, target;
    int major = 0, minor = 0;
    std::vector<owned_header> headers;
    framing body = framing::none;
    std::uint64_t content_length = 0;
    bool keep_alive = false, expect_continue = false;
    std::string host;
    std::string body_data;
    bool operator==(const owned_request&) const = default;
};

struct owned_response {
    int status = 0;
    std::string reason;
    int major = 0, minor = 0;
    std::vector<owned_header> headers;
    framing body = framing::none;
    std::uint64_t content_length = 0;
    bool keep_alive = false;
    std::string body_data;
    bool operator==(const owned_response&) const = default;
};

inline const char* to_string(framing f) {
    switch (f) {
        case framing::none: return "none";
        case framing::content_length: return "content_length";
        case framing::chunked: return "chunked";
        case framing::until_close: return "until_close";
    }
    return "?";
}

inline std::ostream& operator<<(std::ostream& os, const owned_request& r) {
    os << r.method << ' ' << r.target << " HTTP/" << r.major << '.' << r.minor << " [" << to_string(r.body)
       << " cl=" << r.content_length << " ka=" << r.keep_alive << " expect=" << r.expect_continue
       << " host=" << r.host << " headers=" << r.headers.size() << " body=" << r.body_data.size() << "B]";
    return os;
}

inline std::ostream& operator<<(std::ostream& os, const owned_response& r) {
    os << "HTTP/" << r.major << '.' << r.minor << ' ' << r.status << ' ' << r.reason << " [" << to_string(r.body)
       << " cl=" << r.content_length << " ka=" << r.keep_alive << " headers=" << r.headers.size()
       << " body=" << r.body_data.size() << "B]";
    return os;
}

template <class Head>
std::vector<owned_header> capture_headers(const Head& h) {
    std::vector<owned_header> out;
    for (const auto& f : h.headers) out.push_back({std::string(f.name), std::string(f.value)});
    return out;
}

inline owned_request capture(const request_head& h) {
    owned_request r;
    r.method = h.method;
    r.target = h.target;
    r.major = h.version_major;
    r.minor = h.version_minor;
    r.headers = capture_headers(h);
    r.body = h.body;
    r.content_length = h.content_length;
    r.keep_alive = h.keep_alive;
    r.expect_continue = h.expect_continue;
    r.host = h.host;
    return r;
}

inline owned_response capture(const response_head& h) {
    owned_response r;
    r.status = h.status;
    r.reason = h.reason;
    r.major = h.version_major;
    r.minor = h.version_minor;
    r.headers = capture_headers(h);
    r.body = h.body;
    r.content_length = h.content_length;
    r.keep_alive = h.keep_alive;
    return r;
}

struct request_run {
    std::vector<owned_request> messages;  // completed (message_done) requests
    unsigned heads = 0;                   // head_done events, including an unfinished last one
    bool failed = false;
    errc error = errc::ok;
    std::size_t consumed = 0;  // bytes consumed in total
};

// Feeds `pieces` in order (as successive reads would deliver them) and drives the parser through
// every event, resetting after each message_done. Checks the event contract on the way.
inline request_run run_requests(const std::vector<std::string_view>& pieces, const limits& l = {}) {
    request_run res;
    request_parser p(l);
    p.reset();
    std::string buf;
    std::size_t pos = 0;
    owned_request cur;
    std::uint64_t body_seen = 0;
    auto pump = [&]() -> bool {
        for (int guard = 0; guard < 1'000'000; ++guard) {
            const std::span<const char> in{buf.data() + pos, buf.size() - pos};
            const auto r = p.feed(in);
            REQUIRE((r.consumed <= in.size()));
            switch (r.event) {
                case parse_event::head_done:
                    cur = capture(p.head());
                    body_seen = 0;
                    ++res.heads;
                    break;
                case parse_event::body:
                    REQUIRE(!p.body_spans().empty());
                    for (const auto s : p.body_spans()) {
                        // spans are views into the bytes given to this feed()
                        REQUIRE(s.data() >= in.data());
                        REQUIRE((s.data() + s.size() <= in.data() + r.consumed));
                        cur.body_data.append(s.data(), s.size());
                        body_seen += s.size();
                    }
                    REQUIRE(p.body_bytes() == body_seen);
                    break;
                case parse_event::message_done:
                    res.messages.push_back(cur);
                    cur = {};
                    p.reset();
                    break;
                case parse_event::error:
                    res.failed = true;
                    res.error = p.error();
                    REQUIRE(p.error() != errc::ok);
                    // sticky
                    REQUIRE(p.feed(in.subspan(r.consumed)).event == parse_event::error);
                    pos += r.consumed;
                    res.consumed = pos;
                    return false;
                case parse_event::need_more:
                    REQUIRE(r.consumed == in.size());
                    pos += r.consumed;
                    res.consumed = pos;
                    return true;
            }
            pos += r.consumed;
        }
        FAIL("parser made no progress");
        return false;
    };
    for (const auto piece : pieces) {
        buf.append(piece);
        if (!pump()) break;
    }
    return res;
}

struct response_run {
    std::vector<owned_response> messages;  // every completed response, interim ones included
    unsigned heads = 0;
    bool failed = false;
    errc error = errc::ok;
};

// Feeds a response stream for a request with `method`; after a 1xx completes calls
// next_response(). With `eof`, calls finish() after the last piece.
inline response_run run_response(std::string_view method, const std::vector<std::string_view>& pieces, bool eof,
                                 const limits& l = {}) {
    response_run res;
    response_parser p(l);
    p.reset(method);
    std::string buf;
    std::size_t pos = 0;
    owned_response cur;
    bool complete = false;
    auto on_event = [&](parse_event ev, std::span<const char> in, std::size_t consumed) -> int {
        switch (ev) {
            case parse_event::head_done:
                cur = capture(p.head());
                ++res.heads;
                return 0;
            case parse_event::body:
                for (const auto s : p.body_spans()) {
                    REQUIRE(s.data() >= in.data());
                    REQUIRE((s.data() + s.size() <= in.data() + consumed));
                    cur.body_data.append(s.data(), s.size());
                }
                return 0;
            case parse_event::message_done:
                res.messages.push_back(cur);
                if (cur.status >= 100 && cur.status < 200) {
                    p.next_response();
                    cur = {};
                    return 0;
                }
                complete = true;
                return 1;
            case parse_event::error:
                res.failed = true;
                res.error = p.error();
                return 1;
            case parse_event::need_more: return 2;
        }
        return 1;
    };
    for (const auto piece : pieces) {
        buf.append(piece);
        for (int guard = 0;; ++guard) {
            REQUIRE(guard < 1'000'000);
            const std::span<const char> in{buf.data() + pos, buf.size() - pos};
            const auto r = p.feed(in);
            REQUIRE((r.consumed <= in.size()));
            const int next = on_event(r.event, in, r.consumed);
            pos += r.consumed;
            if (next == 1) return res;
            if (next == 2) break;
        }
    }
    if (eof && !complete) {
        const auto r = p.finish();
        on_event(r.event, {}, 0);
    }
    return res;
}

// Every way of cutting `s` in two pieces, plus byte-by-byte.
inline std::vector<std::vector<std::string_view>> all_splits(std::string_view s) {
    std::vector<std::vector<std::string_view>> out;
    for (std::size_t i = 0; i <= s.size(); ++i) out.push_back({s.substr(0, i), s.substr(i)});
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
    out.push_back(bytes);
    return out;
}

inline std::string describe_split(const std::vector<std::string_view>& pieces) {
    if (pieces.size() == 2) return "split at " + std::to_string(pieces[0].size());
    return "in " + std::to_string(pieces.size()) + " pieces";
}

}  // namespace atsgate::http::test

namespace Catch {
template <>
struct StringMaker<atsgate::http::errc> {
    static std::string convert(atsgate::http::errc e) {
        return atsgate::http::make_error_code(e).message() + " (" + std::to_string(static_cast<int>(e)) + ")";
    }
};
}  // namespace Catch
