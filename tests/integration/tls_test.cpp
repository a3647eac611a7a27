// TLS policy at the real listener: what Apple's ATS forbids is refused right after the ClientHello
// with the right alert and counted under the right reason; what it allows completes and serves.
// Refusal reasons are asserted through the alert the client received and the per-reason counter
// on /metrics, never through log text.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace atsgate::itest;

namespace {

constexpr int alert_handshake_failure = 40;
constexpr int alert_protocol_version = 70;

// A complete request s_client sends once the handshake is done; the proxy answers and closes.
const std::string enroll_request = "GET /mdm/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

// An OpenSSL config whose system_default turns EMS off in every client built with it.
const std::string no_ems_conf =
    "openssl_conf = default_conf\n"
    "[default_conf]\nssl_conf = ssl_sect\n"
    "[ssl_sect]\nsystem_default = system_default_sect\n"
    "[system_default_sect]\nOptions = -ExtendedMasterSecret\n";

// The rest of the line after `key` in s_client's output ("" if absent).
std::string s_client_field(const command_result& r, const std::string& key) {
    const auto at = r.out.find(key);
    if (at == std::string::npos) return {};
    const auto from = at + key.size();
    return r.out.substr(from, r.out.find('\n', from) - from);
}

// A proxy with an ECDSA listener (index 0) and an RSA-2048 listener (index 1).
config_spec two_listeners(const test_env& env, const backend& be) {
    auto c = env.default_config(be.url());
    listener_spec rsa = c.listeners[0];
    rsa.name = "mdm-rsa";
    rsa.cert = env.rsa().cert;
    rsa.key = env.rsa().key;
    c.listeners.push_back(rsa);
    return c;
}

// Runs s_client with `args` against `port`, expects the handshake to be refused with `alert` and
// the `reason` counter to move by exactly one.
void expect_refused(const test_env& env, const proxy& px, std::uint16_t port, const std::vector<std::string>& args,
                    const std::string& reason, int alert, const std::string& openssl_conf = "") {
    const auto series = refused_series(reason);
    const auto before = px.counter(series);
    const auto handshakes_before = px.counter("atsgate_handshakes_total");
    const auto r = s_client(env, port, args, enroll_request, openssl_conf);
    INFO("s_client " << join(args, " ") << ": " << r.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code != 0);
    CHECK(s_client_alert(r) == alert);
    CHECK(r.out.find("HTTP/1.1") == std::string::npos);
    CHECK(px.wait_for_counter(series, before + 1) == before + 1);
    CHECK(px.counter("atsgate_handshakes_total") == handshakes_before);
}

// Runs s_client with `args`, expects a completed handshake and the enrollment profile back.
command_result expect_served(const test_env& env, std::uint16_t port, const std::vector<std::string>& args) {
    auto r = s_client(env, port, args, enroll_request);
    INFO("s_client " << join(args, " ") << ": " << r.describe() << "\nstdout:\n" << r.out);
    CHECK(r.exit_code == 0);
    CHECK(s_client_alert(r) == -1);
    CHECK(r.out.find("HTTP/1.1 200 OK") != std::string::npos);
    CHECK(r.out.find("Legacy MDM demo enrollment") != std::string::npos);
    return r;
}

}  // namespace

TEST_CASE("tls: TLS 1.0 and TLS 1.1 are refused with protocol_version", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    for (const char* flag : {"-tls1", "-tls1_1"}) {
        INFO(flag);
        expect_refused(env, px, px.port(), {flag, "-cipher", "DEFAULT@SECLEVEL=0"}, "protocol_version",
                       alert_protocol_version);
    }
    CHECK(be.request_lines().empty());
}

TEST_CASE("tls: TLS 1.2 with only RSA key exchange is refused with no_pfs_suite", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, two_listeners(env, be));
    for (std::size_t l = 0; l < 2; ++l) {
        INFO("listener " << px.spec().listeners[l].name);
        expect_refused(env, px, px.port(l), {"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, "no_pfs_suite",
                       alert_handshake_failure);
        expect_refused(env, px, px.port(l), {"-tls1_2", "-cipher", "AES256-SHA256:AES128-SHA"}, "no_pfs_suite",
                       alert_handshake_failure);
    }
    CHECK(be.request_lines().empty());
}

TEST_CASE("tls: TLS 1.2 with only DHE suites is refused with no_pfs_suite", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, two_listeners(env, be));
    for (std::size_t l = 0; l < 2; ++l) {  // RSA-2048 (DHE-RSA could work there) and ECDSA
        INFO("listener " << px.spec().listeners[l].name);
        expect_refused(env, px, px.port(l), {"-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"}, "no_pfs_suite",
                       alert_handshake_failure);
    }
    CHECK(be.request_lines().empty());
}

TEST_CASE("tls: TLS 1.2 without extended master secret is refused with no_ems by s_client", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, two_listeners(env, be));
    for (std::size_t l = 0; l < 2; ++l) {
        INFO("listener " << px.spec().listeners[l].name);
        // Options = -ExtendedMasterSecret in system_default: s_client offers ECDHE suites and
        // good groups, only the EMS extension is missing.
        expect_refused(env, px, px.port(l), {"-tls1_2"}, "no_ems", alert_handshake_failure, no_ems_conf);
    }
    // The control: the same client with EMS left on is served.
    const auto r = expect_served(env, px.port(), {"-tls1_2"});
    CHECK(r.out.find("Extended master secret: yes") != std::string::npos);
    // Only the control reached the backend: a refused ClientHello never does.
    CHECK(be.request_lines().size() == 1);
}

TEST_CASE("tls: TLS 1.2 without extended master secret is refused with no_ems in-process", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto series = refused_series("no_ems");
    const auto before = px.counter(series);

    tls_client_options o;
    o.max_version = TLS1_2_VERSION;
    o.no_ems = true;
    o.ca_file = env.root_pem();
    tls_client c(o);
    const auto hs = c.connect(px.port());
    INFO(hs.error);
    CHECK_FALSE(hs.ok);
    CHECK(hs.alert == alert_handshake_failure);
    CHECK(px.wait_for_counter(series, before + 1) == before + 1);

    // Control: the same options with EMS complete the handshake and negotiate EMS.
    o.no_ems = false;
    tls_client good(o);
    const auto ok = good.connect(px.port());
    INFO(ok.error);
    REQUIRE(ok.ok);
    CHECK(ok.version == "TLSv1.2");
    CHECK(ok.ems);
    CHECK(px.counter(series) == before + 1);
    CHECK(be.request_lines().empty());
}

TEST_CASE("tls: TLS 1.2 ECDHE with EMS is accepted on ECDSA and RSA listeners", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, two_listeners(env, be));
    const char* expected_kx[] = {"ECDHE-ECDSA-", "ECDHE-RSA-"};
    for (std::size_t l = 0; l < 2; ++l) {
        INFO("listener " << px.spec().listeners[l].name);
        const auto handshakes = px.counter("atsgate_handshakes_total");
        const auto r = expect_served(env, px.port(l), {"-tls1_2"});
        CHECK(s_client_field(r, "Protocol  : ") == "TLSv1.2");
        CHECK(s_client_field(r, "Cipher    : ").rfind(expected_kx[l], 0) == 0);
        CHECK(r.out.find("Extended master secret: yes") != std::string::npos);
        CHECK(px.counter("atsgate_handshakes_total") == handshakes + 1);

        // Every suite of the default TLS 1.2 list for this key type, one by one.
        for (const char* suite : {"AES128-GCM-SHA256", "AES256-GCM-SHA384"}) {
            const std::string name = std::string(expected_kx[l]) + suite;
            INFO(name);
            const auto s = expect_served(env, px.port(l), {"-tls1_2", "-cipher", name});
            CHECK(s_client_field(s, "Cipher    : ") == name);
        }
    }
    CHECK(be.request_lines().size() == 6);
}

TEST_CASE("tls: each TLS 1.3 suite is accepted", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, two_listeners(env, be));
    for (std::size_t l = 0; l < 2; ++l) {
        for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
            INFO("listener " << px.spec().listeners[l].name << " " << suite);
            const auto r = expect_served(env, px.port(l), {"-tls1_3", "-ciphersuites", suite});
            CHECK(s_client_field(r, "New, TLSv1.3, Cipher is ") == suite);
        }
        // And each group ATS allows.
        for (const char* group : {"X25519", "P-256", "P-384"}) {
            INFO("listener " << px.spec().listeners[l].name << " " << group);
            expect_served(env, px.port(l), {"-tls1_3", "-groups", group});
        }
    }
}

TEST_CASE("tls: Python ssl round trips over TLS 1.2 and TLS 1.3", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    // Verifies the chain against the generated root and the IP SAN, PUTs a plist to /echo and
    // prints: status, negotiated version, whether the echoed body is byte-identical.
    const std::string script = R"(
import http.client, ssl, sys
port, ca, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version = v
body = b'<?xml version="1.0"?><plist version="1.0"><dict><key>MessageType</key><string>TokenUpdate</string></dict></plist>' * 50
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
conn.request("PUT", "/echo", body=body, headers={"Content-Type": "application/x-apple-aspen-mdm-checkin"})
r = conn.getresponse()
data = r.read()
print(r.status, conn.sock.version(), data == body, r.getheader("Content-Type"))
)";
    for (const char* version : {"1.2", "1.3"}) {
        INFO("TLS " << version);
        const auto r = run_command({"python3", "-c", script, std::to_string(px.port()), env.root_pem().string(), version});
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        CHECK(r.out == "200 TLSv" + std::string(version) + " True application/x-apple-aspen-mdm-checkin\n");
    }
    CHECK(be.request_lines().size() == 2);
}

TEST_CASE("tls: groups outside X25519 P-256 P-384 are refused with no_shared_group", "[integration][tls]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    expect_refused(env, px, px.port(), {"-tls1_3", "-groups", "X448"}, "no_shared_group", alert_handshake_failure);
    expect_refused(env, px, px.port(), {"-tls1_2", "-curves", "secp521r1"}, "no_shared_group", alert_handshake_failure);
    expect_refused(env, px, px.port(), {"-groups", "X448:secp521r1"}, "no_shared_group", alert_handshake_failure);

    // The in-process client agrees.
    const auto series = refused_series("no_shared_group");
    const auto before = px.counter(series);
    tls_client_options o;
    o.groups = "X448";
    tls_client c(o);
    const auto hs = c.connect(px.port());
    CHECK_FALSE(hs.ok);
    CHECK(hs.alert == alert_handshake_failure);
    CHECK(px.wait_for_counter(series, before + 1) == before + 1);
    CHECK(be.request_lines().empty());
}
