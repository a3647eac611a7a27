// Production front door (issue 5): upstream pools of several real demo backends — active health
// checks eject a failing member and bring it back, passive ejection after max_fails connect
// failures, panic mode when every member is down or ejected (tried anyway), and https:// members
// with and without
// certificate verification. Asserted through which backend answered (X-Backend), status codes,
// /status and /metrics.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

std::string get(std::string_view target, std::string_view host = "127.0.0.1") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
}

// Sends `n` GETs of `target` over one keep-alive connection; counts who answered: the X-Backend
// name, or "status N" for a reply without one.
std::map<std::string, int> spread(std::uint16_t port, int n, std::string_view target = "/status/204",
                                  std::string_view host = "127.0.0.1") {
    std::map<std::string, int> seen;
    tls_client cl;
    const auto hs = cl.connect(port);
    if (!hs.ok) {
        seen["handshake failed: " + hs.error] = n;
        return seen;
    }
    for (int i = 0; i < n; ++i) {
        const auto r = cl.request(get(target, host));
        const auto who = header_value(r.data, "x-backend");
        ++seen[who.empty() ? "status " + std::to_string(status_of(r.data)) : who];
    }
    return seen;
}

std::string describe(const std::map<std::string, int>& m) {
    std::string s;
    for (const auto& [k, v] : m) s += k + "=" + std::to_string(v) + " ";
    return s;
}

// The JSON object of the member with url `url` of upstream "pool" in /status (its text up to the
// closing brace).
std::string member_status(const proxy& px, const std::string& url) {
    const auto st = px.admin("GET", "/status");
    const auto pool = st.find("\"name\":\"pool\",\"health_checks\"");
    const auto at = pool == std::string::npos ? pool : st.find("\"url\":\"" + url + "\"", pool);
    if (at == std::string::npos) return "(no member " + url + " of upstream pool in /status)";
    return st.substr(at, st.find('}', at) - at);
}

bool member_flag(const proxy& px, const std::string& url, const std::string& flag) {
    return member_status(px, url).find("\"" + flag + "\":true") != std::string::npos;
}

}  // namespace

TEST_CASE("frontdoor pools: an active health check ejects a failing member and brings it back",
          "[integration][frontdoor][pool]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend a(env, "a"), b(env, "b");
    auto cfg = env.default_config(a.url());
    cfg.listeners[0].upstream = "pool";
    cfg.extra = "[[upstream]]\nname = \"pool\"\nmembers = [ { url = \"" + a.url() + "\" }, { url = \"" + b.url() +
                "\" } ]\nhealth_path = \"/health\"\nhealth_interval = \"1s\"\nhealth_timeout = \"1s\"\n"
                "health_rise = 1\nhealth_fall = 1\n";
    proxy px(env, cfg);

    // Both members serve (round robin on one connection's worker).
    auto seen = spread(px.port(), 20);
    INFO(describe(seen));
    CHECK(seen["a"] == 10);
    CHECK(seen["b"] == 10);
    // The checker really asks each member.
    CHECK(poll_until([&] { return a.received("GET /health HTTP/1.1") && b.received("GET /health HTTP/1.1"); }, 5000ms));

    // a fails its checks: it is marked down and gets no traffic.
    REQUIRE(status_of(a.get("/health/down")) == 200);
    INFO(member_status(px, a.url()));
    REQUIRE(poll_until([&] { return !member_flag(px, a.url(), "healthy"); }, 10000ms, 50ms));
    CHECK_FALSE(member_flag(px, a.url(), "usable"));
    CHECK(member_flag(px, b.url(), "usable"));
    const auto a_before = a.request_lines().size();
    seen = spread(px.port(), 20);
    INFO(describe(seen));
    CHECK(seen["b"] == 20);
    CHECK(seen["a"] == 0);
    // Only health checks reached a meanwhile.
    for (std::size_t i = a_before; i < a.request_lines().size(); ++i) CHECK(a.request_lines()[i].rfind("GET /health ", 0) == 0);

    // b fails its checks too: with every member down, requests try them anyway (panic mode); both
    // still serve, so every request is answered, and each one is counted.
    REQUIRE(status_of(b.get("/health/down")) == 200);
    REQUIRE(poll_until([&] { return !member_flag(px, b.url(), "healthy"); }, 10000ms, 50ms));
    const auto unavailable = px.counter("atsgate_upstream_unavailable_total");
    seen = spread(px.port(), 6);
    INFO(describe(seen));
    CHECK(seen["a"] + seen["b"] == 6);
    CHECK(px.counter("atsgate_upstream_unavailable_total") == unavailable + 6);
    CHECK_FALSE(member_flag(px, b.url(), "healthy"));  // panic mode does not overrule the checks
    REQUIRE(status_of(b.get("/health/up")) == 200);
    REQUIRE(poll_until([&] { return member_flag(px, b.url(), "healthy"); }, 10000ms, 50ms));

    // a recovers: marked up again and back in the rotation.
    REQUIRE(status_of(a.get("/health/up")) == 200);
    REQUIRE(poll_until([&] { return member_flag(px, a.url(), "healthy"); }, 10000ms, 50ms));
    seen = spread(px.port(), 20);
    INFO(describe(seen));
    CHECK(seen["a"] == 10);
    CHECK(seen["b"] == 10);
}

TEST_CASE("frontdoor pools: max_fails connect failures eject a member, an all-down pool is tried anyway",
          "[integration][frontdoor][pool]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend live(env, "live");
    // Ports nothing listens on: connects are refused at once.
    const std::string dead1 = "http://127.0.0.1:" + std::to_string(free_port());
    const std::string dead2 = "http://127.0.0.1:" + std::to_string(free_port());
    auto cfg = env.default_config(live.url());
    cfg.listeners[0].upstream = "pool";
    cfg.listeners[0].extra = "[[listener.route]]\npath = \"/dead/\"\nupstream = \"dead\"\n";
    cfg.extra = "[[upstream]]\nname = \"pool\"\nmembers = [ { url = \"" + dead1 + "\" }, { url = \"" + live.url() +
                "\" } ]\nmax_fails = 1\nfail_timeout = \"60s\"\n"
                "\n[[upstream]]\nname = \"dead\"\nmembers = [ { url = \"" + dead1 + "\" }, { url = \"" + dead2 +
                "\" } ]\nmax_fails = 1\nfail_timeout = \"60s\"\n";
    proxy px(env, cfg);
    const std::string errors = "atsgate_upstream_connect_errors_total";

    // The dead member costs one failed connect; the request moves to the live one. Afterwards the
    // dead member is ejected and never tried again (within fail_timeout), on either worker.
    int served = 0;
    for (int i = 0; i < 3; ++i) {
        const auto seen = spread(px.port(), 10);
        INFO(describe(seen));
        served += seen.count("live") != 0 ? seen.at("live") : 0;
    }
    CHECK(served == 30);
    CHECK(px.counter(errors) == 1);
    INFO(member_status(px, dead1));
    CHECK(member_flag(px, dead1, "ejected"));
    CHECK(member_status(px, dead1).find("\"passive_failures\":1,\"ejections\":1") != std::string::npos);
    CHECK(member_flag(px, live.url(), "usable"));

    // A pool whose members are all down: the first request tries both (502) and they are ejected;
    // later requests find every member ejected and try them anyway (panic mode), each member once
    // per request, and get 502 while both stay down.
    const auto unavailable = px.counter("atsgate_upstream_unavailable_total");
    auto seen = spread(px.port(), 1, "/dead/x");
    INFO(describe(seen));
    CHECK(seen["status 502"] == 1);
    CHECK(px.counter(errors) == 3);  // health is per upstream and member: both were tried
    CHECK(px.counter("atsgate_upstream_unavailable_total") == unavailable);
    seen = spread(px.port(), 5, "/dead/x");
    INFO(describe(seen));
    CHECK(seen["status 502"] == 5);
    CHECK(px.counter(errors) == 3 + 5 * 2);
    CHECK(px.counter("atsgate_upstream_unavailable_total") == unavailable + 5);
    // The live pool is untouched.
    seen = spread(px.port(), 4);
    CHECK(seen["live"] == 4);
}

TEST_CASE("frontdoor pools: an ejected member is tried again after fail_timeout", "[integration][frontdoor][pool]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend live(env, "live");
    const std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
    auto cfg = env.default_config(live.url());
    cfg.workers = 1;
    cfg.listeners[0].upstream = "pool";
    cfg.extra = "[[upstream]]\nname = \"pool\"\nmembers = [ { url = \"" + dead + "\" }, { url = \"" + live.url() +
                "\" } ]\nmax_fails = 1\nfail_timeout = \"1s\"\n";
    proxy px(env, cfg);
    const std::string errors = "atsgate_upstream_connect_errors_total";
    auto seen = spread(px.port(), 6);
    CHECK(seen["live"] == 6);
    CHECK(px.counter(errors) == 1);
    REQUIRE(member_flag(px, dead, "ejected"));
    // After fail_timeout it is usable again, and the next requests try it (and eject it again).
    REQUIRE(poll_until([&] { return member_flag(px, dead, "usable"); }, 5000ms, 20ms));
    seen = spread(px.port(), 6);
    CHECK(seen["live"] == 6);
    CHECK(px.counter(errors) == 2);
    CHECK(member_status(px, dead).find("\"ejections\":2") != std::string::npos);
}

TEST_CASE("frontdoor pools: https members are verified against tls_ca and a wrong name is refused with 502",
          "[integration][frontdoor][pool]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    // The TLS backend's certificate: the test root's ECDSA leaf for localhost / 127.0.0.1.
    backend tb(env, "tls-backend", env.ecdsa());
    backend legacy(env, "legacy");
    auto cfg = env.default_config(legacy.url());
    cfg.listeners[0].extra = R"(
[[listener.route]]
host = "verified.test"
upstream = "verified"
[[listener.route]]
host = "wrong-name.test"
upstream = "wrong-name"
[[listener.route]]
host = "system-store.test"
upstream = "system-store"
[[listener.route]]
host = "unverified.test"
upstream = "unverified"
[[listener.route]]
host = "by-name.test"
upstream = "by-name"
)";
    const std::string url = "url = \"" + tb.url() + "\"\n";
    const std::string ca = "tls_ca = \"" + env.root_pem().string() + "\"\n";
    cfg.extra = "[[upstream]]\nname = \"verified\"\n" + url + "tls_verify = true\n" + ca +
                "\n[[upstream]]\nname = \"wrong-name\"\n" + url + "tls_verify = true\n" + ca + "tls_sni = \"wrong.example.test\"\n" +
                "\n[[upstream]]\nname = \"system-store\"\n" + url + "tls_verify = true\n" +
                "\n[[upstream]]\nname = \"unverified\"\n" + url + "tls_verify = false\n" +
                // A DNS name: sent as SNI and verified against the certificate's DNS SAN.
                "\n[[upstream]]\nname = \"by-name\"\nurl = \"https://localhost:" + std::to_string(tb.port()) +
                "\"\ntls_verify = true\n" + ca;
    proxy px(env, cfg);

    auto fetch = [&](const std::string& host, const std::string& marker) {
        return curl(env, {"-i", "-H", "Host: " + host, px.url("/headers?case=" + marker)});
    };
    // Verified against tls_ca and the member's IP: served by the TLS backend, which sees the
    // forwarded request.
    const auto ok = fetch("verified.test", "verified");
    INFO(ok.describe() << "\n" << ok.out);
    CHECK(ok.exit_code == 0);
    CHECK(status_of(ok.out) == 200);
    CHECK(header_value(ok.out, "x-backend") == "tls-backend");
    const auto seen_headers = echoed_headers(body_of(ok.out));
    CHECK(seen_headers.count("x-forwarded-proto") == 1);
    CHECK(seen_headers.find("x-forwarded-proto")->second == "https");
    CHECK(tb.received("GET /headers?case=verified HTTP/1.1"));
    const auto by_name = fetch("by-name.test", "by-name");
    INFO(by_name.describe() << "\n" << by_name.out);
    CHECK(status_of(by_name.out) == 200);
    CHECK(tb.received("GET /headers?case=by-name HTTP/1.1"));
    // Without verification the same member serves too.
    const auto unverified = fetch("unverified.test", "unverified");
    CHECK(status_of(unverified.out) == 200);
    CHECK(tb.received("GET /headers?case=unverified HTTP/1.1"));

    // A name the certificate does not have, or a CA that did not sign it: 502, and the request
    // never reaches the backend.
    const auto errors = px.counter("atsgate_upstream_connect_errors_total");
    for (const char* host : {"wrong-name.test", "system-store.test"}) {
        INFO(host);
        const auto r = fetch(host, host);
        CHECK(r.exit_code == 0);
        CHECK(status_of(r.out) == 502);
        CHECK(header_value(r.out, "x-backend").empty());
        CHECK_FALSE(tb.received(std::string("case=") + host));
    }
    CHECK(px.counter("atsgate_upstream_connect_errors_total") >= errors + 2);
    CHECK(legacy.request_lines().empty());
}

TEST_CASE("frontdoor pools: health checks reach https members over verified TLS", "[integration][frontdoor][pool]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend tb(env, "tls-backend", env.ecdsa());
    backend plain(env, "plain");
    auto cfg = env.default_config(plain.url());
    cfg.listeners[0].upstream = "pool";
    // "pool": the TLS backend (checked, verified) and a plain one; "control": the TLS backend
    // again, unchecked, to switch its health answer through the proxy.
    cfg.listeners[0].extra = "[[listener.route]]\nhost = \"control.test\"\nupstream = \"control\"\n";
    cfg.extra = "[[upstream]]\nname = \"pool\"\nmembers = [ { url = \"" + tb.url() + "\" }, { url = \"" + plain.url() +
                "\" } ]\ntls_verify = true\ntls_ca = \"" + env.root_pem().string() +
                "\"\nhealth_path = \"/health\"\nhealth_interval = \"1s\"\nhealth_rise = 1\nhealth_fall = 1\n"
                "\n[[upstream]]\nname = \"control\"\nurl = \"" + tb.url() + "\"\n";
    proxy px(env, cfg);
    CHECK(poll_until([&] { return tb.received("GET /health HTTP/1.1"); }, 5000ms));
    auto seen = spread(px.port(), 10);
    INFO(describe(seen));
    CHECK(seen["tls-backend"] == 5);
    CHECK(seen["plain"] == 5);

    CHECK(spread(px.port(), 1, "/health/down", "control.test")["tls-backend"] == 1);
    REQUIRE(poll_until([&] { return !member_flag(px, tb.url(), "healthy"); }, 10000ms, 50ms));
    seen = spread(px.port(), 10);
    INFO(describe(seen));
    CHECK(seen["plain"] == 10);
    CHECK(spread(px.port(), 1, "/health/up", "control.test")["tls-backend"] == 1);
    REQUIRE(poll_until([&] { return member_flag(px, tb.url(), "healthy"); }, 10000ms, 50ms));
    seen = spread(px.port(), 10);
    INFO(describe(seen));
    CHECK(seen["tls-backend"] == 5);
}

TEST_CASE("frontdoor pools: a single member ejected during a short restart is tried anyway (panic mode)",
          "[integration][frontdoor][pool]") {
    // Issue 9 item 4: three connect failures while the only backend restarted ejected it for
    // fail_timeout, and every request got 503 although the backend was back. A pool whose members
    // are all down or ejected is never left with nothing to try: its members are tried anyway.
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env, "only");
    auto cfg = env.default_config(be.url());
    cfg.workers = 1;  // ejection and panic state are per worker for the balancer, shared for health
    cfg.upstream_extra = "max_fails = 3\nfail_timeout = \"60s\"";
    proxy px(env, cfg);
    REQUIRE(spread(px.port(), 1)["only"] == 1);

    be.stop();
    auto seen = spread(px.port(), 3);
    INFO(describe(seen));
    CHECK(seen["status 502"] == 3);
    INFO(px.admin("GET", "/status"));
    CHECK(px.admin("GET", "/status").find("\"ejected\":true") != std::string::npos);

    // Back after the "restart": served at once, not 503 for fail_timeout.
    be.start();
    const auto unavailable = px.counter("atsgate_upstream_unavailable_total");
    seen = spread(px.port(), 5);
    INFO(describe(seen));
    CHECK(seen["only"] == 5);
    // The first request found the pool all-ejected (counted once); its success re-admitted the
    // member, so the later ones were ordinary.
    CHECK(px.counter("atsgate_upstream_unavailable_total") == unavailable + 1);
    CHECK(px.admin("GET", "/status").find("\"ejected\":true") == std::string::npos);
}
