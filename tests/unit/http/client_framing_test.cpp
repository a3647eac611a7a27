// http::choose_client_framing and the keep-alive decision after a relayed response.
#include "proxy/http/client_framing.hpp"

#include <catch2/catch.hpp>

#include <vector>

namespace atsgate::http {

namespace {

response_head response(std::uint16_t status, framing body, std::uint64_t length = 0,
                       std::vector<header> headers = {}) {
    response_head rh;
    rh.status = status;
    rh.body = body;
    rh.content_length = length;
    rh.headers = std::move(headers);
    return rh;
}

}  // namespace

TEST_CASE("http::choose_client_framing", "[unit][http][framing]") {
    using f = framing;
    struct row {
        const char* label;
        std::string_view method;
        std::uint8_t minor;
        response_head rh;
        f relay, declared;
        std::uint64_t length;
    };
    const std::vector<row> rows = {
        {"Content-Length kept", "GET", 1, response(200, f::content_length, 42), f::content_length,
         f::content_length, 42},
        {"no body: Content-Length 0", "GET", 1, response(200, f::none), f::content_length, f::content_length, 0},
        {"chunked to HTTP/1.1", "GET", 1, response(200, f::chunked), f::chunked, f::chunked, 0},
        {"close-delimited to HTTP/1.1: chunked", "GET", 1, response(200, f::until_close), f::chunked, f::chunked, 0},
        {"chunked to HTTP/1.0: until close", "GET", 0, response(200, f::chunked), f::until_close, f::until_close,
         0},
        {"HEAD keeps the GET entity's length", "HEAD", 1,
         response(200, f::none, 0, {{"Content-Length", "1234"}}), f::none, f::content_length, 1234},
        {"HEAD without a length declares nothing", "HEAD", 1, response(200, f::none), f::none, f::none, 0},
        {"HEAD with an invalid length declares nothing", "HEAD", 1,
         response(200, f::none, 0, {{"Content-Length", "12x"}}), f::none, f::none, 0},
        {"304 keeps its length", "GET", 1, response(304, f::none, 0, {{"content-length", "7"}}), f::none,
         f::content_length, 7},
        {"204 never declares a length", "GET", 1, response(204, f::none, 0, {{"Content-Length", "7"}}), f::none,
         f::none, 0},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        const auto c = choose_client_framing(r.method, r.minor, r.rh);
        CHECK(c.relay == r.relay);
        CHECK(c.declared == r.declared);
        CHECK(c.content_length == r.length);
    }
}

TEST_CASE("http::client_stays_open", "[unit][http][framing]") {
    const keep_alive_inputs base{true, true, framing::content_length, false, 1, 0};
    CHECK(client_stays_open(base));
    auto v = base;
    v.client_keep_alive = false;
    CHECK_FALSE(client_stays_open(v));
    v = base;
    v.request_body_read = false;
    CHECK_FALSE(client_stays_open(v));
    v = base;
    v.relay = framing::until_close;
    CHECK_FALSE(client_stays_open(v));
    v = base;
    v.draining = true;
    CHECK_FALSE(client_stays_open(v));
    v = base;
    v.limit = 2;
    v.served = 1;
    CHECK(client_stays_open(v));
    v.served = 2;
    CHECK_FALSE(client_stays_open(v));
}

TEST_CASE("http helpers: content length, idempotency", "[unit][http][framing]") {
    CHECK(parse_content_length("0") == 0u);
    CHECK(parse_content_length("9999999999999999999") == 9999999999999999999ull);
    CHECK_FALSE(parse_content_length(""));
    CHECK_FALSE(parse_content_length("+1"));
    CHECK_FALSE(parse_content_length("1,1"));
    CHECK_FALSE(parse_content_length("10000000000000000000"));
    for (auto m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}) CHECK(is_idempotent(m));
    for (auto m : {"POST", "PATCH", "CONNECT", "get"}) CHECK_FALSE(is_idempotent(m));
}

}  // namespace atsgate::http
