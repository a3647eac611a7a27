// enforcement = "report" end to end (issue 13): on a report-mode listener the clients strict mode
// refuses (TLS 1.2 without EMS, TLS 1.1, suites without forward secrecy) complete their handshakes
// and get answers, each counted once as would-refuse with the reason strict mode gives, while the
// same clients are refused on a strict listener; an Apple-like client negotiates exactly the same
// in both modes. The audit WARNs and `check` says the listener is not compliant yet; /status and
// the dashboard list the would-refuse clients with their reasons; fleet counters per listener.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace atsgate::itest;

namespace {

const std::string request = "GET /mdm/enroll HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

// A proxy with a strict listener "mdm" (index 0) and a report-mode listener "legacy" (index 1),
// both with the ECDSA or both with the RSA certificate (RSA key exchange needs an RSA key).
config_spec strict_and_report(const test_env& env, const backend& be, bool rsa = false) {
    auto c = env.default_config(be.url());
    if (rsa) {
        c.listeners[0].cert = env.rsa().cert;
        c.listeners[0].key = env.rsa().key;
    }
    listener_spec legacy = c.listeners[0];
    legacy.name = "legacy";
    legacy.extra = "enforcement = \"report\"\n";
    c.listeners.push_back(legacy);
    return c;
}

std::string would_refuse(std::string_view listener, std::string_view reason) {
    return "atsgate_handshake_would_refuse_total{listener=\"" + std::string(listener) + "\",reason=\"" +
           std::string(reason) + "\"}";
}

struct outcome {
    tls_client::handshake_result hs;
    std::string response;
};

outcome connect(const proxy& px, std::size_t listener, tls_client_options o) {
    tls_client c(std::move(o));
    outcome out;
    out.hs = c.connect(px.port(listener));
    if (out.hs.ok) out.response = c.request(request).data;
    return out;
}

tls_client_options no_ems() {
    tls_client_options o;
    o.max_version = TLS1_2_VERSION;
    o.no_ems = true;
    return o;
}

tls_client_options tls11() {
    tls_client_options o;
    o.min_version = TLS1_1_VERSION;
    o.max_version = TLS1_1_VERSION;
    o.cipher_list = "DEFAULT:@SECLEVEL=0";  // the client library's own floor
    return o;
}

tls_client_options rsa_kx() {
    tls_client_options o;
    o.max_version = TLS1_2_VERSION;
    o.cipher_list = "AES128-GCM-SHA256";
    return o;
}

}  // namespace

TEST_CASE("report mode: legacy clients are served and counted as would-refuse, refused in strict mode",
          "[integration][report]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, strict_and_report(env, be, true));  // RSA: the legacy port's usual key

    struct row {
        const char* name;
        tls_client_options opts;
        const char* reason;
        const char* version;
        const char* cipher;  // "" = do not check
    };
    const row rows[] = {
        {"TLS 1.2 without EMS", no_ems(), "no_ems", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"},
        {"TLS 1.1", tls11(), "protocol_version", "TLSv1.1", ""},
        {"TLS 1.2 with RSA key exchange only", rsa_kx(), "no_pfs_suite", "TLSv1.2", "AES128-GCM-SHA256"},
    };
    std::uint64_t served = 0;
    for (const auto& r : rows) {
        INFO(r.name);
        const auto refused_before = px.counter(refused_series(r.reason));
        const auto strict = connect(px, 0, r.opts);
        CHECK_FALSE(strict.hs.ok);
        CHECK(px.wait_for_counter(refused_series(r.reason), refused_before + 1) == refused_before + 1);

        const auto report = connect(px, 1, r.opts);
        INFO("report-mode handshake: " << report.hs.error);
        REQUIRE(report.hs.ok);
        ++served;
        CHECK(report.hs.version == r.version);
        if (*r.cipher != '\0') CHECK(report.hs.cipher == r.cipher);
        CHECK(status_of(report.response) == 200);
        CHECK(px.wait_for_counter(would_refuse("legacy", r.reason), 1) == 1);
        CHECK(px.counter(would_refuse("mdm", r.reason)) == 0);
        // Counted as would-refuse, not as a refusal.
        CHECK(px.counter(refused_series(r.reason)) == refused_before + 1);
    }
    // Logged once per handshake, in the refusal line's format.
    const auto log = px.proc().stdout_text() + px.proc().stderr_text();
    std::size_t lines = 0;
    for (auto p = log.find("handshake would-refuse: client=127.0.0.1:"); p != std::string::npos;
         p = log.find("handshake would-refuse: client=127.0.0.1:", p + 1))
        ++lines;
    CHECK(lines == served);
    CHECK(log.find("listener=legacy reason=no_ems offered: max_version=TLSv1.2") != std::string::npos);

    // /status: per-listener fleet counters and the recent list with reasons and explanations.
    const std::string status = body_of(px.admin("GET", "/status"));
    CHECK(status.find("\"enforcement\":\"report\"") != std::string::npos);
    CHECK(status.find("\"would_refuse\":true") != std::string::npos);
    CHECK(status.find("\"reason\":\"protocol_version\",\"would_refuse\":true") != std::string::npos);
    CHECK(status.find("\"reason\":\"no_ems\",\"would_refuse\":false") != std::string::npos);
    CHECK(status.find("offered no Extended Master Secret") != std::string::npos);
    CHECK(px.counter("atsgate_fleet_handshakes_total{listener=\"legacy\",version=\"TLSv1.1\"}") == 1);
    CHECK(px.counter("atsgate_fleet_client_hellos_total{listener=\"mdm\",max_version=\"TLSv1.1\"}") == 1);

    // The dashboard: report mode is not compliant yet, the clients are listed.
    const std::string page = body_of(http_get(px.admin_port(), "/"));
    CHECK(page.find("Not compliant yet: legacy is in report mode") != std::string::npos);
    CHECK(page.find("<span class=\"badge warn\">would refuse</span>") != std::string::npos);
    CHECK(page.find("report-only: not enforcing TLS policy") != std::string::npos);
}

TEST_CASE("report mode: an Apple-like client negotiates exactly as in strict mode", "[integration][report]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    const bool rsa = GENERATE(false, true);
    INFO((rsa ? "RSA" : "ECDSA") << " certificate");
    proxy px(env, strict_and_report(env, be, rsa));
    tls_client_options tls13;  // TLS 1.3, EMS offered, X25519 first: what an Apple device offers
    tls_client_options tls12;  // an older OS on TLS 1.2: ECDHE suites (and legacy ones after them), EMS
    tls12.max_version = TLS1_2_VERSION;
    tls12.cipher_list = "AES128-SHA:AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
                        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256";
    for (const auto& o : {tls13, tls12}) {
        const auto s = connect(px, 0, o);
        const auto r = connect(px, 1, o);
        REQUIRE(s.hs.ok);
        REQUIRE(r.hs.ok);
        CHECK(r.hs.version == s.hs.version);
        CHECK(r.hs.cipher == s.hs.cipher);
        CHECK(r.hs.ems == s.hs.ems);
        CHECK(status_of(r.response) == 200);
    }
    CHECK(px.counter(would_refuse("legacy", "no_pfs_suite")) == 0);
    CHECK(px.counter(would_refuse("legacy", "no_ems")) == 0);
    CHECK(px.counter(would_refuse("legacy", "protocol_version")) == 0);
}

TEST_CASE("report mode: check WARNs and says the listener is not compliant yet", "[integration][report]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    auto c = strict_and_report(env, backend(env));
    for (auto& l : c.listeners) l.port = free_port();
    c.admin = false;
    const auto path = env.write("check.toml", to_toml(c));
    const auto r = run_command({atsgate_binary().string(), "check", "-c", path.string()});
    INFO(r.describe() << "\n" << r.out);
    CHECK(r.exit_code == 0);  // WARN, not FAIL: it may run
    CHECK(r.out.find("WARN    tls.version") != std::string::npos);
    CHECK(r.out.find("report-only: not enforcing TLS policy (TLS 1.0 and 1.1 accepted") != std::string::npos);
    CHECK(r.out.find("NOT COMPLIANT YET: listener \"legacy\" is in report mode") != std::string::npos);
    CHECK(r.out.find(": NOT COMPLIANT YET (report mode)") != std::string::npos);
    // min_version = "1.3" has nothing to report on.
    c.listeners[1].extra = "enforcement = \"report\"\nmin_version = \"1.3\"\n";
    const auto bad = run_command({atsgate_binary().string(), "check", "-c", env.write("bad.toml", to_toml(c)).string()});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("listener[1].enforcement is \"report\", but min_version is \"1.3\"") != std::string::npos);
}

TEST_CASE("report mode: a hostile SNI in the recent refusals stays text", "[integration][report]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    auto o = no_ems();
    o.sni = "<script>alert(1)</script>";
    tls_client c(o);
    CHECK_FALSE(c.connect(px.port()).ok);
    px.wait_for_counter(refused_series("no_ems"), 1);
    const std::string page = body_of(http_get(px.admin_port(), "/"));
    CHECK(page.find("<script>alert") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("<tr class=\"refusal\">") != std::string::npos);
}
