// Target parsing (URLs, host:port) and redirect Location resolution.

#include "proxy/probe/target.hpp"

#include <catch2/catch.hpp>

using namespace atsgate::probe;

TEST_CASE("target: accepted forms", "[probe][target]") {
    struct row {
        const char* input;
        const char* scheme;
        const char* host;
        unsigned port;
        const char* path;
        bool ip;
        const char* url;
    };
    const std::vector<row> table = {
        {"https://mdm.example.com/mdm", "https", "mdm.example.com", 443, "/mdm", false, "https://mdm.example.com/mdm"},
        {"HTTPS://MDM.Example.COM:8443", "https", "mdm.example.com", 8443, "/", false, "https://mdm.example.com:8443/"},
        {"mdm.example.com:8443", "https", "mdm.example.com", 8443, "/", false, "https://mdm.example.com:8443/"},
        {"mdm.example.com", "https", "mdm.example.com", 443, "/", false, "https://mdm.example.com/"},
        {"  https://a.test/x?y=1#frag ", "https", "a.test", 443, "/x?y=1", false, "https://a.test/x?y=1"},
        {"https://a.test?q", "https", "a.test", 443, "/?q", false, "https://a.test/?q"},
        {"127.0.0.1:8443", "https", "127.0.0.1", 8443, "/", true, "https://127.0.0.1:8443/"},
        {"https://[::1]:8443/p", "https", "::1", 8443, "/p", true, "https://[::1]:8443/p"},
        {"[2001:db8::1]", "https", "2001:db8::1", 443, "/", true, "https://[2001:db8::1]/"},
        {"http://scep.example.com/scep", "http", "scep.example.com", 80, "/scep", false, "http://scep.example.com/scep"},
        {"http://a.test:443/", "http", "a.test", 443, "/", false, "http://a.test:443/"},
        {"my_host.internal:1", "https", "my_host.internal", 1, "/", false, "https://my_host.internal:1/"},
    };
    for (const auto& r : table) {
        DYNAMIC_SECTION(r.input) {
            std::string err;
            auto t = parse_target(r.input, err);
            INFO(err);
            REQUIRE(t);
            CHECK(t->scheme == r.scheme);
            CHECK(t->host == r.host);
            CHECK(t->port == r.port);
            CHECK(t->path == r.path);
            CHECK(t->host_is_ip == r.ip);
            CHECK(t->url() == r.url);
        }
    }
}

TEST_CASE("target: refused forms", "[probe][target]") {
    struct row {
        const char* input;
        const char* reason;
    };
    const std::vector<row> table = {
        {"", "empty target"},
        {"ftp://a.test/", "unsupported scheme"},
        {"https://user:pw@a.test/", "user information"},
        {"https://a.test:0/", "invalid port"},
        {"https://a.test:65536/", "invalid port"},
        {"https://a.test:8x/", "invalid port"},
        {"https://a.test:/", "empty port"},
        {"https:///path", "no host"},
        {"https://bad host/", "space or control"},
        {"https://a.test/\x01", "space or control"},
        {"https://-a.test/", "invalid host name"},
        {"https://a*.test/", "invalid host name"},
        {"::1", "IPv6 literals must be in brackets"},
        {"https://[::1/", "unterminated IPv6"},
        {"https://[zz::1]/", "invalid IPv6"},
        {"https://[::1]x/", "malformed authority"},
    };
    for (const auto& r : table) {
        DYNAMIC_SECTION(r.input) {
            std::string err;
            CHECK_FALSE(parse_target(r.input, err));
            CHECK_THAT(err, Catch::Contains(r.reason));
        }
    }
}

TEST_CASE("target: Location resolution", "[probe][target]") {
    std::string err;
    const target base = *parse_target("https://mdm.example.com:8443/a/b?x=1", err);
    struct row {
        const char* location;
        const char* resolved;
    };
    const std::vector<row> table = {
        {"https://other.test/x", "https://other.test/x"},
        {"HTTP://plain.test/", "HTTP://plain.test/"},
        {"//cdn.test/y", "https://cdn.test/y"},
        {"/root?q", "https://mdm.example.com:8443/root?q"},
        {"c", "https://mdm.example.com:8443/a/c"},
        {"?z=2", "https://mdm.example.com:8443/a/b?z=2"},
        {"/p#frag", "https://mdm.example.com:8443/p"},
        {"mailto:x@y", ""},
        {"javascript:alert(1)", ""},
        {"", ""},
    };
    for (const auto& r : table) {
        DYNAMIC_SECTION(r.location) { CHECK(resolve_location(base, r.location) == r.resolved); }
    }
}
