// Production front door (issue 5): device identity forwarding (the client certificate in
// escaped-PEM and RFC 9440 form, forged copies stripped, also on resumed TLS 1.3 / 1.2 sessions),
// the plaintext SCEP listener, and the plaintext URL guard. Asserted through the headers the demo
// backend received (its /headers echo), status codes, its request log and /metrics.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <openssl/pem.h>

#include <string>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;
namespace test = atsgate::test;
namespace ossl = atsgate::ossl;

namespace {

// A device identity certificate (EKU clientAuth) signed by the test root.
cert_files device_cert(const test_env& env, const std::string& name) {
    auto s = test_env::leaf_spec();
    s.common_name = name;
    s.san_dns = {};
    s.san_ip = {};
    s.usage = test::eku::client_auth;
    s.fresh_key = true;
    return env.issue(name, s);
}

ossl::ptr<X509> read_cert(const fs::path& pem) {
    auto bio = ossl::ptr<BIO>(BIO_new_file(pem.c_str(), "r"));
    if (!bio) throw std::runtime_error("cannot open " + pem.string());
    return ossl::ptr<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// What atsgate must send for `cert`: URL-escaped PEM (every byte outside RFC 3986 unreserved as %XX).
std::string expected_escaped_pem(X509* cert) {
    auto bio = ossl::ptr<BIO>(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (long i = 0; i < len; ++i) {
        const auto c = static_cast<unsigned char>(data[i]);
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// ... and RFC 9440: ":" base64(DER) ":".
std::string expected_rfc9440(X509* cert) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    std::string b64(4 * ((static_cast<std::size_t>(len) + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der, len);
    OPENSSL_free(der);
    b64.resize(static_cast<std::size_t>(n));
    return ":" + b64 + ":";
}

// All values of `name` the backend received.
std::vector<std::string> values(const std::multimap<std::string, std::string>& h, const std::string& name) {
    std::vector<std::string> out;
    for (auto [it, end] = h.equal_range(name); it != end; ++it) out.push_back(it->second);
    return out;
}

// curl GET /headers through `url_base` with extra args; the headers the backend received.
std::multimap<std::string, std::string> backend_saw(const test_env& env, const std::string& url,
                                                    std::vector<std::string> args) {
    args.push_back(url);
    const auto r = curl(env, args);
    if (r.exit_code != 0) throw std::runtime_error("curl " + url + ": " + r.describe());
    return echoed_headers(r.out);
}

// Two https listeners with client_auth = "optional": "pem" (escaped PEM in X-Client-Cert) and
// "rfc" (RFC 9440 in Client-Cert).
config_spec identity_config(const test_env& env, const backend& be) {
    auto c = env.default_config(be.url());
    c.listeners[0].name = "pem";
    c.listeners[0].extra = "client_auth = \"optional\"\nclient_ca = \"" + env.root_pem().string() + "\"\n";
    listener_spec rfc = c.listeners[0];
    rfc.name = "rfc";
    rfc.extra = "client_auth = \"optional\"\nclient_cert_format = \"rfc9440\"\n";
    c.listeners.push_back(rfc);
    // "groups": client_auth = "require", and a second certificate group (SNI enroll.example.test),
    // so that the handshake switches to another context after the ClientHello.
    auto s = test_env::leaf_spec();
    s.common_name = "enroll";
    s.san_dns = {"enroll.example.test"};
    s.san_ip = {};
    const auto enroll = env.issue("enroll", s);
    listener_spec groups = c.listeners[0];
    groups.name = "groups";
    groups.extra = "client_auth = \"require\"\nclient_ca = \"" + env.root_pem().string() + "\"\n" +
                   "[[listener.certificate]]\ncert = \"" + enroll.cert.string() + "\"\nkey = \"" + enroll.key.string() + "\"\n";
    c.listeners.push_back(groups);
    return c;
}

}  // namespace

TEST_CASE("frontdoor identity: the client certificate is forwarded as escaped PEM and RFC 9440, forged headers are removed",
          "[integration][frontdoor][identity]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    const auto dev = device_cert(env, "device-1");
    const auto x509 = read_cert(dev.cert);
    proxy px(env, identity_config(env, be));
    const std::vector<std::string> with_cert = {"--cert", dev.cert.string(), "--key", dev.key.string()};

    SECTION("escaped PEM in X-Client-Cert") {
        const auto url = px.url("/headers", 0);
        auto h = backend_saw(env, url, with_cert);
        CHECK(values(h, "x-client-cert") == std::vector<std::string>{expected_escaped_pem(x509.get())});
        // A forged copy, in any spelling, never passes; the real one replaces it.
        auto args = with_cert;
        args.insert(args.end(), {"-H", "X-Client-Cert: forged-by-device", "-H", "x-client-cert: forged-again"});
        h = backend_saw(env, url, args);
        CHECK(values(h, "x-client-cert") == std::vector<std::string>{expected_escaped_pem(x509.get())});
        // Without a certificate, a forged header is removed and nothing replaces it.
        h = backend_saw(env, url, {"-H", "X-Client-Cert: -----BEGIN%20CERTIFICATE-----forged"});
        CHECK(values(h, "x-client-cert").empty());
        // Other headers are untouched.
        h = backend_saw(env, url, {"-H", "Mdm-Signature: c2lnbmF0dXJl"});
        CHECK(values(h, "mdm-signature") == std::vector<std::string>{"c2lnbmF0dXJl"});
    }
    SECTION("RFC 9440 in Client-Cert") {
        const auto url = px.url("/headers", 1);
        auto h = backend_saw(env, url, with_cert);
        CHECK(values(h, "client-cert") == std::vector<std::string>{expected_rfc9440(x509.get())});
        CHECK(values(h, "x-client-cert").empty());
        auto args = with_cert;
        args.insert(args.end(), {"-H", "Client-Cert: :Zm9yZ2Vk:"});
        h = backend_saw(env, url, args);
        CHECK(values(h, "client-cert") == std::vector<std::string>{expected_rfc9440(x509.get())});
        h = backend_saw(env, url, {"-H", "CLIENT-CERT: :Zm9yZ2Vk:"});
        CHECK(values(h, "client-cert").empty());
    }
    SECTION("client_auth = require, on the default and on an SNI-selected certificate") {
        const std::string port = std::to_string(px.port(2));
        for (const std::string name : {"localhost", "enroll.example.test"}) {
            INFO(name);
            const std::string url = "https://" + name + ":" + port + "/headers";
            auto args = with_cert;
            args.insert(args.end(), {"--resolve", name + ":" + port + ":127.0.0.1", "-H", "X-Client-Cert: forged"});
            const auto h = backend_saw(env, url, args);
            CHECK(values(h, "x-client-cert") == std::vector<std::string>{expected_escaped_pem(x509.get())});
            // Without a certificate the handshake is refused and nothing reaches the backend.
            const auto before = be.request_lines().size();
            const auto r = curl(env, {"--resolve", name + ":" + port + ":127.0.0.1", url});
            CHECK(r.exit_code != 0);
            CHECK(be.request_lines().size() == before);
        }
        // A certificate from another CA is refused too.
        test::cert_factory other(env.factory().now());
        const auto other_root = other.root_ca("another root");
        auto spec = test_env::leaf_spec();
        spec.usage = test::eku::client_auth;
        const auto stranger = env.make(spec, &other_root);
        const auto files = env.write_cert("stranger", {&stranger}, stranger);
        const auto r = curl(env, {"--cert", files.cert.string(), "--key", files.key.string(), px.url("/headers", 2)});
        CHECK(r.exit_code != 0);
    }
}

TEST_CASE("frontdoor identity: the client certificate is forwarded on resumed TLS 1.3 and TLS 1.2 sessions",
          "[integration][frontdoor][identity]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl", "python3");
    test_env env;
    backend be(env);
    const auto dev = device_cert(env, "device-2");
    const auto x509 = read_cert(dev.cert);
    proxy px(env, identity_config(env, be));
    const std::string request = "GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Client-Cert: forged\r\nClient-Cert: :Zm9yZ2Vk:\r\n\r\n";

    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        // pem, rfc, and groups (client_auth = require) on the certificate SNI enroll.example.test selects.
        for (std::size_t l = 0; l < 3; ++l) {
            const std::string header = l == 1 ? "client-cert" : "x-client-cert";
            const std::string want = l == 1 ? expected_rfc9440(x509.get()) : expected_escaped_pem(x509.get());
            INFO((version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2") << ", listener " << px.spec().listeners[l].name);
            tls_client_options o;
            if (l == 2) o.sni = "enroll.example.test";
            o.min_version = o.max_version = version;
            o.cert_file = dev.cert;
            o.key_file = dev.key;
            ossl::ptr<SSL_SESSION> session;
            {
                tls_client first(o);
                REQUIRE(first.connect(px.port(l)).ok);
                const auto r = first.request(request);
                REQUIRE(status_of(r.data) == 200);
                CHECK(values(echoed_headers(body_of(r.data)), header) == std::vector<std::string>{want});
                session = first.session();  // after a response: the TLS 1.3 ticket has arrived
            }
            REQUIRE(session);
            const auto resumed_before = px.counter("atsgate_handshakes_resumed_total");
            o.session = session.get();
            tls_client again(o);
            REQUIRE(again.connect(px.port(l)).ok);
            CHECK(again.reused());
            if (l == 2) CHECK(common_name(again.peer_certificate()) == "enroll");
            const auto r = again.request(request);
            REQUIRE(status_of(r.data) == 200);
            CHECK(values(echoed_headers(body_of(r.data)), header) == std::vector<std::string>{want});
            CHECK(px.counter("atsgate_handshakes_resumed_total") == resumed_before + 1);
        }
    }

    // openssl s_client resuming a TLS 1.3 session from a file (-sess_out, then -sess_in).
    const auto sess = env.path("s_client.session");
    const std::string close_request = "GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    const std::vector<std::string> base = {"-tls1_3", "-cert", dev.cert.string(), "-key", dev.key.string()};
    auto args = base;
    args.insert(args.end(), {"-sess_out", sess.string()});
    const auto first = s_client(env, px.port(), args, close_request);
    INFO(first.describe());
    REQUIRE(first.exit_code == 0);
    args = base;
    args.insert(args.end(), {"-sess_in", sess.string()});
    const auto second = s_client(env, px.port(), args, close_request);
    INFO(second.describe() << "\n" << second.out);
    CHECK(second.exit_code == 0);
    CHECK(second.out.find("Reused, TLSv1.3") != std::string::npos);
    const auto json_at = second.out.find("{\"method\"");
    REQUIRE(json_at != std::string::npos);
    CHECK(values(echoed_headers(second.out.substr(json_at)), "x-client-cert") ==
          std::vector<std::string>{expected_escaped_pem(x509.get())});
}

TEST_CASE("frontdoor scep: a scep listener forwards SCEP requests over plain HTTP and refuses or redirects the rest",
          "[integration][frontdoor][scep]") {
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
    redirecting.extra = "scep_path = \"/cgi-bin/pkiclient.exe\"\nredirect = \"https://mdm.example.test\"";
    cfg.listeners.push_back(redirecting);
    proxy px(env, cfg);
    const std::string plain = "http://127.0.0.1:" + std::to_string(px.port(1));
    const std::string plain_redirect = "http://127.0.0.1:" + std::to_string(px.port(2));

    // SCEP requests are forwarded.
    auto r = curl(env, {"-i", plain + "/scep?operation=GetCACaps"});
    INFO(r.describe() << "\n" << r.out);
    CHECK(status_of(r.out) == 200);
    CHECK(body_of(r.out) == "POSTPKIOperation\nSHA-256\nAES\n");
    // POST PKIOperation with a body; the backend sees X-Forwarded-Proto: http (not https).
    r = curl(env, {"-i", "-X", "POST", "--data-binary", "pkcs7-signed-data", "-H", "Content-Type: application/x-pki-message",
                   plain + "/scep?message=x&operation=PKIOperation"});
    INFO(r.out);
    REQUIRE(status_of(r.out) == 200);
    const auto h = echoed_headers(body_of(r.out));
    CHECK(values(h, "x-forwarded-proto") == std::vector<std::string>{"http"});
    CHECK(body_of(r.out).find("\"body_length\": 17") != std::string::npos);
    // ... while the https listener still says https.
    const auto hs = curl(env, {px.url("/headers")});
    CHECK(values(echoed_headers(hs.out), "x-forwarded-proto") == std::vector<std::string>{"https"});
    const auto forwarded = be.request_lines().size();

    // Everything else: 403 without a redirect, 308 with one (path and query kept).
    struct row {
        const char* method;
        const char* target;
    };
    for (const row& x : {row{"GET", "/mdm/enroll"}, row{"GET", "/scep"}, row{"GET", "/scep?op=GetCACaps"},
                         row{"PUT", "/scep?operation=PKIOperation"}, row{"DELETE", "/scep?operation=GetCACert"},
                         row{"GET", "/other?operation=GetCACaps"}}) {
        INFO(x.method << " " << x.target);
        r = curl(env, {"-i", "-X", x.method, plain + x.target});
        CHECK(r.exit_code == 0);
        CHECK(status_of(r.out) == 403);
    }
    r = curl(env, {"-i", plain_redirect + "/mdm/enroll?device=1"});
    CHECK(status_of(r.out) == 308);
    CHECK(header_value(r.out, "location") == "https://mdm.example.test/mdm/enroll?device=1");
    r = curl(env, {"-i", plain_redirect + "/scep?operation=GetCACaps"});  // not its scep_path
    CHECK(status_of(r.out) == 308);
    r = curl(env, {"-i", plain_redirect + "/cgi-bin/pkiclient.exe?operation=GetCACaps"});
    CHECK(status_of(r.out) == 404);  // forwarded: the demo backend has no such path
    CHECK(header_value(r.out, "x-backend") == "backend");
    CHECK(be.request_lines().size() == forwarded + 1);
    CHECK(be.request_lines().back() == "GET /cgi-bin/pkiclient.exe?operation=GetCACaps HTTP/1.1");
}

TEST_CASE("frontdoor url guard: an http:// URL in a plist is counted and the body is relayed unchanged",
          "[integration][frontdoor][urlguard]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const std::string series = "atsgate_plaintext_urls_total";
    CHECK(px.counter(series) == 0);

    struct row {
        const char* target;
        std::uint64_t counted;
    };
    const std::vector<row> rows = {
        {"/plist?url=http://mdm.example.test/checkin", 1},  // plaintext ServerURL
        {"/plist?url=https://mdm.example.test/checkin", 0},
        {"/plist?url=http://mdm.example.test/scep", 0},     // SCEP is exempt
        {"/mdm/enroll", 0},                                 // a profile: only the plist DTD URL
        {"/plist?url=HTTP://MDM.EXAMPLE.TEST/x", 1},        // scheme case does not matter
    };
    std::uint64_t total = 0;
    for (const auto& r : rows) {
        INFO(r.target);
        const auto via = curl(env, {px.url(r.target)});
        REQUIRE(via.exit_code == 0);
        // Byte for byte what the backend sends (detection only, never a rewrite).
        CHECK(via.out == body_of(be.get(r.target)));
        total += r.counted;
        CHECK(px.wait_for_counter(series, total) == total);
    }
    // Not scanned: a text/plain body with an http:// URL.
    const auto echo = curl(env, {"-H", "Content-Type: text/plain", "--data-binary", "see http://mdm.example.test/", px.url("/echo")});
    CHECK(echo.out == "see http://mdm.example.test/");
    // JSON is scanned.
    const auto json = curl(env, {"-H", "Content-Type: application/json", "--data-binary",
                                 R"({"url":"http://mdm.example.test/a","ok":"https://x/"})", px.url("/echo")});
    CHECK(json.out == R"({"url":"http://mdm.example.test/a","ok":"https://x/"})");
    CHECK(px.wait_for_counter(series, total + 1) == total + 1);
    CHECK(px.counter(series) == total + 1);
}
