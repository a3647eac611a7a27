// Handshake accounting at the real listener (issue 14): refused{reason} counts only what atsgate's
// policy refused; timeouts (by what atsgate was waiting for), failures (client alerts, protocol
// errors, closes) and aborts before a ClientHello are counted apart; ALPN follows RFC 7301; the
// access log records what a codec refusal wrote. Asserted through /metrics and the clients' alerts.

#include "tests/integration/fixture.hpp"
#include "tests/support/mem_tls.hpp"

#include <catch2/catch.hpp>

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <netinet/in.h>
#include <string>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;
namespace test = atsgate::test;
namespace ossl = atsgate::ossl;

namespace {

constexpr int alert_handshake_failure = 40;
constexpr int alert_no_application_protocol = 120;

const std::string enroll_request = "GET /mdm/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

// The bytes of a real TLS 1.3/1.2 ClientHello (OpenSSL's default client, SNI localhost, EMS) as an
// in-memory client writes them.
std::string client_hello() {
    auto ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
    REQUIRE(ctx);
    return test::client_hello(*ctx);
}

// Every handshake-outcome series of /metrics, for comparisons and for printing.
const std::vector<std::string>& outcome_series() {
    static const std::vector<std::string> s = [] {
        std::vector<std::string> v = {"atsgate_connections_accepted_total", "atsgate_handshakes_total",
                                      "atsgate_handshakes_aborted_total"};
        for (const char* r : {"protocol_version", "no_pfs_suite", "no_ems", "no_shared_group", "no_shared_sigalg",
                              "unknown_sni", "no_application_protocol", "no_client_certificate",
                              "bad_client_certificate"})
            v.push_back(refused_series(r));
        for (const char* f : {"client_alert", "protocol_error", "client_closed", "other"})
            v.push_back("atsgate_handshake_failures_total{reason=\"" + std::string(f) + "\"}");
        for (const char* p : {"client_hello", "client_finished"})
            v.push_back("atsgate_handshake_timeouts_total{phase=\"" + std::string(p) + "\"}");
        v.push_back("atsgate_connections_shed_total");
        v.push_back("atsgate_requests_total");
        return v;
    }();
    return s;
}

std::map<std::string, std::uint64_t> outcomes(const proxy& px) {
    // The fixture's readiness probe (one TCP connect per listener, no handshake) is counted a
    // moment after the proxy accepts it: wait for it first, so baselines do not move under us.
    px.wait_for_counter("atsgate_handshakes_aborted_total", px.spec().listeners.size());
    const auto m = px.scrape();
    std::map<std::string, std::uint64_t> out;
    for (const auto& s : outcome_series()) out[s] = m.get(s);
    return out;
}

// Polls until every series in `want` has moved by exactly its delta from `before` (and no other
// outcome series moved), or the deadline; returns the last differences for the assertion.
std::map<std::string, std::int64_t> wait_for_deltas(const proxy& px, const std::map<std::string, std::uint64_t>& before,
                                                    const std::map<std::string, std::int64_t>& want,
                                                    milliseconds within = 10000ms) {
    std::map<std::string, std::int64_t> got;
    auto expected = [&] {
        std::map<std::string, std::int64_t> e;
        for (const auto& s : outcome_series()) e[s] = 0;
        for (const auto& [k, v] : want) e[k] = v;
        return e;
    }();
    poll_until(
        [&] {
            const auto now = outcomes(px);
            got.clear();
            for (const auto& s : outcome_series())
                got[s] = static_cast<std::int64_t>(now.at(s)) - static_cast<std::int64_t>(before.at(s));
            return got == expected;
        },
        within, 50ms);
    return got;
}

std::map<std::string, std::int64_t> expect(std::initializer_list<std::pair<const std::string, std::int64_t>> l) {
    return std::map<std::string, std::int64_t>(l);
}

std::string describe(const std::map<std::string, std::int64_t>& d) {
    std::string out;
    for (const auto& [k, v] : d) out += "  " + k + " " + std::to_string(v) + "\n";
    return out;
}

std::string failures_series(const std::string& f) { return "atsgate_handshake_failures_total{reason=\"" + f + "\"}"; }
std::string timeouts_series(const std::string& p) { return "atsgate_handshake_timeouts_total{phase=\"" + p + "\"}"; }

// A config with a short handshake timeout (scaled, so that loaded machines do not time out good clients).
config_spec short_handshake(const test_env& env, const backend& be, milliseconds base = 1500ms) {
    auto c = env.default_config(be.url());
    c.timeouts = "handshake = \"" + std::to_string(scaled(base).count()) + "ms\"";
    return c;
}

}  // namespace

TEST_CASE("accounting: stalled clients are timeouts by phase, not refusals", "[integration][accounting]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, short_handshake(env, be));
    const auto hello = client_hello();
    const auto before = outcomes(px);

    raw_tcp silent(px.port());       // connects and sends nothing
    raw_tcp stalled(px.port());      // a complete ClientHello, then nothing
    stalled.send(hello);
    raw_tcp trickle(px.port());      // half a ClientHello
    trickle.send(hello.substr(0, hello.size() / 2));
    CHECK(silent.closed_by_server(10000ms));
    CHECK(stalled.closed_by_server(10000ms));
    CHECK(trickle.closed_by_server(10000ms));
    const auto d = wait_for_deltas(px, before,
                                   expect({{"atsgate_connections_accepted_total", 3},
                                           {timeouts_series("client_hello"), 2},
                                           {timeouts_series("client_finished"), 1}}));
    INFO(describe(d));
    CHECK(d.at(timeouts_series("client_hello")) == 2);
    CHECK(d.at(timeouts_series("client_finished")) == 1);
    CHECK(d.at(refused_series("protocol_version")) == 0);
    // Logged at debug only: the info log names no refusal.
    CHECK(px.proc().stderr_text().find("handshake refused") == std::string::npos);
    CHECK(be.request_lines().empty());
}

TEST_CASE("accounting: a connection is accepted when its first bytes arrive (TCP_DEFER_ACCEPT), and a silent one "
          "still times out",
          "[integration][accounting]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, short_handshake(env, be));
    const auto hello = client_hello();
    const auto before = outcomes(px);
    const auto accepted = [&] {
        return px.counter("atsgate_connections_accepted_total") - before.at("atsgate_connections_accepted_total");
    };

    raw_tcp silent(px.port());  // connect() returned: the kernel completed the TCP handshake
    // The kernel keeps it from accept() for the defer period (1 s, a kernel timer). A "nothing
    // happens" check, so the window is not scaled: 500 ms of wall time, well inside the period
    // (without TCP_DEFER_ACCEPT atsgate accepts within milliseconds).
    const auto window_end = std::chrono::steady_clock::now() + 500ms;
    bool moved = false;
    poll_until([&] { return (moved = accepted() != 0) || std::chrono::steady_clock::now() >= window_end; }, 5000ms,
               25ms);
    CHECK_FALSE(moved);

    // A client whose ClientHello is in is accepted and answered at once.
    raw_tcp speaking(px.port());
    speaking.send(hello);
    CHECK(speaking.received_some());
    // The silent one is accepted after the period all the same, and times out as before; the
    // speaking one stops after the server's flight: a client_finished timeout.
    CHECK(silent.closed_by_server(10000ms));
    CHECK(speaking.closed_by_server(10000ms));
    const auto d = wait_for_deltas(px, before,
                                   expect({{"atsgate_connections_accepted_total", 2},
                                           {timeouts_series("client_hello"), 1},
                                           {timeouts_series("client_finished"), 1}}));
    INFO(describe(d));
    CHECK(d.at("atsgate_connections_accepted_total") == 2);
    CHECK(d.at(timeouts_series("client_hello")) == 1);
    CHECK(d.at(timeouts_series("client_finished")) == 1);
}

TEST_CASE("accounting: closes, protocol errors and client alerts are failures, not refusals",
          "[integration][accounting]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto hello = client_hello();

    SECTION("a connection closed before any ClientHello is an abort") {
        const auto before = outcomes(px);
        { raw_tcp probe(px.port()); }
        raw_tcp http(px.port());
        http.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // plaintext HTTP to a TLS port
        CHECK(http.closed_by_server());
        const auto d = wait_for_deltas(px, before, expect({{"atsgate_connections_accepted_total", 2},
                                                           {"atsgate_handshakes_aborted_total", 2}}));
        INFO(describe(d));
        CHECK(d.at("atsgate_handshakes_aborted_total") == 2);
        CHECK(d.at(failures_series("client_closed")) == 0);
    }
    SECTION("a client that closes after its ClientHello is client_closed") {
        const auto before = outcomes(px);
        {
            raw_tcp c(px.port());
            c.send(hello);
            CHECK(c.received_some());  // atsgate answered the hello: it was processed; then leave
        }
        const auto d = wait_for_deltas(px, before, expect({{"atsgate_connections_accepted_total", 1},
                                                           {failures_series("client_closed"), 1}}));
        INFO(describe(d));
        CHECK(d.at(failures_series("client_closed")) == 1);
    }
    SECTION("garbage after a ClientHello is protocol_error") {
        const auto before = outcomes(px);
        raw_tcp c(px.port());
        // The ClientHello, then a plaintext handshake record holding a bogus message.
        c.send(hello + std::string("\x16\x03\x03\x00\x04\xfe\x00\x00\x00", 9));
        CHECK(c.closed_by_server());
        const auto d = wait_for_deltas(px, before, expect({{"atsgate_connections_accepted_total", 1},
                                                           {failures_series("protocol_error"), 1}}));
        INFO(describe(d));
        CHECK(d.at(failures_series("protocol_error")) == 1);
    }
    SECTION("a client that does not trust atsgate's chain is client_alert (unknown_ca), logged at info") {
        test::cert_factory other(env.factory().now());
        const auto other_root = other.root_ca("a root atsgate's certificate does not chain to");
        const auto other_pem = env.write_cert("other-root", {&other_root}, other_root).cert;
        const auto before = outcomes(px);
        for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
            tls_client_options o;
            o.min_version = o.max_version = version;
            o.ca_file = other_pem;
            tls_client c(o);
            const auto hs = c.connect(px.port());
            CHECK_FALSE(hs.ok);
        }
        const auto d = wait_for_deltas(px, before, expect({{"atsgate_connections_accepted_total", 2},
                                                           {failures_series("client_alert"), 2}}));
        INFO(describe(d));
        CHECK(d.at(failures_series("client_alert")) == 2);
        CHECK(poll_until([&] { return px.proc().stderr_text().find("reason=client_alert alert=unknown_ca") != std::string::npos; },
                         5000ms));
    }
    CHECK(be.request_lines().empty());
}

TEST_CASE("accounting: client_auth = require refuses a missing or untrusted client certificate by reason",
          "[integration][accounting]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.listeners[0].extra = "client_auth = \"require\"\nclient_ca = \"" + env.root_pem().string() + "\"\n";
    proxy px(env, cfg);

    auto device = test_env::leaf_spec();
    device.common_name = "device";
    device.san_dns = {};
    device.san_ip = {};
    device.usage = test::eku::client_auth;
    const auto good = env.issue("device", device);
    test::cert_factory other(env.factory().now());
    const auto other_root = other.root_ca("another root");
    const auto stranger = env.make(device, &other_root);
    const auto bad = env.write_cert("stranger", {&stranger}, stranger);

    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        INFO((version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2"));
        const auto before = outcomes(px);
        auto attempt = [&](const cert_files* cert) {
            tls_client_options o;
            o.min_version = o.max_version = version;
            o.ca_file = env.root_pem();
            if (cert != nullptr) {
                o.cert_file = cert->cert;
                o.key_file = cert->key;
            }
            tls_client c(o);
            const auto hs = c.connect(px.port());
            // TLS 1.3 clients finish before the server has judged their certificate: the refusal
            // arrives as an alert on the first read.
            if (!hs.ok) return std::string("refused");
            const auto r = c.request(enroll_request);
            return status_of(r.data) == 200 ? std::string("served") : std::string("refused");
        };
        CHECK(attempt(nullptr) == "refused");
        CHECK(attempt(&bad) == "refused");
        CHECK(attempt(&good) == "served");
        const auto d = wait_for_deltas(px, before,
                                       expect({{"atsgate_connections_accepted_total", 3},
                                               {refused_series("no_client_certificate"), 1},
                                               {refused_series("bad_client_certificate"), 1},
                                               {"atsgate_handshakes_total", 1},
                                               {"atsgate_requests_total", 1}}));
        INFO(describe(d));
        CHECK(d.at(refused_series("no_client_certificate")) == 1);
        CHECK(d.at(refused_series("bad_client_certificate")) == 1);
        CHECK(d.at(failures_series("other")) == 0);
    }
    CHECK(poll_until([&] { return px.proc().stderr_text().find("reason=bad_client_certificate") != std::string::npos; },
                     5000ms));
}

TEST_CASE("accounting: ALPN offering only unknown protocols gets no_application_protocol (RFC 7301)",
          "[integration][accounting]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto series = refused_series("no_application_protocol");

    SECTION("s_client offering only h2 (and h2 + h3) is refused with alert 120") {
        for (const char* alpn : {"h2", "h2,h3"}) {
            INFO(alpn);
            const auto before = px.counter(series);
            const auto r = s_client(env, px.port(), {"-alpn", alpn}, enroll_request);
            CHECK(r.exit_code != 0);
            CHECK(s_client_alert(r) == alert_no_application_protocol);
            CHECK(r.out.find("HTTP/1.1") == std::string::npos);
            CHECK(px.wait_for_counter(series, before + 1) == before + 1);
        }
    }
    SECTION("h2 with http/1.1 negotiates http/1.1; http/1.0 alone negotiates http/1.0; no ALPN is served") {
        const auto before = px.counter(series);
        struct row {
            std::vector<std::string> args;
            std::string expect;
        };
        const row rows[] = {{{"-alpn", "h2,http/1.1"}, "ALPN protocol: http/1.1"},
                            {{"-alpn", "http/1.0"}, "ALPN protocol: http/1.0"},
                            {{}, "No ALPN negotiated"}};
        for (const auto& r : rows) {
            INFO(join(r.args, " "));
            const auto res = s_client(env, px.port(), r.args, enroll_request);
            INFO(res.describe() << "\n" << res.out);
            CHECK(res.exit_code == 0);
            CHECK(res.out.find(r.expect) != std::string::npos);
            CHECK(res.out.find("HTTP/1.1 200 OK") != std::string::npos);
        }
        CHECK(px.counter(series) == before);
        CHECK(px.counter("atsgate_requests_total") == 3);
    }
    SECTION("Python ssl offering only h2 gets the no_application_protocol alert") {
        const auto before = px.counter(series);
        const std::string script = R"(
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.set_alpn_protocols(["h2"])
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            print("handshake completed", t.selected_alpn_protocol())
except ssl.SSLError as e:
    print("refused:", e)
)";
        const auto r = run_command({"python3", "-c", script, std::to_string(px.port()), env.root_pem().string()});
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::StartsWith("refused:") && Catch::Contains("no application protocol"));
        CHECK(px.wait_for_counter(series, before + 1) == before + 1);
    }
    CHECK(px.counter(refused_series("no_pfs_suite")) == 0);
}

TEST_CASE("accounting: the access log records the body a codec refusal wrote", "[integration][accounting]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.limits = "body_bytes = 1024";
    proxy px(env, cfg);
    tls_client_options o;
    o.ca_file = env.root_pem();

    // Refused while parsing the head (Content-Length with Transfer-Encoding): no request line to log.
    {
        tls_client c(o);
        REQUIRE(c.connect(px.port()).ok);
        const auto r = c.request("POST /mdm/checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        REQUIRE(status_of(r.data) == 400);
        CHECK(body_of(r.data) == "400 Bad Request\n");
    }
    // Refused with its head (Content-Length over body_bytes).
    {
        tls_client c(o);
        REQUIRE(c.connect(px.port()).ok);
        const auto r = c.request("PUT /mdm/checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n");
        REQUIRE(status_of(r.data) == 413);
        CHECK(body_of(r.data) == "413 Content Too Large\n");
    }
    // Refused in the body (a bad chunk size): the request line is known and logged.
    {
        tls_client c(o);
        REQUIRE(c.connect(px.port()).ok);
        const auto r = c.request("POST /mdm/checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "zz\r\n");
        REQUIRE(status_of(r.data) == 400);
    }
    // The access log is buffered per worker and flushed every 250 ms: wait for all three lines.
    const std::string needles[] = {" \"-\" 400 16 rt=", " \"-\" 413 22 rt=", " \"POST /mdm/checkin HTTP/1.1\" 400 16 rt="};
    poll_until(
        [&] {
            const auto text = px.proc().stdout_text();
            for (const auto& n : needles)
                if (text.find(n) == std::string::npos) return false;
            return true;
        },
        5000ms);
    const auto log = px.proc().stdout_text();
    CHECK_THAT(log, Catch::Contains(" \"-\" 400 16 rt="));
    CHECK_THAT(log, Catch::Contains(" \"-\" 413 22 rt="));
    CHECK_THAT(log, Catch::Contains(" \"POST /mdm/checkin HTTP/1.1\" 400 16 rt="));
    CHECK(be.request_lines().empty());
}

TEST_CASE("accounting: a mixed run of good, refused and stalled clients is counted exactly",
          "[integration][accounting]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, short_handshake(env, be));
    const auto hello = client_hello();
    const auto before = outcomes(px);

    // Good clients: the in-process client (TLS 1.3 and 1.2) and curl.
    for (int i = 0; i < 6; ++i) {
        tls_client_options o;
        o.max_version = i % 2 == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        o.ca_file = env.root_pem();
        tls_client c(o);
        REQUIRE(c.connect(px.port()).ok);
        CHECK(status_of(c.request(enroll_request).data) == 200);
    }
    for (int i = 0; i < 2; ++i) CHECK(curl(env, {px.url("/mdm/enroll")}).exit_code == 0);
    // Policy refusals: TLS 1.1, TLS 1.2 without EMS, RSA key exchange only, ALPN h2 only.
    for (int i = 0; i < 2; ++i) {
        tls_client_options o;
        o.min_version = o.max_version = TLS1_1_VERSION;
        o.cipher_list = "DEFAULT@SECLEVEL=0";
        tls_client c(o);
        const auto hs = c.connect(px.port());
        CHECK(hs.alert == 70);
    }
    for (int i = 0; i < 2; ++i) {
        tls_client_options o;
        o.max_version = TLS1_2_VERSION;
        o.no_ems = true;
        tls_client c(o);
        CHECK(c.connect(px.port()).alert == alert_handshake_failure);
    }
    CHECK(s_client_alert(s_client(env, px.port(), {"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, enroll_request)) ==
          alert_handshake_failure);
    CHECK(s_client_alert(s_client(env, px.port(), {"-alpn", "h2"}, enroll_request)) == alert_no_application_protocol);
    // Stalled clients: silent TCP connections and ClientHellos without a follow-up.
    {
        std::vector<std::unique_ptr<raw_tcp>> stalled;
        for (int i = 0; i < 3; ++i) stalled.push_back(std::make_unique<raw_tcp>(px.port()));
        for (int i = 0; i < 2; ++i) {
            stalled.push_back(std::make_unique<raw_tcp>(px.port()));
            stalled.back()->send(hello);
        }
        for (auto& s : stalled) CHECK(s->closed_by_server(10000ms));
    }
    const auto d = wait_for_deltas(px, before,
                                   expect({{"atsgate_connections_accepted_total", 19},
                                           {"atsgate_handshakes_total", 8},
                                           {"atsgate_requests_total", 8},
                                           {refused_series("protocol_version"), 2},
                                           {refused_series("no_ems"), 2},
                                           {refused_series("no_pfs_suite"), 1},
                                           {refused_series("no_application_protocol"), 1},
                                           {timeouts_series("client_hello"), 3},
                                           {timeouts_series("client_finished"), 2}}));
    INFO(describe(d));
    // The counters for the record (issue 14's closing note): printed with ATSGATE_PRINT_COUNTERS=1.
    const std::string table = describe(d);
    INFO("counter deltas of the mixed run:\n" << table);
    CHECK(d.at("atsgate_handshakes_total") == 8);
    CHECK(d.at(refused_series("protocol_version")) == 2);
    CHECK(d.at(refused_series("no_ems")) == 2);
    CHECK(d.at(refused_series("no_pfs_suite")) == 1);
    CHECK(d.at(refused_series("no_application_protocol")) == 1);
    CHECK(d.at(timeouts_series("client_hello")) == 3);
    CHECK(d.at(timeouts_series("client_finished")) == 2);
    CHECK(d.at(failures_series("other")) == 0);
    CHECK(d.at("atsgate_handshakes_aborted_total") == 0);
    if (std::getenv("ATSGATE_PRINT_COUNTERS") != nullptr) std::cout << "counter deltas of the mixed run:\n" << table;
}
