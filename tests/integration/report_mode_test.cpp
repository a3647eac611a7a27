// enforcement = "report" end to end (issue 13): on a report-mode listener the clients strict mode
// refuses (TLS 1.2 without EMS, TLS 1.1, suites without forward secrecy) complete their handshakes
// and get answers, each counted once as would-refuse with the reason strict mode gives, while the
// same clients are refused on a strict listener; an Apple-like client negotiates exactly the same
// in both modes. The audit WARNs and `check` says the listener is not compliant yet; /status and
// the dashboard list the would-refuse clients with their reasons; fleet counters per listener.

#include "tests/integration/fixture.hpp"
#include "tests/support/mem_tls.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

using namespace atsgate::itest;
namespace ossl = atsgate::ossl;
namespace test = atsgate::test;

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

// The ClientHello an OS 26 Apple device sends, as far as fleet insight looks at it: OpenSSL 3.0
// (Debian 12) cannot offer X25519MLKEM768, so its ClientHello (groups x25519, P-256, x448; key share
// x25519) is rewritten to offer X25519MLKEM768 first, then x25519 and P-256, as Apple orders them
// (same length, so no length field changes). `tls12_no_ems`: a TLS 1.2-only offer without EMS.
std::string hello_offering_mlkem(bool tls12_no_ems) {
    auto ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
    REQUIRE(ctx);
    if (tls12_no_ems) {
        REQUIRE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION) == 1);
        SSL_CTX_set_options(ctx.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
    }
    REQUIRE(SSL_CTX_set1_groups_list(ctx.get(), "X25519:P-256:X448") == 1);
    std::string h = test::client_hello(*ctx);
    // record(5) handshake(4) legacy_version(2) random(32) session_id suites compression extensions
    auto u8 = [&](std::size_t i) { return static_cast<std::uint8_t>(h.at(i)); };
    auto u16 = [&](std::size_t i) { return static_cast<std::size_t>(u8(i) << 8 | u8(i + 1)); };
    std::size_t i = 5 + 4 + 2 + 32;
    i += 1 + u8(i);   // session_id
    i += 2 + u16(i);  // cipher_suites
    i += 1 + u8(i);   // compression_methods
    const std::size_t end = i + 2 + u16(i);
    REQUIRE(end == h.size());
    for (i += 2; i + 4 <= end; i += 4 + u16(i + 2)) {
        if (u16(i) != 10) continue;  // supported_groups
        const std::string want_before("\x00\x06\x00\x1d\x00\x17\x00\x1e", 8);
        REQUIRE(h.substr(i + 4, 8) == want_before);
        h.replace(i + 4, 8, std::string("\x00\x06\x11\xec\x00\x1d\x00\x17", 8));
        return h;
    }
    FAIL("no supported_groups extension in OpenSSL's ClientHello");
    return {};
}

// Sends `hello` on a fresh TCP connection to 127.0.0.1:port and returns the first bytes the server
// answers (the ServerHello, or an alert) within scaled(5 s); then closes (a TLS 1.3 server waits
// for a Finished this client cannot send).
std::string send_hello(std::uint16_t port, const std::string& hello) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string got;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
        ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(hello.size())) {
        pollfd p{fd, POLLIN, 0};
        char buf[4096];
        if (::poll(&p, 1, static_cast<int>(scaled(milliseconds(5000)).count())) == 1) {
            const auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) got.assign(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return got;
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
        CHECK(!s.hs.group.empty());
        CHECK(r.hs.group == s.hs.group);
        CHECK(!s.hs.peer_sigalg.empty());
        CHECK(r.hs.peer_sigalg == s.hs.peer_sigalg);
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

TEST_CASE("fleet insight: versions, EMS, SNI and X25519MLKEM768 offered are counted per listener",
          "[integration][report]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, strict_and_report(env, be));
    auto series = [](std::string_view family, std::string_view listener, std::string_view label, std::string_view v) {
        return std::string(family) + "{listener=\"" + std::string(listener) + "\"," + std::string(label) + "=\"" +
               std::string(v) + "\"}";
    };
    auto feature = [&](std::string_view listener, std::string_view f) {
        return series("atsgate_fleet_client_hello_features_total", listener, "feature", f);
    };

    // An OS 26-like TLS 1.3 offer on the strict listener: counted with X25519MLKEM768; the server
    // answers it (x25519 is shared).
    const auto answer = send_hello(px.port(0), hello_offering_mlkem(false));
    CHECK(!answer.empty());
    CHECK(answer.substr(0, 1) == std::string("\x16", 1));  // a handshake record: the ServerHello
    CHECK(px.wait_for_counter(feature("mdm", "x25519mlkem768"), 1) == 1);
    // A TLS 1.2 offer without EMS but with X25519MLKEM768 (not an Apple device): refused, listed
    // with its groups, the post-quantum one by name.
    send_hello(px.port(0), hello_offering_mlkem(true));
    CHECK(px.wait_for_counter(refused_series("no_ems"), 1) == 1);
    CHECK(px.counter(feature("mdm", "x25519mlkem768")) == 2);
    // An ordinary client without SNI, and one with SNI, both TLS 1.3 with EMS: served.
    tls_client_options plain;
    tls_client c1(plain);
    REQUIRE(c1.connect(px.port(0)).ok);
    tls_client_options named;
    named.sni = "localhost";
    tls_client c2(named);
    REQUIRE(c2.connect(px.port(0)).ok);
    // And a legacy TLS 1.2 client without EMS on the report-mode listener: served, would-refuse.
    tls_client_options legacy;
    legacy.max_version = TLS1_2_VERSION;
    legacy.no_ems = true;
    tls_client c3(legacy);
    REQUIRE(c3.connect(px.port(1)).ok);

    CHECK(px.wait_for_counter(series("atsgate_fleet_handshakes_total", "mdm", "version", "TLSv1.3"), 2) == 2);
    CHECK(px.counter(series("atsgate_fleet_client_hellos_total", "mdm", "max_version", "TLSv1.3")) == 3);
    CHECK(px.counter(series("atsgate_fleet_client_hellos_total", "mdm", "max_version", "TLSv1.2")) == 1);
    CHECK(px.counter(feature("mdm", "ems")) == 3);  // not the refused one
    CHECK(px.counter(feature("mdm", "sni")) == 3);  // both rewritten hellos name localhost
    CHECK(px.counter(series("atsgate_fleet_refused_total", "mdm", "reason", "no_ems")) == 1);
    CHECK(px.wait_for_counter(series("atsgate_fleet_handshakes_total", "legacy", "version", "TLSv1.2"), 1) == 1);
    CHECK(px.counter(series("atsgate_fleet_client_hellos_total", "legacy", "max_version", "TLSv1.2")) == 1);
    CHECK(px.counter(feature("legacy", "ems")) == 0);
    CHECK(px.counter(feature("legacy", "sni")) == 0);
    CHECK(px.counter(feature("legacy", "x25519mlkem768")) == 0);

    // /status: the same per listener, and the recent list names what was offered.
    const std::string status = body_of(px.admin("GET", "/status"));
    INFO(status);
    CHECK(status.find("\"x25519mlkem768_offered\":2") != std::string::npos);
    CHECK(status.find("\"groups\":[\"X25519MLKEM768\",\"x25519\",\"secp256r1\"]") != std::string::npos);
    // The dashboard's recent refusals show the groups too.
    const std::string page = body_of(http_get(px.admin_port(), "/"));
    CHECK(page.find("X25519MLKEM768, x25519, secp256r1") != std::string::npos);
}

TEST_CASE("report mode: the certificate rules are never relaxed", "[integration][report]") {
    // Only the handshake policy is reported instead of enforced: a report-mode listener with a
    // certificate that fails the audit is refused like any other, by check and by run.
    test_env env;
    const auto weak = env.issue("rsa1024", test_env::leaf_spec(test::key_type::rsa_1024));
    config_spec c = env.default_config("http://127.0.0.1:" + std::to_string(free_port()));
    c.listeners[0].name = "legacy";
    c.listeners[0].extra = "enforcement = \"report\"\n";
    c.listeners[0].cert = weak.cert;
    c.listeners[0].key = weak.key;
    c.listeners[0].port = free_port();
    c.admin = false;
    const auto path = env.write("weak.toml", to_toml(c));
    const auto check = run_command({atsgate_binary().string(), "check", "-c", path.string()});
    INFO(check.describe() << "\n" << check.out);
    CHECK(check.exit_code == 3);
    CHECK(check.out.find("FAIL    cert.key_strength") != std::string::npos);
    const auto run = run_command({atsgate_binary().string(), "run", "-c", path.string()});
    INFO(run.describe() << "\n" << run.err);
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("refusing to start") != std::string::npos);
    CHECK(port_is_free(c.listeners[0].port));
}

TEST_CASE("report mode: switching to strict is a reload, and the counts since start stay", "[integration][report]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, strict_and_report(env, be));
    const auto before = connect(px, 1, no_ems());
    REQUIRE(before.hs.ok);
    CHECK(status_of(before.response) == 200);
    CHECK(px.wait_for_counter(would_refuse("legacy", "no_ems"), 1) == 1);

    // The operator read the dashboard and switches the listener to strict: a reload.
    auto c = px.spec();
    c.listeners[1].extra.clear();  // enforcement = "strict" is the default
    test::write_file(px.config_path(), to_toml(c));
    const auto r = px.admin("POST", "/reload");
    INFO(r);
    REQUIRE(status_of(r) == 200);

    const auto refused_before = px.counter(refused_series("no_ems"));
    const auto after = connect(px, 1, no_ems());
    CHECK_FALSE(after.hs.ok);
    CHECK(px.wait_for_counter(refused_series("no_ems"), refused_before + 1) == refused_before + 1);
    CHECK(px.counter("atsgate_fleet_refused_total{listener=\"legacy\",reason=\"no_ems\"}") == 1);
    CHECK(px.counter(would_refuse("legacy", "no_ems")) == 1);  // what report mode saw stays counted
    CHECK(px.counter("atsgate_fleet_client_hellos_total{listener=\"legacy\",max_version=\"TLSv1.2\"}") == 2);
    // An Apple-like client on the now strict listener: served as before.
    const auto apple = connect(px, 1, tls_client_options{});
    CHECK(apple.hs.ok);
    CHECK(status_of(apple.response) == 200);

    const std::string status = body_of(px.admin("GET", "/status"));
    CHECK(status.find("\"enforcement\":\"report\"") == std::string::npos);
    const std::string page = body_of(http_get(px.admin_port(), "/"));
    CHECK(page.find("Not compliant yet") == std::string::npos);
    CHECK(page.find("report-only: not enforcing TLS policy") == std::string::npos);
}
