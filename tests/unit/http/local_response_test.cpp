// http::write_local_response (the one writer of atsgate's own answers) and local_response_closes
// (RFC 9112 section 9.6: when such an answer ends the connection).
#include "proxy/http/local_response.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace atsgate::http {

TEST_CASE("http::write_local_response writes every kind of local answer exactly", "[unit][http][local]") {
    struct row {
        const char* label;
        local_response r;
        bool close, head;
        std::string expected;
        std::size_t body;
    };
    local_response err404;
    err404.status = 404;
    local_response stat;
    stat.status = 200;
    stat.content_type = "application/json";
    stat.body = "{\"ok\":true}";
    local_response redirect;
    redirect.status = 308;
    redirect.content_type = "text/plain; charset=utf-8";
    redirect.body = "";
    redirect.location = "https://mdm.example.com/x?y";
    local_response nocontent;
    nocontent.status = 204;
    nocontent.body = "ignored";
    local_response unknown;
    unknown.status = 599;
    local_response options;  // OPTIONS * on a scep listener
    options.status = 200;
    options.content_type = "";
    options.body = "";
    options.allow = "GET, POST";
    const std::vector<row> rows = {
        {"generated error body, keep-alive", err404, false, false,
         "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n404 Not Found\n", 14},
        {"generated error body, close", err404, true, false,
         "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\n"
         "404 Not Found\n",
         14},
        {"error to HEAD: head only, same Content-Length", err404, false, true,
         "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n", 0},
        {"static reply", stat, false, false,
         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", 11},
        {"static reply to HEAD", stat, true, true,
         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n", 0},
        {"redirect", redirect, false, false,
         "HTTP/1.1 308 Permanent Redirect\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n"
         "Location: https://mdm.example.com/x?y\r\n\r\n",
         0},
        {"OPTIONS *: Allow, Content-Length 0, no Content-Type", options, false, false,
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nAllow: GET, POST\r\n\r\n", 0},
        {"204 carries no body and no framing", nocontent, false, false, "HTTP/1.1 204 No Content\r\n\r\n", 0},
        {"status without a reason phrase", unknown, true, false,
         "HTTP/1.1 599 \r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\n599\n", 4},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            std::string out = "prefix|";
            const auto n = write_local_response(r.r, r.close, r.head, out);
            CHECK(out == "prefix|" + r.expected);
            CHECK(n == r.body);
        }
    }
}

TEST_CASE("http::local_response_closes follows Connection, the HTTP version and unread bodies",
          "[unit][http][local]") {
    request_head h11;
    request_head close11;
    close11.keep_alive = false;  // "Connection: close" (the parser sets keep_alive)
    request_head h10;
    h10.version_minor = 0;
    h10.keep_alive = false;  // HTTP/1.0 without "Connection: keep-alive"
    request_head h10ka;
    h10ka.version_minor = 0;
    h10ka.keep_alive = true;
    struct row {
        const char* label;
        const request_head* h;
        bool body_unread;
        bool closes;
    };
    const row rows[] = {
        {"no parsable head", nullptr, false, true},
        {"HTTP/1.1 keep-alive", &h11, false, false},
        {"HTTP/1.1 with an unread body", &h11, true, true},
        {"HTTP/1.1 Connection: close", &close11, false, true},
        {"HTTP/1.0", &h10, false, true},
        {"HTTP/1.0 Connection: keep-alive", &h10ka, false, false},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        CHECK(local_response_closes(r.h, r.body_unread) == r.closes);
    }
}

}  // namespace atsgate::http
