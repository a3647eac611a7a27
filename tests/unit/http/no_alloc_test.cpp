// "No per-request heap in the codec" (STYLE.md section 3): once a parser and an output buffer
// have served a request, further keep-alive requests allocate nothing. Global operator new is
// replaced in this test binary to count allocations while `counting` is set.

#include "mdm_corpus.hpp"

#include "proxy/http/request_parser.hpp"
#include "proxy/http/response_parser.hpp"
#include "proxy/http/rewrite.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc{};
}
// The whole (non-aligned) family is replaced so that every new/delete pair stays matched (ASan
// checks alloc-dealloc pairing).
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace atsgate::http;

namespace {
// One keep-alive exchange as downstream/connection drives it: parse the request, write it for the
// upstream, parse the response, write it for the client.
void exchange(request_parser& req, response_parser& resp, const std::string& request, const std::string& response,
              std::string& out) {
    out.clear();
    req.reset();
    std::span<const char> in{request.data(), request.size()};
    for (;;) {
        const auto r = req.feed(in);
        if (r.event == parse_event::head_done) {
            upstream_request_context ctx{.client_ip = "192.0.2.1", .body = req.head().body,
                                         .content_length = req.head().content_length};
            write_upstream_request(req.head(), ctx, out);
        }
        in = in.subspan(r.consumed);
        if (r.event == parse_event::message_done || r.event == parse_event::error) break;
    }
    REQUIRE(req.error() == errc::ok);

    resp.reset("PUT");
    in = {response.data(), response.size()};
    const std::array<std::string_view, 2> own{"mdm.example.com", "10.0.0.5:8080"};
    for (;;) {
        const auto r = resp.feed(in);
        if (r.event == parse_event::head_done) {
            client_response_context ctx{.keep_alive = true, .body = resp.head().body,
                                        .content_length = resp.head().content_length,
                                        .request_host = "mdm.example.com", .own_hosts = own};
            write_client_response(resp.head(), ctx, out);
        }
        in = in.subspan(r.consumed);
        if (r.event == parse_event::message_done || r.event == parse_event::error) break;
    }
    REQUIRE(resp.error() == errc::ok);
}
}  // namespace

TEST_CASE("codec: no heap allocation per request once warmed up", "[http][alloc]") {
    const std::string checkin = atsgate::http::test::checkin_request();
    const std::string poll = atsgate::http::test::command_poll_request();
    const std::string response =
        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nLocation: http://10.0.0.5:8080/next\r\n"
        "Transfer-Encoding: chunked\r\n\r\n6\r\n<plist\r\n0\r\n\r\n";
    {  // the counter itself works
        counting = true;
        allocations = 0;
        std::string* probe = new std::string(100, 'x');
        delete probe;
        counting = false;
        REQUIRE(allocations.load() >= 1);
    }
    request_parser req{limits{}};
    response_parser resp{limits{}};
    std::string out;
    out.reserve(8192);
    exchange(req, resp, checkin, response, out);  // warm up

    counting = true;
    allocations = 0;
    for (int i = 0; i < 100; ++i) {
        exchange(req, resp, checkin, response, out);
        exchange(req, resp, poll, response, out);
    }
    counting = false;
    REQUIRE(allocations.load() == 0);
}
