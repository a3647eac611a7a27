// The dashboard page (proxy/server/dashboard): every hostile string from the view ends up escaped,
// the CSP allows exactly the inline stylesheet and script the page carries (by hash), certificates
// are highlighted at 30 and 7 days, the chart draws the per-minute series, and the page needs no
// script or external resource to show its content.

#include "proxy/server/dashboard.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/html.hpp"

#include <catch2/catch.hpp>

#include <regex>

using namespace atsgate;
using namespace atsgate::server;

namespace {

constexpr std::int64_t now = 1'900'000'000;  // 2030-03-17

dashboard_view hostile_view() {
    dashboard_view v;
    v.version = "1.2.3<b>";
    v.generation = 7;
    v.now = now;
    v.started = now - 3725;
    v.workers = 2;
    dashboard_view::listener l;
    l.name = "mdm";
    l.kind = "https";
    l.address = "0.0.0.0:443";
    l.enforcement = "strict";
    tls::finding f;
    f.endpoint = "mdm";
    f.id = "cert.expiry";
    f.result = tls::status::warn;
    f.subject = "CN=<script>alert('cn')</script>,O=\"Evil\" & Co";
    f.evidence = "expires in 20 days <img src=x onerror=alert(1)>";
    f.remediation = "renew </td></tr></table><script>alert(2)</script>";
    l.findings.push_back(f);
    v.listeners.push_back(l);
    v.certificates.push_back({"mdm", "CN=<script>alert(3)</script>", {"mdm.example.com", "\"><svg onload=alert(4)>"}, "EC P-256",
                              now + 20 * 86400 + 100});
    v.certificates.push_back({"mdm", "CN=urgent.example.com", {"urgent.example.com"}, "RSA 2048", now + 3 * 86400});
    v.certificates.push_back({"mdm", "CN=fine.example.com", {"fine.example.com"}, "RSA 2048", now + 200 * 86400});
    v.certificates.push_back({"mdm", "CN=gone.example.com", {"gone.example.com"}, "RSA 2048", now - 86400});
    v.routes.push_back({"mdm", "enroll", "enroll.example.com", "/enroll", {{"blue", 90}, {"green<i>", 10}}, std::nullopt});
    v.members.push_back({"blue", "http://10.0.0.5:8080/<x>", 2, true, true, false, true, 0, 0});
    v.members.push_back({"green<i>", "http://10.0.0.6:8080", 1, true, false, false, false, 3, 1});
    v.reloads.push_back({now - 60, "SIGHUP", false, 6, "reload refused: configuration errors\nproxy.toml:3:1: <bad>"});
    v.refusal_reasons = {"protocol_version", "no_ems"};
    v.would_refuse_reasons = {"protocol_version", "no_ems"};
    minute_series s(5);
    const std::uint64_t t1[] = {10, 1, 0, 0, 2};
    s.sample(now - 120, t1);
    const std::uint64_t t2[] = {25, 1, 3, 0, 2};
    s.sample(now, t2);
    v.minutes = s.last_hour(now);
    v.refused_total = {{"protocol_version", 1}, {"no_ems", 3}};
    v.would_refuse_total = {{"protocol_version", 0}, {"no_ems", 2}};
    v.recent.push_back({now - 5, "mdm", "192.0.2.7:50123", "<script>alert(5)</script>", "TLSv1.2", 12, false,
                        "x25519,secp256r1", "no_ems", false});
    return v;
}

// The text between the first `open` and the next `close` after it.
std::string between(const std::string& s, const std::string& open, const std::string& close) {
    const auto a = s.find(open);
    REQUIRE(a != std::string::npos);
    const auto b = s.find(close, a + open.size());
    REQUIRE(b != std::string::npos);
    return s.substr(a + open.size(), b - a - open.size());
}

}  // namespace

TEST_CASE("dashboard: hostile strings are escaped, only our own script remains", "[dashboard]") {
    const std::string page = render_dashboard(hostile_view());
    // One <script> element: ours, at the end.
    CHECK(std::regex_search(page, std::regex("<script>")) == true);
    std::size_t scripts = 0;
    for (auto p = page.find("<script"); p != std::string::npos; p = page.find("<script", p + 1)) ++scripts;
    CHECK(scripts == 1);
    for (const char* raw : {"<script>alert", "<img src=x", "<svg onload", "</td></tr></table><script>", "<b>", "<i>",
                            "<x>", "<bad>"})
        CHECK(page.find(raw) == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(5)&lt;/script&gt;") != std::string::npos);  // the SNI, inert
    CHECK(page.find("&lt;script&gt;alert(&#39;cn&#39;)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("&quot;&gt;&lt;svg onload=alert(4)&gt;") != std::string::npos);
    CHECK(page.find("1.2.3&lt;b&gt;") != std::string::npos);
    // No external resource: no src= or href= to anything but in-page anchors, /login, /logout.
    CHECK_FALSE(std::regex_search(page, std::regex("<[a-z]+[^>]*\\ssrc=")));  // no element loads anything
    CHECK(page.find("http-equiv") == std::string::npos);
    CHECK(std::regex_search(page, std::regex("href=\"(https?:)?//")) == false);
    CHECK(page.find("@import") == std::string::npos);
    CHECK(page.find("url(") == std::string::npos);
}

TEST_CASE("dashboard: the CSP allows exactly the page's inline style and script", "[dashboard]") {
    const std::string page = render_dashboard(hostile_view());
    const std::string& csp = dashboard_csp();
    CHECK(csp.find("default-src 'none'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(csp.find("unsafe-eval") == std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    const std::string style = between(page, "<style>", "</style>");
    const std::string script = between(page, "<script>", "</script>");
    CHECK(csp.find("style-src " + tls::html::csp_hash(style) + ";") != std::string::npos);
    CHECK(csp.find("script-src " + tls::html::csp_hash(script) + ";") != std::string::npos);
    // No inline event handlers or style attributes (CSP would block them; the page must not need them).
    CHECK(std::regex_search(page, std::regex(" on[a-z]+=\"")) == false);
    CHECK(page.find(" style=\"") == std::string::npos);
    // The login page uses the same stylesheet bytes, so the same CSP fits it.
    CHECK(between(render_login("bad <token>"), "<style>", "</style>") == style);
    CHECK(render_login("bad <token>").find("bad &lt;token&gt;") != std::string::npos);
}

TEST_CASE("dashboard: csp_hash is the base64 SHA-256 of the bytes", "[dashboard]") {
    // printf 'abc' | openssl dgst -sha256 -binary | base64
    CHECK(tls::html::csp_hash("abc") == "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='");
}

TEST_CASE("dashboard: certificates are highlighted under 30 and 7 days", "[dashboard]") {
    const std::string page = render_dashboard(hostile_view());
    CHECK(page.find("<tr class=\"cert soon\">") != std::string::npos);
    CHECK(page.find("<span class=\"days soon\">20</span> (renew soon)") != std::string::npos);
    CHECK(page.find("<tr class=\"cert urgent\">") != std::string::npos);
    CHECK(page.find("<span class=\"days urgent\">3</span> (renew now)") != std::string::npos);
    CHECK(page.find("<span class=\"days ok\">200</span>") != std::string::npos);
    CHECK(page.find("<span class=\"days expired\">-1</span> (expired)") != std::string::npos);
}

TEST_CASE("dashboard: chart, reasons, routes, pools, reloads and refused clients", "[dashboard]") {
    const std::string page = render_dashboard(hostile_view());
    CHECK(page.find("<svg id=\"chart-handshakes\"") != std::string::npos);
    CHECK(page.find("<svg id=\"chart-refusals\"") != std::string::npos);
    // Two minutes with data: 10 then 15 handshakes; 1 then 3 refusals; 2 then 0 would-refuse.
    CHECK(page.find("10 handshakes</title>") != std::string::npos);
    CHECK(page.find("15 handshakes</title>") != std::string::npos);
    CHECK(page.find("1 refused 2 would refuse</title>") != std::string::npos);
    CHECK(page.find("3 refused 0 would refuse</title>") != std::string::npos);
    CHECK(page.find("completed handshakes: 25") != std::string::npos);
    CHECK(page.find("offered no Extended Master Secret: Apple devices always do") != std::string::npos);
    CHECK(page.find("green&lt;i&gt; &times; 10 (10%)") != std::string::npos);
    CHECK(page.find("blue &times; 90 (90%)") != std::string::npos);
    CHECK(page.find(tls::html::badge("fail", "down")) != std::string::npos);
    CHECK(page.find(tls::html::badge("fail", "refused")) != std::string::npos);
    CHECK(page.find("proxy.toml:3:1: &lt;bad&gt;") != std::string::npos);
    CHECK(page.find("192.0.2.7:50123") != std::string::npos);
    CHECK(page.find("up 1h 2m") != std::string::npos);
    CHECK(page.find("Compliant, with warnings on mdm") != std::string::npos);
}

TEST_CASE("dashboard: verdict banner", "[dashboard]") {
    auto v = hostile_view();
    v.listeners[0].findings[0].result = tls::status::pass;
    CHECK(render_dashboard(v).find("Compliant: 1 listener passes the ATS audit") != std::string::npos);
    v.listeners[0].enforcement = "report";
    CHECK(render_dashboard(v).find("Not compliant yet: mdm is in report mode") != std::string::npos);
    v.listeners[0].findings[0].result = tls::status::fail;
    CHECK(render_dashboard(v).find("Not compliant: mdm fail the ATS audit") != std::string::npos);
    v.listeners[0].findings[0].result = tls::status::unknown;
    CHECK(render_dashboard(v).find("Not compliant: mdm") != std::string::npos);
}

TEST_CASE("dashboard: refresh interval is clamped, logout only with a session", "[dashboard]") {
    auto v = hostile_view();
    v.refresh_seconds = 0;
    CHECK(render_dashboard(v).find("<body data-refresh=\"2\">") != std::string::npos);
    v.refresh_seconds = 100000;
    CHECK(render_dashboard(v).find("<body data-refresh=\"3600\">") != std::string::npos);
    CHECK(render_dashboard(v).find("action=\"/logout\"") == std::string::npos);
    v.session = true;
    CHECK(render_dashboard(v).find("action=\"/logout\"") != std::string::npos);
}

TEST_CASE("dashboard: every refusal reason has its own explanation", "[dashboard]") {
    const std::string fallback(explain_reason("no-such-reason"));
    for (std::size_t i = 1; i < tls::refusal_count; ++i) {
        const auto r = tls::to_string(static_cast<tls::refusal>(i));
        INFO(r);
        CHECK(std::string(explain_reason(r)) != fallback);
    }
}

TEST_CASE("dashboard: ACME certificates with their state, next attempt and refusals", "[dashboard]") {
    auto v = hostile_view();
    CHECK(render_dashboard(v).find("id=\"acme\"") == std::string::npos);  // no [acme]: no section
    dashboard_view::acme_certificate ok;
    ok.id = "mdm.example.com.ecdsa-p256";
    ok.names = {"mdm.example.com"};
    ok.state = "valid";
    ok.not_after = now + 60 * 86400;
    ok.next_attempt = now + 30 * 86400;
    ok.reason = "two_thirds";
    dashboard_view::acme_certificate failing = ok;
    failing.id = "enroll.example.com.rsa-2048";
    failing.state = "failing";
    failing.failures = 3;
    failing.overdue = true;
    failing.reason = "backoff";
    failing.last_error = "connect: Connection refused <script>alert(6)</script>";
    dashboard_view::acme_certificate pending;
    pending.id = "new.example.com.ecdsa-p256";
    pending.names = {"new.example.com"};
    pending.state = "pending";
    pending.next_attempt = now + 60;
    pending.reason = "backoff";
    pending.failures = 1;
    pending.rejected = {"cert.lifetime FAIL: lifetime 1826 days <b>"};
    v.acme = {ok, failing, pending};
    const std::string page = render_dashboard(v);
    const std::string section = between(page, "<section id=\"acme\">", "</section>");
    CHECK(section.find("data-acme=\"mdm.example.com.ecdsa-p256\"") != std::string::npos);
    CHECK(section.find(tls::html::badge("pass", "valid")) != std::string::npos);
    CHECK(section.find(tls::html::badge("fail", "renewal overdue")) != std::string::npos);
    CHECK(section.find("3 failed in a row") != std::string::npos);
    CHECK(section.find(tls::html::badge("warn", "pending")) != std::string::npos);
    CHECK(section.find("none served") != std::string::npos);
    CHECK(section.find(tls::html::utc_date(now + 60 * 86400)) != std::string::npos);
    CHECK(section.find(tls::html::utc_time(now + 30 * 86400) + " <span class=\"muted\">(two_thirds)</span>") !=
          std::string::npos);
    CHECK(section.find("cert.lifetime FAIL: lifetime 1826 days &lt;b&gt;") != std::string::npos);
    CHECK(section.find("&lt;script&gt;alert(6)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("<script>alert(6)") == std::string::npos);
}
