// The admin dashboard (GET / on [admin]) and `atsgate probe --html`, over real HTTP from a running
// atsgate: who may see the page (bearer token, or the session cookie from the login form, which
// opens only read-only pages and is refused cross-site), the security headers, that hostile
// certificate text arrives escaped, and what the page shows. The page in a real browser is
// tests/browser (browser_test.cpp).

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <string>

using namespace atsgate::itest;

namespace {

const std::string token = "dash-token-0123456789abcdef";

config_spec with_token(const test_env& env, const backend& be) {
    auto c = env.default_config(be.url());
    c.admin_token = token;
    return c;
}

std::string bearer() { return "Authorization: Bearer " + token + "\r\n"; }

std::string login_request(std::string_view form, std::string_view extra = {}) {
    return "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: " +
           std::to_string(form.size()) + "\r\n" + std::string(extra) + "Connection: close\r\n\r\n" + std::string(form);
}

// "atsgate_session=v1...." from a Set-Cookie header value.
std::string cookie_pair(const std::string& set_cookie) { return set_cookie.substr(0, set_cookie.find(';')); }

}  // namespace

TEST_CASE("dashboard: the token opens it, without one a login form answers 401", "[integration][dashboard]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, with_token(env, be));

    const auto anon = http_get(px.admin_port(), "/");
    CHECK(status_of(anon) == 401);
    CHECK(header_value(anon, "content-type") == "text/html; charset=utf-8");
    CHECK(body_of(anon).find("<form class=\"login\" method=\"post\" action=\"/login\">") != std::string::npos);
    CHECK(body_of(anon).find("mdm") == std::string::npos);  // nothing about the proxy before login

    const auto page = http_request(px.admin_port(), "GET", "/", bearer());
    REQUIRE(status_of(page) == 200);
    CHECK(header_value(page, "content-type") == "text/html; charset=utf-8");
    CHECK(header_value(page, "cache-control") == "no-store");
    CHECK(header_value(page, "x-content-type-options") == "nosniff");
    CHECK(header_value(page, "referrer-policy") == "no-referrer");
    CHECK(header_value(page, "x-frame-options") == "DENY");
    const std::string csp = header_value(page, "content-security-policy");
    CHECK(std::regex_search(csp, std::regex("^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]{43}='; "
                                            "script-src 'sha256-[A-Za-z0-9+/]{43}='; connect-src 'self'; "
                                            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'$")));
    const std::string body = body_of(page);
    CHECK(body.find("data-listener=\"mdm\"") != std::string::npos);
    CHECK(body.find("Compliant: 1 listener passes the ATS audit") != std::string::npos);
    // The fixture's leaf is valid for 90 days from an hour ago.
    CHECK(body.find("<span class=\"days ok\">89</span>") != std::string::npos);
    CHECK(body.find("<svg id=\"chart-handshakes\"") != std::string::npos);
    CHECK(body.find("http://127.0.0.1:" + std::to_string(be.port())) != std::string::npos);  // the pool member
    CHECK(body.find(token) == std::string::npos);

    // A wrong bearer token is a 401 like none at all; HEAD has no body.
    CHECK(status_of(http_request(px.admin_port(), "GET", "/", "Authorization: Bearer nope\r\n")) == 401);
    const auto head = http_request(px.admin_port(), "HEAD", "/", bearer());
    CHECK(status_of(head) == 200);
    CHECK(body_of(head).empty());
}

TEST_CASE("dashboard: the login form's cookie opens read-only pages only", "[integration][dashboard]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3", "curl");
    test_env env;
    backend be(env);
    proxy px(env, with_token(env, be));
    const auto port = px.admin_port();

    const auto wrong = http_exchange(port, login_request("token=not-it"));
    CHECK(status_of(wrong) == 401);
    CHECK(body_of(wrong).find("That is not the admin token.") != std::string::npos);
    CHECK(header_value(wrong, "set-cookie").empty());

    // Another site's form cannot log a browser in.
    CHECK(status_of(http_exchange(port, login_request("token=" + token, "Origin: http://evil.example\r\n"))) == 403);
    CHECK(status_of(http_exchange(port, login_request("token=" + token, "Sec-Fetch-Site: cross-site\r\n"))) == 403);
    CHECK(status_of(http_exchange(port, login_request("token=" + token, "Sec-Fetch-Site: same-site\r\n"))) == 403);
    // What chromium sends from our own form (Origin is "null" under Referrer-Policy: no-referrer).
    CHECK(status_of(http_exchange(port, login_request("token=" + token,
                                                      "Origin: null\r\nSec-Fetch-Site: same-origin\r\n"))) == 303);

    const auto ok = http_exchange(port, login_request("token=" + token, "Origin: http://127.0.0.1\r\n"));
    REQUIRE(status_of(ok) == 303);
    CHECK(header_value(ok, "location") == "/");
    const std::string set_cookie = header_value(ok, "set-cookie");
    INFO("Set-Cookie: " << set_cookie);
    CHECK(std::regex_search(set_cookie, std::regex("^atsgate_session=v1\\.[0-9]+\\.[0-9a-f]{64}; Path=/; Max-Age=43200; "
                                                   "HttpOnly; SameSite=Strict$")));
    CHECK(set_cookie.find(token) == std::string::npos);
    const std::string cookie = "Cookie: " + cookie_pair(set_cookie) + "\r\n";

    const auto page = http_request(port, "GET", "/", cookie);
    CHECK(status_of(page) == 200);
    CHECK(body_of(page).find("action=\"/logout\"") != std::string::npos);
    CHECK(status_of(http_request(port, "GET", "/status", cookie)) == 200);
    // Not for state changes, not for /metrics.
    CHECK(status_of(http_request(port, "POST", "/reload", cookie)) == 401);
    CHECK(status_of(http_request(port, "POST", "/routes/mdm/x/weights?legacy=1", cookie)) == 401);
    CHECK(status_of(http_request(port, "GET", "/metrics", cookie)) == 401);
    // A forged or altered cookie is nothing.
    std::string forged = cookie;
    forged[forged.size() - 3] = forged[forged.size() - 3] == 'a' ? 'b' : 'a';
    CHECK(status_of(http_request(port, "GET", "/", forged)) == 401);

    // curl as a browser would: form POST, cookie jar, redirect followed.
    const auto jar = env.path("cookies.txt").string();
    const auto base = "http://127.0.0.1:" + std::to_string(port);
    auto r = run_command({"curl", "-sS", "--max-time", "20", "-c", jar, "-b", jar, "-L", "--data-urlencode",
                          "token=" + token, base + "/login"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("data-listener=\"mdm\"") != std::string::npos);
    r = run_command({"curl", "-sS", "--max-time", "20", "-b", jar, "-o", "/dev/null", "-w", "%{http_code}", base + "/"});
    CHECK(r.out == "200");
    // Log out: the cookie is cleared.
    const auto out = http_request(port, "POST", "/logout", cookie);
    CHECK(status_of(out) == 303);
    CHECK(header_value(out, "set-cookie").rfind("atsgate_session=; Path=/; Max-Age=0", 0) == 0);
}

TEST_CASE("dashboard: a session ends when the token changes", "[integration][dashboard]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, with_token(env, be));
    const auto ok = http_exchange(px.admin_port(), login_request("token=" + token));
    REQUIRE(status_of(ok) == 303);
    const std::string cookie = "Cookie: " + cookie_pair(header_value(ok, "set-cookie")) + "\r\n";
    REQUIRE(status_of(http_request(px.admin_port(), "GET", "/", cookie)) == 200);

    auto next = px.spec();
    next.admin_token = "another-token-9876543210";
    env.write(px.config_path().filename().string(), to_toml(next));
    REQUIRE(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(status_of(http_request(px.admin_port(), "GET", "/", cookie)) == 401);
}

TEST_CASE("dashboard: without a token (loopback) the page is open and login redirects", "[integration][dashboard]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    CHECK(status_of(http_get(px.admin_port(), "/")) == 200);
    const auto r = http_get(px.admin_port(), "/login");
    CHECK(status_of(r) == 303);
    CHECK(header_value(r, "location") == "/");
    // Non-HTML answers carry the strictest policy.
    CHECK(header_value(http_get(px.admin_port(), "/status"), "content-security-policy") ==
          "default-src 'none'; frame-ancestors 'none'");
}

TEST_CASE("dashboard: hostile certificate text is escaped", "[integration][dashboard]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto spec = test_env::leaf_spec();
    spec.common_name = "<script>alert(1)</script>";
    spec.organization = "\"><img src=x onerror=alert(2)>";
    const auto files = env.issue("hostile", spec);
    auto c = env.default_config(be.url());
    c.listeners[0].cert = files.cert;
    c.listeners[0].key = files.key;
    proxy px(env, c);
    const auto page = http_get(px.admin_port(), "/");
    REQUIRE(status_of(page) == 200);
    const std::string body = body_of(page);
    CHECK(body.find("<script>alert") == std::string::npos);
    CHECK(body.find("<img") == std::string::npos);
    CHECK(body.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    // RFC 2253 backslash-escapes the O's quote and angle brackets; what is left is escaped for HTML.
    CHECK(body.find("&lt;img src=x onerror=alert(2)") != std::string::npos);
}

TEST_CASE("dashboard: the chart counts refused handshakes, reloads are listed", "[integration][dashboard]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    tls_client_options o;
    o.max_version = TLS1_2_VERSION;
    o.no_ems = true;
    for (int i = 0; i < 2; ++i) {
        tls_client c(o);
        CHECK_FALSE(c.connect(px.port()).ok);
    }
    px.wait_for_counter(refused_series("no_ems"), 2);
    REQUIRE(status_of(px.admin("POST", "/reload")) == 200);
    const std::string body = body_of(http_get(px.admin_port(), "/"));
    CHECK(body.find("<tr><td><code>no_ems</code></td><td class=\"num\">2</td>") != std::string::npos);
    CHECK(body.find("refused: 2</span>") != std::string::npos);
    CHECK(body.find(" 2 refused 0 would refuse</title>") != std::string::npos);
    CHECK(body.find("offered no Extended Master Secret: Apple devices always do") != std::string::npos);
    CHECK(body.find("<section id=\"reloads\">") != std::string::npos);
    CHECK(body.find("<span class=\"badge pass\">applied</span>") != std::string::npos);
}

TEST_CASE("probe --html: one section per target, the same verdicts as the terminal", "[integration][dashboard][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto closed = free_port();
    const auto out = env.path("report.html");
    const std::vector<std::string> args = {atsgate_binary().string(), "probe", "--ca", env.root_pem().string(),
                                           "--timeout", "5", "https://localhost:" + std::to_string(px.port()) + "/",
                                           "https://localhost:" + std::to_string(closed) + "/"};
    auto with_html = args;
    with_html.insert(with_html.begin() + 2, {"--html", out.string()});
    const auto text = run_command(args);
    const auto r = run_command(with_html);
    INFO(r.describe());
    CHECK(r.exit_code == 1);  // the closed port FAILs
    CHECK(r.out == text.out);  // --html changes nothing on stdout
    const std::string page = read_text(out);
    REQUIRE(!page.empty());
    CHECK(page.find("<section class=\"target\" id=\"target-0\" data-result=\"pass\">") != std::string::npos);
    CHECK(page.find("<section class=\"target\" id=\"target-1\" data-result=\"fail\">") != std::string::npos);
    CHECK(page.find("NOT COMPLIANT: 2 target(s), 1 passed, 1 failed") != std::string::npos);
    CHECK(page.find("ATS matrix") != std::string::npos);
    CHECK(page.find("<script") == std::string::npos);
    // The terminal report says the same.
    CHECK(r.out.find("summary: 2 target(s): 1 passed, 1 failed") != std::string::npos);
    CHECK(text.out.find("summary: 2 target(s): 1 passed, 1 failed") != std::string::npos);

    // An unwritable place is a usage error before anything is probed.
    auto bad = args;
    bad.insert(bad.begin() + 2, {"--html", "/nonexistent-dir/report.html"});
    const auto b = run_command(bad);
    CHECK(b.exit_code == 2);
    CHECK(b.err.find("is not writable") != std::string::npos);
}
