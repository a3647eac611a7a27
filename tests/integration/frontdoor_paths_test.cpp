// Hardening (issue 9): path confusion and identity-header forgery through the real binary.
// - Routes and the plaintext SCEP listener match the NORMALISED path on segment boundaries and
//   forward exactly that target; targets without a single meaning get 400 and reach no backend.
// - Client-sent identity fields in any spelling, header names with '_' and Proxy-Authorization
//   never reach a backend, on https (with and without client_auth) and SCEP listeners.
// - OPTIONS * on a SCEP listener gets 200 with Allow (not a Location of origin + "*").
// Asserted through which demo backend answered (X-Backend), the request lines each backend logged,
// the headers it echoed, status codes and /metrics.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

std::string upstream_table(const std::string& name, const backend& be) {
    return "\n[[upstream]]\nname = \"" + name + "\"\nurl = \"" + be.url() + "\"\n";
}

std::string get(std::string_view target, std::string_view extra = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extra) + "\r\n";
}

// The backend that answered (its X-Backend header), or "status N" for a local reply.
std::string who(const std::string& response) {
    const std::string b = header_value(response, "x-backend");
    return b.empty() ? "status " + std::to_string(status_of(response)) : b;
}

// Every header name the backend received (lower case), from its /headers echo.
std::vector<std::string> names_seen(const std::multimap<std::string, std::string>& h) {
    std::vector<std::string> out;
    for (const auto& [n, v] : h) out.push_back(n);
    return out;
}

}  // namespace

TEST_CASE("frontdoor paths: https routes match the normalised path on segment boundaries and forward it",
          "[integration][frontdoor][paths][security]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend legacy(env, "legacy"), a(env, "a"), b(env, "b");
    auto cfg = env.default_config(legacy.url());
    cfg.listeners[0].extra = R"(
[[listener.route]]
path = "/mdm"
upstream = "a"
[[listener.route]]
path = "/enroll"
split = [ { upstream = "a", weight = 1 }, { upstream = "b", weight = 1 } ]
sticky = "path_segment:2"
)";
    cfg.extra = upstream_table("a", a) + upstream_table("b", b);
    proxy px(env, cfg);

    struct row {
        const char* target;    // sent as is
        const char* backend;   // who answers
        const char* received;  // the request line that backend logs
    };
    const std::vector<row> rows = {
        {"/mdm/checkin", "a", "GET /mdm/checkin HTTP/1.1"},
        {"/mdm/./checkin", "a", "GET /mdm/checkin HTTP/1.1"},
        {"//mdm//checkin", "a", "GET /mdm/checkin HTTP/1.1"},
        {"/%6Ddm/checkin", "a", "GET /mdm/checkin HTTP/1.1"},
        {"/other/../mdm/checkin", "a", "GET /mdm/checkin HTTP/1.1"},
        {"/mdm/../headers", "legacy", "GET /headers HTTP/1.1"},          // out of the route: not a's
        {"/mdm/%2e%2e/headers", "legacy", "GET /headers HTTP/1.1"},
        {"/mdm/.%2E/status/204", "legacy", "GET /status/204 HTTP/1.1"},
        {"/mdmfoo", "legacy", "GET /mdmfoo HTTP/1.1"},                   // not a segment of /mdm
        {"/mdm/x?to=/../y&e=%2f", "a", "GET /mdm/x?to=/../y&e=%2f HTTP/1.1"},  // the query is kept
        {"/mdm/a%3fb", "a", "GET /mdm/a%3Fb HTTP/1.1"},
    };
    tls_client cl;
    REQUIRE(cl.connect(px.port()).ok);
    std::map<std::string, std::vector<std::string>> want;
    for (const auto& r : rows) {
        INFO(r.target);
        const auto res = cl.request(get(r.target));
        REQUIRE_FALSE(res.closed);
        CHECK(who(res.data) == r.backend);
        want[r.backend].push_back(r.received);
    }
    CHECK(a.request_lines() == want["a"]);
    CHECK(legacy.request_lines() == want["legacy"]);
    CHECK(b.request_lines().empty());

    // curl --path-as-is, a real client that sends dot segments unchanged.
    const auto c = curl(env, {"-i", "--path-as-is", px.url("/mdm/../headers")});
    INFO(c.describe() << "\n" << c.out);
    CHECK(header_value(c.out, "x-backend") == "legacy");
    CHECK(legacy.request_lines().back() == "GET /headers HTTP/1.1");

    // Refused: 400, the connection closed, nothing reaches any backend.
    const auto lines = [&] { return a.request_lines().size() + b.request_lines().size() + legacy.request_lines().size(); };
    const auto before_lines = lines();
    const auto before_bad = px.counter("atsgate_bad_requests_total");
    const std::vector<std::string> refused = {
        "/mdm/..%2Fheaders",     // encoded '/'
        "/mdm%2F..%2F..%2Fheaders",
        "/mdm/..;/headers",      // Tomcat path parameter on a dot segment
        "/../headers",           // above the root
        "/mdm/../../headers",
        "/mdm/%00",              // encoded NUL
        "/mdm/%zz",              // invalid percent-encoding
        "/mdm\\..\\headers",     // backslash
        "/mdm/%5C..%5Cheaders",  // encoded backslash
    };
    for (const auto& t : refused) {
        INFO(t);
        tls_client bad;
        REQUIRE(bad.connect(px.port()).ok);
        REQUIRE(bad.write(get(t)));
        const auto r = bad.read_until_close();
        CHECK(status_of(r.data) == 400);
        CHECK(r.closed);
    }
    CHECK(px.wait_for_counter("atsgate_bad_requests_total", before_bad + refused.size()) == before_bad + refused.size());
    CHECK(lines() == before_lines);

    // The sticky path_segment:2 key is taken from the normalised path: every spelling of device-7's
    // path lands on the same side (with the raw path, "/enroll//device-7" has an empty segment 2
    // and would be split at random).
    tls_client sticky;
    REQUIRE(sticky.connect(px.port()).ok);
    const std::string side = who(sticky.request(get("/enroll/device-7/step")).data);
    INFO("device-7 is on " << side);
    REQUIRE((side == "a" || side == "b"));
    for (int i = 0; i < 6; ++i) {
        for (const char* t : {"/enroll//device-7/step", "/enroll/./device-7/step", "/enroll/x/../device-7",
                              "/enroll/%64evice-7/step"}) {
            INFO(t);
            CHECK(who(sticky.request(get(t)).data) == side);
        }
    }
    const backend& chosen = side == "a" ? a : b;
    CHECK(chosen.received("GET /enroll/device-7/step HTTP/1.1"));
    for (const auto& l : chosen.request_lines()) {
        INFO(l);
        CHECK(l.find("//") == std::string::npos);
        CHECK(l.find("/./") == std::string::npos);
        CHECK(l.find("%64") == std::string::npos);
    }
}

TEST_CASE("frontdoor paths: the scep listener matches scep_path on the normalised path and answers OPTIONS *",
          "[integration][frontdoor][paths][scep][security]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    listener_spec scep;
    scep.name = "scep";
    scep.kind = "scep";
    cfg.listeners.push_back(scep);
    listener_spec redirecting = scep;
    redirecting.name = "scep-redirect";
    redirecting.extra = "redirect = \"https://mdm.example.test\"";
    cfg.listeners.push_back(redirecting);
    proxy px(env, cfg);
    // curl, one request per run, the target sent exactly as written.
    const auto plain = [&](std::size_t listener, const std::string& target, std::vector<std::string> args = {}) {
        args.insert(args.begin(), {"-i", "--path-as-is"});
        args.push_back("http://127.0.0.1:" + std::to_string(px.port(listener)) + target);
        const auto r = curl(env, args);
        INFO(r.describe());
        REQUIRE(r.exit_code == 0);
        return r.out;
    };

    // Escapes from scep_path to the MDM endpoints: never forwarded over plaintext.
    struct row {
        const char* target;
        int plain;        // status on the listener without redirect
        const char* to;   // Location on the redirecting one ("" = same status as `plain`)
    };
    const std::vector<row> rows = {
        {"/scep/../mdm/checkin?operation=GetCACert", 403, "https://mdm.example.test/mdm/checkin?operation=GetCACert"},
        {"/scep/%2e%2e/mdm/checkin?operation=GetCACert", 403, "https://mdm.example.test/mdm/checkin?operation=GetCACert"},
        {"/scep/./../mdm/server?operation=GetCACert", 403, "https://mdm.example.test/mdm/server?operation=GetCACert"},
        {"/scepfoo?operation=GetCACert", 403, "https://mdm.example.test/scepfoo?operation=GetCACert"},
        {"/mdm/checkin?x=/scep&operation=GetCACert", 403, "https://mdm.example.test/mdm/checkin?x=/scep&operation=GetCACert"},
        {"/scep/..%2Fmdm/checkin?operation=GetCACert", 400, ""},
        {"/scep/..;/mdm/checkin?operation=GetCACert", 400, ""},
        {"/scep/../../mdm?operation=GetCACert", 400, ""},
        {"/scep%5C..%5Cmdm?operation=GetCACert", 400, ""},
    };
    for (const auto& r : rows) {
        INFO(r.target);
        CHECK(status_of(plain(1, r.target)) == r.plain);
        const auto redirected = plain(2, r.target);
        if (*r.to != '\0') {
            CHECK(status_of(redirected) == 308);
            CHECK(header_value(redirected, "location") == r.to);
        } else {
            CHECK(status_of(redirected) == r.plain);
        }
    }
    CHECK(be.request_lines().empty());

    // SCEP under other spellings is forwarded as the normalised path.
    for (const char* t : {"/x/../scep?operation=GetCACaps", "//scep?operation=GetCACaps", "/%73cep?operation=GetCACaps"}) {
        INFO(t);
        const auto r = plain(1, t);
        CHECK(status_of(r) == 200);
        CHECK(body_of(r) == "POSTPKIOperation\nSHA-256\nAES\n");
        CHECK(be.request_lines().back() == "GET /scep?operation=GetCACaps HTTP/1.1");
    }
    CHECK(be.request_lines().size() == 3);

    // OPTIONS * (RFC 9110 section 9.3.7): answered by atsgate, no Location, nothing forwarded.
    for (const std::size_t l : {1u, 2u}) {
        INFO("listener " << px.spec().listeners[l].name);
        const auto r = plain(l, "", {"-X", "OPTIONS", "--request-target", "*"});
        INFO(r);
        CHECK(status_line(r) == "HTTP/1.1 200 OK");
        CHECK(header_value(r, "allow") == "GET, POST");
        CHECK(header_value(r, "content-length") == "0");
        CHECK(header_value(r, "location").empty());
        CHECK(body_of(r).empty());
    }
    CHECK(be.request_lines().size() == 3);
}

TEST_CASE("frontdoor identity: forged identity headers in any spelling never reach the backend, on any listener",
          "[integration][frontdoor][identity][security]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());  // listener 0: client_auth = "none"
    listener_spec scep;
    scep.name = "scep";
    scep.kind = "scep";
    cfg.listeners.push_back(scep);
    listener_spec with_auth = cfg.listeners[0];
    with_auth.name = "auth";
    with_auth.extra = "client_auth = \"optional\"\n";
    cfg.listeners.push_back(with_auth);
    proxy px(env, cfg);

    const std::vector<std::string> forged = {
        "X-Client-Cert: forged",     "X_Client_Cert: forged",       "x-client_cert: forged",
        "Client-Cert: :Zm9yZ2Vk:",   "Client-Cert-Chain: :Zm9yZ2Vk:", "X-SSL-Client-Cert: forged",
        "X-SSL-Client-Verify: SUCCESS", "SSL_CLIENT_CERT: forged",  "X-Forwarded-Client-Cert: Hash=x",
        "Proxy-Authorization: Basic dXNlcjpwYXNz",
    };
    std::vector<std::string> args = {"-H", "X-Kept: kept"};
    for (const auto& f : forged) args.insert(args.end(), {"-H", f});
    const auto dropped_identity = [&] { return px.counter("atsgate_request_headers_dropped_total{reason=\"identity\"}"); };
    const auto dropped_underscore = [&] { return px.counter("atsgate_request_headers_dropped_total{reason=\"underscore\"}"); };
    CHECK(dropped_identity() == 0);
    CHECK(dropped_underscore() == 0);

    const auto check_clean = [&](const std::multimap<std::string, std::string>& h) {
        const auto names = names_seen(h);
        INFO(join(names, ", "));
        for (const auto& n : names) {
            CHECK(n.find('_') == std::string::npos);
            CHECK(n.find("client") == std::string::npos);
            CHECK(n != "proxy-authorization");
        }
        CHECK(h.count("x-kept") == 1);
    };
    // client_auth = "none" (https), the plaintext scep listener, client_auth = "optional" without a
    // certificate: the backend sees X-Kept and none of the forged fields.
    const std::vector<std::string> urls = {px.url("/headers", 0),
                                           "http://127.0.0.1:" + std::to_string(px.port(1)) + "/scep?operation=GetCACert",
                                           px.url("/headers", 2)};
    for (const auto& url : urls) {
        INFO(url);
        auto a = args;
        a.push_back(url);
        const auto r = curl(env, a);
        INFO(r.describe());
        REQUIRE(r.exit_code == 0);
        check_clean(echoed_headers(r.out));
    }
    // Per request 3 underscore names (X_Client_Cert, x-client_cert, SSL_CLIENT_CERT) and 6 identity
    // names (X-Client-Cert, Client-Cert, Client-Cert-Chain, X-SSL-Client-Cert, X-SSL-Client-Verify, XFCC).
    CHECK(px.wait_for_counter("atsgate_request_headers_dropped_total{reason=\"identity\"}", 18) == 18);
    CHECK(dropped_underscore() == 9);
}
