// rewrite: exact bytes of upstream requests, client responses and local responses; hop-by-hop
// removal; X-Forwarded-*; the Location rewrite matrix.

#include "http_test_util.hpp"

#include "proxy/http/request_parser.hpp"
#include "proxy/http/response_parser.hpp"
#include "proxy/http/local_response.hpp"
#include "proxy/http/rewrite.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

using namespace atsgate::http;

namespace {

// Parses a complete request head (must be valid) and writes it for the upstream.
std::string upstream_of(const std::string& raw, const upstream_request_context& ctx) {
    request_parser p{limits{}};
    p.reset();
    const auto r = p.feed(raw);
    REQUIRE(r.event == parse_event::head_done);
    std::string out;
    write_upstream_request(p.head(), ctx, out);
    return out;
}

struct client_out {
    std::string bytes;
    response_rewrites rw;
};

client_out client_of(const std::string& raw, const client_response_context& ctx) {
    response_parser p{limits{}};
    p.reset("GET");
    const auto r = p.feed(raw);
    REQUIRE(r.event == parse_event::head_done);
    client_out out;
    out.rw = write_client_response(p.head(), ctx, out.bytes);
    return out;
}

}  // namespace

TEST_CASE("rewrite: is_hop_by_hop", "[http][rewrite]") {
    struct row {
        const char* name;
        bool hop;
    };
    const row rows[] = {
        {"Connection", true},      {"keep-alive", true},  {"Proxy-Connection", true}, {"TE", true},
        {"Trailer", true},         {"UPGRADE", true},     {"Transfer-Encoding", true}, {"content-length", true},
        {"Host", false},           {"Mdm-Signature", false}, {"Trailers", false},     {"Content-Type", false},
        {"X-Forwarded-For", false}, {"Expect", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.name) { REQUIRE(is_hop_by_hop(r.name) == r.hop); }
    }
}

TEST_CASE("rewrite: write_upstream_request", "[http][rewrite]") {
    struct row {
        const char* name;
        std::string raw;
        upstream_request_context ctx;
        std::string expected;
    };
    const std::vector<row> rows = {
        {"plain GET: Host kept, X-Forwarded-* added",
         "GET /mdm/enroll HTTP/1.1\r\nHost: mdm.example.com\r\nAccept: */*\r\n\r\n",
         {.client_ip = "192.0.2.7"},
         "GET /mdm/enroll HTTP/1.1\r\nHost: mdm.example.com\r\nAccept: */*\r\nX-Forwarded-For: 192.0.2.7\r\n"
         "X-Forwarded-Proto: https\r\nX-Forwarded-Host: mdm.example.com\r\n\r\n"},
        {"hop-by-hop and Connection-listed fields removed",
         "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret, Upgrade\r\nKeep-Alive: timeout=5\r\n"
         "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: websocket\r\nX-Secret: s\r\n"
         "X-Kept: k\r\n\r\n",
         {.client_ip = "10.1.1.1"},
         "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: k\r\nX-Forwarded-For: 10.1.1.1\r\nX-Forwarded-Proto: https\r\n"
         "X-Forwarded-Host: a\r\n\r\n"},
        {"Connection listing Host does not drop Host",
         "GET / HTTP/1.1\r\nHost: a\r\nConnection: host\r\n\r\n",
         {.client_ip = "10.1.1.1"},
         "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.1.1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\n\r\n"},
        {"X-Forwarded-For appended in order; XFP/XFH replaced",
         "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nX-Forwarded-Proto: http\r\n"
         "X-Forwarded-For: 3.3.3.3\r\nX-Forwarded-Host: evil.example\r\n\r\n",
         {.client_ip = "4.4.4.4"},
         "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4\r\n"
         "X-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\n\r\n"},
        {"X-Forwarded-For listed in Connection is dropped",
         "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Forwarded-For\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
         {.client_ip = "4.4.4.4"},
         "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 4.4.4.4\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\n\r\n"},
        {"Expect removed, Content-Length re-emitted",
         "PUT /mdm/checkin HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0005\r\n"
         "Mdm-Signature: MIAG\r\n\r\n",
         {.client_ip = "10.0.0.1", .body = framing::content_length, .content_length = 5},
         "PUT /mdm/checkin HTTP/1.1\r\nHost: a\r\nMdm-Signature: MIAG\r\nX-Forwarded-For: 10.0.0.1\r\n"
         "X-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\nContent-Length: 5\r\n\r\n"},
        {"chunked re-emitted",
         "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
         {.client_ip = "10.0.0.1", .body = framing::chunked},
         "POST /c HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n"
         "X-Forwarded-Host: a\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {"HTTP/1.0 without Host is sent as HTTP/1.1 with an empty Host",
         "GET /old HTTP/1.0\r\nAccept: */*\r\n\r\n",
         {.client_ip = "10.0.0.1"},
         "GET /old HTTP/1.1\r\nAccept: */*\r\nHost: \r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n"},
        {"custom proto, no client ip",
         "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
         {.client_ip = "", .proto = "http"},
         "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n\r\n"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.name) { REQUIRE(upstream_of(r.raw, r.ctx) == r.expected); }
    }
}

TEST_CASE("rewrite: is_identity_field", "[http][rewrite][security]") {
    struct row {
        const char* name;
        bool identity;
    };
    const row rows[] = {
        {"X-Client-Cert", true},           {"x-client-cert", true},        {"X-CLIENT-CERT", true},
        {"X-Client-Cert-Chain", true},     {"Client-Cert", true},          {"client-cert-chain", true},
        {"X-SSL-Client-Cert", true},       {"X-SSL-Client-Verify", true},  {"X-Ssl-Client-S-Dn", true},
        {"SSL-Client-Cert", true},         {"ssl-client-verify", true},    {"X-Forwarded-Client-Cert", true},
        {"X-ARR-ClientCert", true},        {"X-Amzn-Mtls-Clientcert", true}, {"x-amzn-mtls-clientcert-leaf", true},
        // Not identity fields.
        {"Mdm-Signature", false},          {"X-Client", false},            {"X-Client-Version", false},
        {"Client", false},                 {"X-Forwarded-Client", false},  {"X-SSL", false},
        {"SSL-Client", false},             {"Client-Certainly-Not", true},  // a "client-cert" prefix
        {"Authorization", false},          {"X-Forwarded-For", false},     {"", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.name) { CHECK(is_identity_field(r.name) == r.identity); }
    }
}

TEST_CASE("rewrite: client-sent identity fields, '_' names and Proxy-Authorization never go upstream",
          "[http][rewrite][security]") {
    const std::string tail = "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\n";
    struct row {
        const char* name;
        std::string fields;    // client fields after Host
        std::string_view identity_header, identity_value;
        std::string expected;  // fields between Host and X-Forwarded-For
        std::uint32_t underscore, identity;
    };
    const std::vector<row> rows = {
        {"X-Client-Cert on a listener without client_auth", "X-Client-Cert: forged\r\nX-Kept: k\r\n", "", "",
         "X-Kept: k\r\n", 0, 1},
        {"Client-Cert and Client-Cert-Chain (RFC 9440) without client_auth",
         "Client-Cert: :Zm9yZ2Vk:\r\nClient-Cert-Chain: :YQ==:\r\n", "", "", "", 0, 2},
        {"underscore spelling of the identity header", "X_Client_Cert: forged\r\nx_client-cert: forged\r\n",
         "X-Client-Cert", "", "", 2, 0},
        {"SSL_CLIENT_CERT, CGI style", "SSL_CLIENT_CERT: forged\r\n", "", "", "", 1, 0},
        {"any underscore name is dropped", "X_Other: v\r\nAccept_Language: en\r\nX-Ok: v\r\n", "", "",
         "X-Ok: v\r\n", 2, 0},
        {"configured name, any case, replaced by the real value",
         "x-device-cert: forged\r\nX-DEVICE-CERT: again\r\n", "X-Device-Cert", "REAL",
         "X-Device-Cert: REAL\r\n", 0, 2},
        {"well-known names dropped even with another configured name",
         "X-Client-Cert: forged\r\nX-SSL-Client-Verify: SUCCESS\r\nX-Forwarded-Client-Cert: By=x\r\n",
         "Client-Cert", ":cmVhbA==:", "Client-Cert: :cmVhbA==:\r\n", 0, 3},
        {"Proxy-Authorization is not forwarded", "Proxy-Authorization: Basic dXNlcjpwYXNz\r\nAuthorization: Bearer t\r\n",
         "", "", "Authorization: Bearer t\r\n", 0, 0},
        {"proxy-authorization in any case", "PROXY-AUTHORIZATION: x\r\n", "", "", "", 0, 0},
        {"ordinary headers untouched", "Mdm-Signature: MIAG\r\nX-Client-Version: 1\r\n", "X-Client-Cert", "",
         "Mdm-Signature: MIAG\r\nX-Client-Version: 1\r\n", 0, 0},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.name) {
            request_parser p{limits{}};
            p.reset();
            const std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n" + r.fields + "\r\n";
            REQUIRE(p.feed(raw).event == parse_event::head_done);
            upstream_request_context ctx{.client_ip = "10.0.0.1"};
            ctx.identity_header = r.identity_header;
            ctx.identity_value = r.identity_value;
            std::string out;
            const auto drops = write_upstream_request(p.head(), ctx, out);
            CHECK(out == "GET / HTTP/1.1\r\nHost: a\r\n" + r.expected + tail + "\r\n");
            CHECK(drops.underscore == r.underscore);
            CHECK(drops.identity == r.identity);
        }
    }
}

TEST_CASE("rewrite: write_client_response", "[http][rewrite]") {
    const std::array<std::string_view, 1> none{"unused.example"};
    struct row {
        const char* name;
        std::string raw;
        client_response_context ctx;
        std::string expected;
    };
    const std::vector<row> rows = {
        {"hop-by-hop removed, Content-Length re-emitted",
         "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: keep-alive, X-Internal\r\n"
         "Keep-Alive: timeout=5\r\nX-Internal: secret\r\nContent-Length: 5\r\n\r\n",
         {.keep_alive = true, .body = framing::content_length, .content_length = 5, .request_host = {}, .own_hosts = {}},
         "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 5\r\n\r\n"},
        {"Connection: close when not keep-alive",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
         {.keep_alive = false, .body = framing::chunked, .content_length = 0, .request_host = {}, .own_hosts = {}},
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"},
        {"until_close: no framing header, always Connection: close",
         "HTTP/1.0 200 OK\r\nServer: legacy\r\n\r\n",
         {.keep_alive = true, .body = framing::until_close, .content_length = 0, .request_host = {}, .own_hosts = {}},
         "HTTP/1.1 200 OK\r\nServer: legacy\r\nConnection: close\r\n\r\n"},
        {"missing reason phrase filled in",
         "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
         {.keep_alive = true, .body = framing::content_length, .content_length = 0, .request_host = {}, .own_hosts = {}},
         "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"},
        {"204 without framing",
         "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n",
         {.keep_alive = true, .body = framing::none, .content_length = 0, .request_host = {}, .own_hosts = {}},
         "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.name) {
            auto ctx = r.ctx;
            ctx.own_hosts = none;
            const auto out = client_of(r.raw, ctx);
            REQUIRE(out.bytes == r.expected);
            REQUIRE_FALSE(out.rw.location_rewritten);
            REQUIRE_FALSE(out.rw.plaintext_location);
        }
    }
}

TEST_CASE("rewrite: Location matrix", "[http][rewrite][location]") {
    // own hosts: the request host, the listener's server_name, the upstream host:port
    const std::array<std::string_view, 3> own{"mdm.example.com:8443", "mdm.example.com", "10.0.0.5:8080"};
    struct row {
        const char* name;
        std::string location;
        std::string expected;  // Location value written
        bool rewritten;
        bool plaintext;
    };
    const std::vector<row> rows = {
        {"own host", "http://mdm.example.com/mdm/checkin", "https://mdm.example.com:8443/mdm/checkin", true, false},
        {"own host, upper case scheme and host", "HTTP://MDM.Example.COM/x?y=1", "https://mdm.example.com:8443/x?y=1",
         true, false},
        {"own host with :80", "http://mdm.example.com:80/p", "https://mdm.example.com:8443/p", true, false},
        {"own host with port matching an entry", "http://mdm.example.com:8443/p", "https://mdm.example.com:8443/p", true,
         false},
        {"own host with another port", "http://mdm.example.com:9999/p", "http://mdm.example.com:9999/p", false, true},
        {"upstream host:port", "http://10.0.0.5:8080/mdm/server", "https://mdm.example.com:8443/mdm/server", true, false},
        {"upstream host on the default port (entry has a port)", "http://10.0.0.5/p", "http://10.0.0.5/p", false, true},
        {"own host without path", "http://mdm.example.com", "https://mdm.example.com:8443", true, false},
        {"own host with query only", "http://mdm.example.com?a=b", "https://mdm.example.com:8443?a=b", true, false},
        {"foreign host", "http://evil.example/p", "http://evil.example/p", false, true},
        {"own name as a prefix of a foreign host", "http://mdm.example.com.evil.example/p",
         "http://mdm.example.com.evil.example/p", false, true},
        {"userinfo", "http://mdm.example.com@evil.example/p", "http://mdm.example.com@evil.example/p", false, true},
        {"https already", "https://mdm.example.com/p", "https://mdm.example.com/p", false, false},
        {"relative", "/mdm/enroll", "/mdm/enroll", false, false},
        {"scheme-relative", "//mdm.example.com/p", "//mdm.example.com/p", false, false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.name) {
            const std::string raw = "HTTP/1.1 302 Found\r\nLocation: " + r.location + "\r\nContent-Length: 0\r\n\r\n";
            client_response_context ctx{.keep_alive = true,
                                        .body = framing::content_length,
                                        .content_length = 0,
                                        .request_host = "mdm.example.com:8443",
                                        .own_hosts = own};
            const auto out = client_of(raw, ctx);
            REQUIRE(out.bytes == "HTTP/1.1 302 Found\r\nLocation: " + r.expected + "\r\nContent-Length: 0\r\n\r\n");
            REQUIRE(out.rw.location_rewritten == r.rewritten);
            REQUIRE(out.rw.plaintext_location == r.plaintext);
        }
    }
    SECTION("response bodies are never touched: only the head is written") {
        const std::string raw =
            "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n<string>http://mdm.example.com</string>";
        client_response_context ctx{.body = framing::content_length, .content_length = 30,
                                    .request_host = "mdm.example.com:8443", .own_hosts = own};
        const auto out = client_of(raw, ctx);
        REQUIRE(out.bytes == "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n");
        REQUIRE_FALSE(out.rw.location_rewritten);
    }
}

TEST_CASE("rewrite: local responses and chunk helpers", "[http][rewrite]") {
    struct row {
        std::uint16_t status;
        bool close;
        std::string expected;
    };
    const std::vector<row> rows = {
        {400, true,
         "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
         "400 Bad Request\n"},
        {502, false, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n502 Bad Gateway\n"},
        {431, true,
         "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nContent-Length: 36\r\n"
         "Connection: close\r\n\r\n431 Request Header Fields Too Large\n"},
        {599, true, "HTTP/1.1 599 \r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\n599\n"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION("status " << r.status << (r.close ? " close" : " keep-alive")) {
            std::string out = "prefix|";
            write_local_response(r.status, r.close, out);
            REQUIRE(out == "prefix|" + r.expected);
        }
    }
    SECTION("every errc maps to a status with a reason phrase") {
        for (int e = 1; e <= static_cast<int>(errc::response_head_too_large); ++e) {
            const auto s = status_for(static_cast<errc>(e));
            INFO("errc " << e << " -> " << s);
            REQUIRE_FALSE(reason_phrase(s).empty());
        }
    }
    SECTION("chunk headers") {
        std::string out;
        append_chunk_header(0, out);
        append_chunk_header(10, out);
        append_chunk_header(0x1234abcd, out);
        REQUIRE(out == "0\r\na\r\n1234abcd\r\n");
        REQUIRE(last_chunk == "0\r\n\r\n");
        REQUIRE(chunk_trailer == "\r\n");
        REQUIRE(continue_response == "HTTP/1.1 100 Continue\r\n\r\n");
    }
}
