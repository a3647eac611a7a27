// router::route_table: host and longest-prefix matching, defaults, static replies, weighted splits,
// sticky splits (rendezvous hashing), SCEP-only listeners, and the admin weight switch.

#include "proxy/router/route_table.hpp"

#include "proxy/http/target.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace atsgate;
using kind = router::decision::kind;

namespace {

config::route make_route(std::string host, std::string path, std::vector<config::split_target> targets,
                         std::string name = {}) {
    config::route r;
    r.name = std::move(name);
    r.host = std::move(host);
    r.path = std::move(path);
    r.targets = std::move(targets);
    return r;
}

config::split_target to(std::string name, std::size_t index, std::uint32_t weight = 1) {
    return config::split_target{std::move(name), index, weight};
}

http::request_head head(std::string_view host, std::string_view target, std::string_view method = "GET") {
    http::request_head h;
    h.method = method;
    h.target = target;
    h.host = host;
    return h;
}

// Upstreams 0..3: legacy, enroll, blue, green.
config::config base() {
    config::config c;
    for (const char* n : {"legacy", "enroll", "blue", "green"}) {
        config::upstream u;
        u.name = n;
        c.upstreams.push_back(u);
    }
    config::listener l;
    l.name = "mdm";
    l.upstream = "legacy";
    l.upstream_index = 0;
    c.listeners.push_back(l);
    return c;
}

}  // namespace

TEST_CASE("router: host and longest path prefix", "[unit][router]") {
    auto c = base();
    auto& rs = c.listeners[0].routes;
    rs.push_back(make_route("", "/mdm", {to("legacy", 0)}));
    rs.push_back(make_route("", "/mdm/enroll", {to("enroll", 1)}));
    rs.push_back(make_route("enroll.example.com", "/", {to("blue", 2)}));
    rs.push_back(make_route("*.example.com", "/mdm", {to("green", 3)}));
    const router::route_table t(c);
    struct row {
        const char* label;
        const char* host;
        const char* target;
        std::size_t upstream;
    };
    const row rows[] = {
        {"longest prefix wins", "mdm.other.org", "/mdm/enroll/x", 1},
        {"shorter prefix", "mdm.other.org", "/mdm/checkin", 0},
        {"prefix matches on segment boundaries only", "mdm.other.org", "/mdm/enrollment", 0},
        {"prefix equal to the path", "mdm.other.org", "/mdm/enroll", 1},
        {"prefix followed by a slash", "mdm.other.org", "/mdm/enroll/", 1},
        {"no segment boundary after the shortest prefix", "mdm.other.org", "/mdmx/enroll", 0},
        {"query is not part of the path", "mdm.other.org", "/mdm?x=/mdm/enroll", 0},
        {"exact host beats everything", "enroll.example.com", "/mdm/enroll", 2},
        {"exact host is case-insensitive, port ignored", "ENROLL.Example.com:8443", "/x", 2},
        {"wildcard host", "a.example.com", "/mdm/enroll", 3},
        {"wildcard does not match the bare domain", "example.com", "/mdm/enroll", 1},
        {"wildcard matches one label only", "a.b.example.com", "/mdm/x", 0},
        {"nothing matches: default upstream", "x.org", "/other", 0},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            const auto d = t.match(0, head(r.host, r.target), {});
            CHECK(d.what == kind::forward);
            CHECK(d.upstream == r.upstream);
        }
    }
}

TEST_CASE("router: no default upstream gives 404, static replies", "[unit][router]") {
    auto c = base();
    c.listeners[0].upstream_index.reset();
    c.listeners[0].upstream.clear();
    config::route wk = make_route("", "/.well-known/com.apple.remotemanagement", {});
    wk.static_reply = config::static_response{200, "application/json", R"({"Servers":[]})"};
    c.listeners[0].routes.push_back(wk);
    const router::route_table t(c);
    const auto s = t.match(0, head("h", "/.well-known/com.apple.remotemanagement?user-identifier=x"), {});
    REQUIRE(s.what == kind::static_reply);
    REQUIRE(s.reply != nullptr);
    CHECK(s.reply->body == R"({"Servers":[]})");
    CHECK(t.match(0, head("h", "/mdm"), {}).what == kind::not_found);
}

TEST_CASE("router: weighted split without stickiness follows the weights", "[unit][router]") {
    auto c = base();
    c.listeners[0].routes.push_back(make_route("", "/enroll", {to("blue", 2, 90), to("green", 3, 10)}, "enroll"));
    const router::route_table t(c);
    std::map<std::size_t, int> count;
    for (std::uint64_t r = 0; r < 1000; ++r) count[t.match(0, head("h", "/enroll"), {"", r}).upstream]++;
    CHECK(count[2] == 900);  // random % 100 walks the weights exactly over 1000 consecutive values
    CHECK(count[3] == 100);
}

TEST_CASE("router: sticky splits keep a device on one side and move only what they must", "[unit][router]") {
    auto c = base();
    auto r = make_route("", "/enroll", {to("blue", 2, 50), to("green", 3, 50)}, "enroll");
    r.sticky = config::sticky_kind::path_segment;
    r.sticky_segment = 2;
    c.listeners[0].routes.push_back(r);
    const router::route_table t(c);

    std::map<std::string, std::size_t> first;
    int blue = 0;
    for (int i = 0; i < 400; ++i) {
        const std::string target = "/enroll/device-" + std::to_string(i) + "/step";
        const auto d = t.match(0, head("h", target), {"", static_cast<std::uint64_t>(i) * 7919});
        first[target] = d.upstream;
        blue += d.upstream == 2;
        // Same device, another random number: same side.
        CHECK(t.match(0, head("h", target), {"", 12345}).upstream == d.upstream);
    }
    CHECK(blue > 150);  // roughly half (hashing, not exact)
    CHECK(blue < 250);

    SECTION("shifting weight towards green moves only blue devices") {
        router::route_table shifted;
        std::string why;
        REQUIRE(t.with_weights("mdm", "enroll", {{"blue", 20}, {"green", 80}}, shifted, why));
        int moved_to_blue = 0, moved_to_green = 0;
        for (const auto& [target, up] : first) {
            const auto now = shifted.match(0, head("h", target), {}).upstream;
            if (now != up) (now == 2 ? moved_to_blue : moved_to_green)++;
        }
        CHECK(moved_to_blue == 0);
        CHECK(moved_to_green > 50);
    }
    SECTION("weight 0 drains a side completely") {
        router::route_table all_green;
        std::string why;
        REQUIRE(t.with_weights("mdm", "enroll", {{"blue", 0}}, all_green, why));
        for (const auto& [target, up] : first) CHECK(all_green.match(0, head("h", target), {}).upstream == 3);
    }
    SECTION("the weight switch validates its input") {
        router::route_table out;
        std::string why;
        CHECK_FALSE(t.with_weights("mdm", "enroll", {{"purple", 1}}, out, why));
        CHECK(why.find("purple") != std::string::npos);
        CHECK_FALSE(t.with_weights("mdm", "nope", {{"blue", 1}}, out, why));
        CHECK_FALSE(t.with_weights("nope", "enroll", {{"blue", 1}}, out, why));
        CHECK_FALSE(t.with_weights("mdm", "enroll", {{"blue", 0}, {"green", 0}}, out, why));
    }
}

TEST_CASE("router: sticky keys from a header and from the client certificate", "[unit][router]") {
    auto c = base();
    auto r = make_route("", "/", {to("blue", 2, 1), to("green", 3, 1)}, "all");
    r.sticky = config::sticky_kind::header;
    r.sticky_name = "X-Device-Id";
    c.listeners[0].routes.push_back(r);
    auto rc = make_route("", "/mdm", {to("blue", 2, 1), to("green", 3, 1)}, "mdm");
    rc.sticky = config::sticky_kind::client_cert;
    c.listeners[0].routes.push_back(rc);
    const router::route_table t(c);

    http::request_head h = head("h", "/x");
    std::vector<http::header> headers{{"x-device-id", "ABC"}};
    h.headers = headers;
    const auto a = t.match(0, h, {"", 1}).upstream;
    for (std::uint64_t i = 0; i < 20; ++i) CHECK(t.match(0, h, {"", i}).upstream == a);

    const auto b = t.match(0, head("h", "/mdm/checkin"), {"deadbeef", 1}).upstream;
    for (std::uint64_t i = 0; i < 20; ++i) CHECK(t.match(0, head("h", "/mdm/server"), {"deadbeef", i}).upstream == b);
}

TEST_CASE("router: SCEP listeners forward only SCEP requests", "[unit][router]") {
    auto c = base();
    c.listeners[0].kind = config::listener_kind::scep;
    c.listeners[0].scep_path = "/scep";
    config::listener other = c.listeners[0];
    other.name = "scep2";
    other.redirect = "https://mdm.example.com";
    c.listeners.push_back(other);
    const router::route_table t(c);
    struct row {
        const char* label;
        const char* method;
        const char* target;
        kind expected;
    };
    const row rows[] = {
        {"GetCACert", "GET", "/scep?operation=GetCACert&message=x", kind::forward},
        {"PKIOperation POST", "POST", "/scep/pkiclient.exe?operation=PKIOperation", kind::forward},
        {"operation later in the query", "GET", "/scep?message=x&operation=GetCACaps", kind::forward},
        {"no operation", "GET", "/scep", kind::forbidden},
        {"other path", "GET", "/mdm/checkin?operation=GetCACert", kind::forbidden},
        {"PUT is not SCEP", "PUT", "/scep?operation=PKIOperation", kind::forbidden},
        {"lookalike parameter", "GET", "/scep?xoperation=GetCACert", kind::forbidden},
        {"longer segment is not scep_path", "GET", "/scepfoo?operation=GetCACert", kind::forbidden},
        {"scep_path with a trailing slash", "GET", "/scep/?operation=GetCACert", kind::forward},
        {"scep_path in the query only", "GET", "/mdm/checkin?x=/scep&operation=GetCACert", kind::forbidden},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            CHECK(t.match(0, head("h", r.target, r.method), {}).what == r.expected);
            const auto d2 = t.match(1, head("h", r.target, r.method), {});
            if (r.expected == kind::forbidden) {
                CHECK(d2.what == kind::redirect);
                CHECK(d2.redirect_origin == "https://mdm.example.com");
            } else {
                CHECK(d2.what == kind::forward);
            }
        }
    }
}

TEST_CASE("router: OPTIONS * on a scep listener is answered locally with Allow", "[unit][router]") {
    auto c = base();
    c.listeners[0].kind = config::listener_kind::scep;
    config::listener redirecting = c.listeners[0];
    redirecting.name = "scep2";
    redirecting.redirect = "https://mdm.example.com";
    c.listeners.push_back(redirecting);
    config::listener https = base().listeners[0];
    https.name = "https";
    c.listeners.push_back(https);
    const router::route_table t(c);
    for (std::size_t l : {0, 1}) {
        INFO("listener " << l);
        const auto d = t.match(l, head("h", "*", "OPTIONS"), {});
        CHECK(d.what == kind::options);
        CHECK(d.allow == "GET, POST");
        CHECK(d.redirect_origin.empty());  // never "origin" + "*"
        // OPTIONS on a path is an ordinary non-SCEP request.
        CHECK(t.match(l, head("h", "/scep", "OPTIONS"), {}).what == (l == 0 ? kind::forbidden : kind::redirect));
    }
    // An https listener forwards OPTIONS * to its default upstream (RFC 9110 section 7.1).
    const auto d = t.match(2, head("h", "*", "OPTIONS"), {});
    CHECK(d.what == kind::forward);
    CHECK(d.upstream == 0);
}

TEST_CASE("router: path_covers matches on segment boundaries", "[unit][router]") {
    struct row {
        const char* label;
        const char* prefix;
        const char* path;
        bool covers;
    };
    const row rows[] = {
        {"root covers everything", "/", "/anything/at/all", true},
        {"root covers root", "/", "/", true},
        {"equal", "/scep", "/scep", true},
        {"next segment", "/scep", "/scep/x", true},
        {"trailing slash of the path", "/scep", "/scep/", true},
        {"longer segment", "/scep", "/scepfoo", false},
        {"longer segment with dot", "/scep", "/scep.exe", false},
        {"shorter path", "/scep", "/sce", false},
        {"different path", "/scep", "/mdm", false},
        {"case matters", "/scep", "/SCEP", false},
        {"prefix with slash covers below it", "/mdm/", "/mdm/x", true},
        {"prefix with slash covers itself", "/mdm/", "/mdm/", true},
        {"prefix with slash does not cover the bare name", "/mdm/", "/mdm", false},
        {"prefix with slash does not cover a longer name", "/mdm/", "/mdmx/", false},
        {"multi-segment prefix", "/a/b", "/a/b/c", true},
        {"multi-segment prefix, longer last segment", "/a/b", "/a/bc", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) { CHECK(router::path_covers(r.prefix, r.path) == r.covers); }
    }
}

TEST_CASE("router: configured prefixes are normalised like request paths", "[unit][router]") {
    auto c = base();
    auto& rs = c.listeners[0].routes;
    rs.push_back(make_route("", "/mdm//enroll/./x", {to("enroll", 1)}));  // = "/mdm/enroll/x"
    rs.push_back(make_route("", "/%7Euser", {to("blue", 2)}));            // = "/~user"
    rs.push_back(make_route("", "/a%2Fb", {to("green", 3)}));             // cannot be normalised: never matches
    c.listeners[0].kind = config::listener_kind::https;
    config::listener scep = base().listeners[0];
    scep.name = "scep";
    scep.kind = config::listener_kind::scep;
    scep.scep_path = "/cgi-bin//pkiclient.exe";
    c.listeners.push_back(scep);
    const router::route_table t(c);
    CHECK(t.match(0, head("h", "/mdm/enroll/x/y"), {}).upstream == 1);
    CHECK(t.match(0, head("h", "/~user/z"), {}).upstream == 2);
    CHECK(t.match(0, head("h", "/a/b"), {}).upstream == 0);
    CHECK(t.match(0, head("h", "/a%2Fb"), {}).upstream == 0);  // (the parser refuses such a target anyway)
    CHECK(t.match(1, head("h", "/cgi-bin/pkiclient.exe?operation=GetCACaps"), {}).what == kind::forward);
}

TEST_CASE("router: what the parser normalised is what routes, sticky path segments included", "[unit][router]") {
    auto c = base();
    c.listeners[0].kind = config::listener_kind::https;
    auto r = make_route("", "/enroll", {to("blue", 2, 50), to("green", 3, 50)}, "enroll");
    r.sticky = config::sticky_kind::path_segment;
    r.sticky_segment = 2;
    c.listeners[0].routes.push_back(r);
    c.listeners[0].routes.push_back(make_route("", "/admin", {to("enroll", 1)}));
    const router::route_table t(c);
    struct row {
        const char* label;
        const char* raw;
        std::size_t upstream;  // SIZE_MAX: the sticky side of device-7
    };
    const std::size_t device7 = t.match(0, head("h", "/enroll/device-7/step"), {}).upstream;
    const row rows[] = {
        {"dot-dot out of the route", "/enroll/../admin/x", 1},
        {"encoded dot-dot out of the route", "/enroll/%2e%2E/admin", 1},
        {"dot-dot out of the default into a route", "/other/../admin", 1},
        {"merged slashes keep the segment number", "/enroll//device-7/step", device7},
        {"dot segments before the key", "/enroll/x/../device-7", device7},
        {"encoded unreserved key", "/enroll/%64evice-7", device7},
    };
    for (const auto& x : rows) {
        DYNAMIC_SECTION(x.label) {
            http::target_status st{};
            const std::string target = http::normalized_copy(x.raw, &st);
            REQUIRE(st == http::target_status::ok);
            // Same key whatever the random input: the sticky hash, not the random split, decides.
            for (std::uint64_t rnd : {0u, 1u, 99u}) CHECK(t.match(0, head("h", target), {"", rnd}).upstream == x.upstream);
        }
    }
}

TEST_CASE("router: rendezvous hashing respects weights and zero", "[unit][router]") {
    std::vector<std::pair<std::string_view, std::uint32_t>> targets{{"a", 3}, {"b", 1}, {"c", 0}};
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 4000; ++i) {
        const std::string key = "k" + std::to_string(i);
        const auto idx = router::rendezvous(key, targets);
        REQUIRE(idx < 3);
        counts[idx]++;
    }
    CHECK(counts[2] == 0);
    CHECK(counts[0] > 2700);  // ~3000
    CHECK(counts[0] < 3300);
}
