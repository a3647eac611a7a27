// Production front door (issue 5): certificate selection by SNI at the real listener — exact
// names, one-label wildcards, dual ECDSA/RSA certificates for one name (an RSA-only client gets
// the RSA one), the default certificate, and unknown_sni = "refuse". Asserted through the
// certificate the client received (and verified), the alert and the per-reason counter.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace atsgate::itest;
namespace test = atsgate::test;

namespace {

constexpr int alert_unrecognized_name = 112;  // RFC 6066 section 3

// A leaf for `names` (DNS SANs) with subject CN `cn`, signed by the test root.
cert_files issue_named(const test_env& env, const std::string& file, const std::string& cn,
                       const std::vector<std::string>& names, test::key_type k) {
    auto s = test_env::leaf_spec(k);
    s.common_name = cn;
    s.san_dns = names;
    s.san_ip.clear();
    return env.issue(file, s);
}

std::string certificate_table(const cert_files& c, const std::string& names) {
    std::string t = "\n[[listener.certificate]]\ncert = \"" + c.cert.string() + "\"\nkey = \"" + c.key.string() + "\"\n";
    if (!names.empty()) t += "names = " + names + "\n";
    return t;
}

// A proxy whose listener serves: the default ECDSA certificate (CN localhost); enroll.example.test
// with an ECDSA (CN enroll-ecdsa) and an RSA (CN enroll-rsa) certificate; *.devices.example.test
// (CN devices-wildcard). `extra` goes into the listener (e.g. unknown_sni = "refuse").
config_spec sni_config(const test_env& env, const backend& be, const std::string& extra = "") {
    const auto enroll_ec = issue_named(env, "enroll-ecdsa", "enroll-ecdsa", {"enroll.example.test"}, test::key_type::ec_p256);
    const auto enroll_rsa = issue_named(env, "enroll-rsa", "enroll-rsa", {"enroll.example.test"}, test::key_type::rsa_2048);
    const auto wild = issue_named(env, "devices", "devices-wildcard", {"*.devices.example.test"}, test::key_type::ec_p256);
    auto c = env.default_config(be.url());
    c.listeners[0].extra = extra + certificate_table(enroll_ec, "[\"enroll.example.test\"]") +
                           certificate_table(enroll_rsa, "[\"enroll.example.test\"]") +
                           certificate_table(wild, "");  // names from the SAN: the wildcard
    return c;
}

struct served {
    bool ok = false;
    int alert = -1;
    std::string cn;       // the leaf's CN
    int key_type = 0;     // EVP_PKEY_EC / EVP_PKEY_RSA
    std::string version;  // negotiated
    int status = 0;       // of GET /mdm/enroll on that connection
};

// Handshakes with `o`, then GETs /mdm/enroll with Host = SNI (or 127.0.0.1).
served connect_and_get(std::uint16_t port, const tls_client_options& o) {
    tls_client c(o);
    const auto hs = c.connect(port);
    served s;
    s.ok = hs.ok;
    s.alert = hs.alert;
    if (!hs.ok) return s;
    s.version = hs.version;
    X509* leaf = c.peer_certificate();
    s.cn = common_name(leaf);
    if (leaf != nullptr) s.key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
    const std::string host = o.sni.empty() ? "127.0.0.1" : o.sni;
    s.status = status_of(c.request("GET /mdm/enroll HTTP/1.1\r\nHost: " + host + "\r\n\r\n").data);
    return s;
}

served with_sni(std::uint16_t port, const std::string& sni) {
    tls_client_options o;
    o.sni = sni;
    return connect_and_get(port, o);
}

// curl to https://NAME:PORT/mdm/enroll resolved to 127.0.0.1: SNI NAME, and the certificate is
// verified against the test root for NAME. Returns "<http code>" or curl's error.
std::string curl_verified(const test_env& env, std::uint16_t port, const std::string& name) {
    const std::string p = std::to_string(port);
    const auto r = curl(env, {"-o", "/dev/null", "-w", "%{http_code}", "--resolve", name + ":" + p + ":127.0.0.1",
                              "https://" + name + ":" + p + "/mdm/enroll"});
    return r.exit_code == 0 ? r.out : r.describe();
}

}  // namespace

TEST_CASE("frontdoor sni: exact names and one-label wildcards pick their certificate, anything else the default",
          "[integration][frontdoor][sni]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, sni_config(env, be));

    struct row {
        const char* sni;
        const char* cn;
    };
    const std::vector<row> rows = {
        {"enroll.example.test", "enroll-ecdsa"},    // exact name, ECDSA preferred
        {"ENROLL.Example.TEST", "enroll-ecdsa"},    // SNI is case-insensitive
        {"a.devices.example.test", "devices-wildcard"},
        {"ipad-42.devices.example.test", "devices-wildcard"},
        {"a.b.devices.example.test", "localhost"},  // a wildcard covers one label only
        {"devices.example.test", "localhost"},      // ... and not the bare suffix
        {"unknown.example.test", "localhost"},      // unknown_sni = "default"
        {"localhost", "localhost"},
        {"", "localhost"},                          // no SNI: the default
    };
    for (const auto& r : rows) {
        INFO("SNI \"" << r.sni << "\"");
        const auto s = with_sni(px.port(), r.sni);
        REQUIRE(s.ok);
        CHECK(s.cn == r.cn);
        CHECK(s.status == 200);
    }

    // Real clients that verify the name against the certificate they get.
    CHECK(curl_verified(env, px.port(), "enroll.example.test") == "200");
    CHECK(curl_verified(env, px.port(), "mdm-7.devices.example.test") == "200");
    CHECK(curl_verified(env, px.port(), "localhost") == "200");
    // The default certificate does not cover the name: curl refuses it (exit 60).
    const auto wrong = curl(env, {"-o", "/dev/null", "--resolve", "x.y.devices.example.test:" + std::to_string(px.port()) + ":127.0.0.1",
                                  "https://x.y.devices.example.test:" + std::to_string(px.port()) + "/mdm/enroll"});
    CHECK(wrong.exit_code == 60);

    const auto sc = s_client(env, px.port(), {"-servername", "enroll.example.test", "-verify_return_error", "-CAfile",
                                              env.root_pem().string(), "-verify_hostname", "enroll.example.test"},
                             "GET /mdm/enroll HTTP/1.1\r\nHost: enroll.example.test\r\nConnection: close\r\n\r\n");
    INFO(sc.describe() << "\n" << sc.out);
    CHECK(sc.exit_code == 0);
    CHECK(sc.out.find("CN = enroll-ecdsa") != std::string::npos);
    CHECK(sc.out.find("Verify return code: 0 (ok)") != std::string::npos);
    CHECK(sc.out.find("HTTP/1.1 200 OK") != std::string::npos);
}

TEST_CASE("frontdoor sni: a name with ECDSA and RSA certificates serves RSA only to clients that cannot use ECDSA",
          "[integration][frontdoor][sni]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, sni_config(env, be));

    struct row {
        const char* label;
        int max_version;
        const char* cipher_list;  // TLS 1.2
        const char* sigalgs;      // TLS 1.3 (and 1.2)
        const char* cn;
        int key_type;
    };
    const std::vector<row> rows = {
        {"TLS 1.3 default client", TLS1_3_VERSION, "", "", "enroll-ecdsa", EVP_PKEY_EC},
        {"TLS 1.2 default client", TLS1_2_VERSION, "", "", "enroll-ecdsa", EVP_PKEY_EC},
        {"TLS 1.2 ECDHE-RSA suites only", TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", "",
         "enroll-rsa", EVP_PKEY_RSA},
        {"TLS 1.2 ECDHE-ECDSA suites only", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "", "enroll-ecdsa", EVP_PKEY_EC},
        {"TLS 1.3 RSA signatures only", TLS1_3_VERSION, "", "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384", "enroll-rsa",
         EVP_PKEY_RSA},
        {"TLS 1.3 ECDSA signatures only", TLS1_3_VERSION, "", "ecdsa_secp256r1_sha256", "enroll-ecdsa", EVP_PKEY_EC},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        tls_client_options o;
        o.sni = "enroll.example.test";
        o.max_version = r.max_version;
        o.cipher_list = r.cipher_list;
        o.sigalgs = r.sigalgs;
        o.ca_file = env.root_pem();
        const auto s = connect_and_get(px.port(), o);
        REQUIRE(s.ok);
        CHECK(s.cn == r.cn);
        CHECK(s.key_type == r.key_type);
        CHECK(s.status == 200);
    }

    // openssl s_client with RSA suites only: RSA certificate, request served.
    const auto sc = s_client(env, px.port(),
                             {"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-servername", "enroll.example.test",
                              "-CAfile", env.root_pem().string(), "-verify_return_error"},
                             "GET /mdm/enroll HTTP/1.1\r\nHost: enroll.example.test\r\nConnection: close\r\n\r\n");
    INFO(sc.describe() << "\n" << sc.out);
    CHECK(sc.exit_code == 0);
    CHECK(sc.out.find("CN = enroll-rsa") != std::string::npos);
    CHECK(sc.out.find("Server public key is 2048 bit") != std::string::npos);
    CHECK(sc.out.find("HTTP/1.1 200 OK") != std::string::npos);

    // Python's ssl with an RSA-only TLS 1.2 suite list verifies the RSA certificate for the name.
    const std::string script = R"(
import socket, ssl, sys
port, ca, sni, ciphers = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers(ciphers)
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname=sni) as t:
        cn = dict(x[0] for x in t.getpeercert()["subject"])["commonName"]
        t.sendall(b"GET /mdm/enroll HTTP/1.1\r\nHost: " + sni.encode() + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            try:
                piece = t.recv(65536)
            except ssl.SSLEOFError:
                break
            if not piece:
                break
            data += piece
        print(cn, t.version(), t.cipher()[0], data.split(b"\r\n", 1)[0].decode())
)";
    const auto py = run_command({"python3", "-c", script, std::to_string(px.port()), env.root_pem().string(),
                                 "enroll.example.test", "ECDHE-RSA-AES256-GCM-SHA384"});
    INFO(py.describe());
    CHECK(py.exit_code == 0);
    CHECK(py.out == "enroll-rsa TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384 HTTP/1.1 200 OK\n");
    CHECK(be.request_lines().size() == rows.size() + 2);
}

TEST_CASE("frontdoor sni: an ECDSA + RSA pair as the listener's default certificate serves clients without SNI",
          "[integration][frontdoor][sni]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    // cert/key: the ECDSA leaf; [[listener.certificate]]: the RSA leaf for the same names.
    auto cfg = env.default_config(be.url());
    cfg.listeners[0].extra = certificate_table(env.rsa(), "");
    proxy px(env, cfg);
    for (const std::string sni : {"", "localhost"}) {
        INFO("SNI \"" << sni << "\"");
        tls_client_options o;
        o.sni = sni;
        o.ca_file = env.root_pem();
        o.max_version = TLS1_2_VERSION;
        o.cipher_list = "ECDHE-RSA-AES128-GCM-SHA256";
        auto s = connect_and_get(px.port(), o);
        REQUIRE(s.ok);
        CHECK(s.key_type == EVP_PKEY_RSA);
        CHECK(s.status == 200);
        o.max_version = TLS1_3_VERSION;
        o.cipher_list = "";
        s = connect_and_get(px.port(), o);
        REQUIRE(s.ok);
        CHECK(s.key_type == EVP_PKEY_EC);
        CHECK(s.status == 200);
    }
}

TEST_CASE("frontdoor sni: unknown_sni = \"refuse\" answers an unknown name with unrecognized_name and counts it",
          "[integration][frontdoor][sni]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, sni_config(env, be, "unknown_sni = \"refuse\""));
    const auto series = refused_series("unknown_sni");
    const auto before = px.counter(series);
    const auto handshakes = px.counter("atsgate_handshakes_total");

    // s_client: the alert it received, and nothing served.
    const auto sc = s_client(env, px.port(), {"-servername", "unknown.example.test"},
                             "GET /mdm/enroll HTTP/1.1\r\nHost: unknown.example.test\r\nConnection: close\r\n\r\n");
    INFO(sc.describe() << "\n" << sc.out);
    CHECK(sc.exit_code != 0);
    CHECK(s_client_alert(sc) == alert_unrecognized_name);
    CHECK(sc.out.find("HTTP/1.1") == std::string::npos);
    CHECK(px.wait_for_counter(series, before + 1) == before + 1);

    // The in-process client too, for a name below the wildcard's one label.
    const auto deep = with_sni(px.port(), "a.b.devices.example.test");
    CHECK_FALSE(deep.ok);
    CHECK(deep.alert == alert_unrecognized_name);
    CHECK(px.wait_for_counter(series, before + 2) == before + 2);
    CHECK(px.counter("atsgate_handshakes_total") == handshakes);

    // Known names are still served, and a client without SNI still gets the default certificate.
    CHECK(with_sni(px.port(), "enroll.example.test").cn == "enroll-ecdsa");
    CHECK(with_sni(px.port(), "x.devices.example.test").cn == "devices-wildcard");
    CHECK(with_sni(px.port(), "localhost").cn == "localhost");
    const auto none = with_sni(px.port(), "");
    CHECK(none.ok);
    CHECK(none.cn == "localhost");
    CHECK(none.status == 200);
    CHECK(px.counter(series) == before + 2);
    CHECK(px.counter("atsgate_handshakes_total") == handshakes + 4);
    // Only the served connections reached the backend.
    CHECK(be.request_lines().size() == 4);
}
