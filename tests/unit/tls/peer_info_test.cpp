// tls::peer_info: what a finished handshake says about the peer, and the client-certificate
// encoders behind the identity header (escaped PEM, RFC 9440) and sticky routing (SHA-256).
#include "tests/support/mem_tls.hpp"
#include "tests/unit/tls/tls_fixtures.hpp"
#include "tls/peer_info.hpp"

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

namespace atsgate::tls {
namespace {

using testing::pki;

std::string pem_of(X509& cert) {
    auto bio = ossl::own(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_X509(bio.get(), &cert) == 1);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

std::string der_of(X509& cert) {
    const int len = i2d_X509(&cert, nullptr);
    REQUIRE(len > 0);
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    REQUIRE(i2d_X509(&cert, &p) == len);
    return der;
}

// Reverses %XX escapes (what a backend's QueryUnescape does).
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string base64(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

}  // namespace

TEST_CASE("tls::version_name and version_label spell every version once", "[unit][tls][peer_info]") {
    struct row {
        const char* label;
        int version;
        std::string name, prose;
    };
    const row rows[] = {
        {"SSL 3.0", SSL3_VERSION, "SSLv3", "SSL 3.0"},     {"TLS 1.0", TLS1_VERSION, "TLSv1.0", "TLS 1.0"},
        {"TLS 1.1", TLS1_1_VERSION, "TLSv1.1", "TLS 1.1"}, {"TLS 1.2", TLS1_2_VERSION, "TLSv1.2", "TLS 1.2"},
        {"TLS 1.3", TLS1_3_VERSION, "TLSv1.3", "TLS 1.3"}, {"none", 0, "none", "0x0000"},
        {"GREASE", 0x0a0a, "unknown", "0x0a0a"},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        CHECK(version_name(r.version) == r.name);
        CHECK(version_label(r.version) == r.prose);
    }
}

TEST_CASE("tls::escaped_pem escapes every byte outside RFC 3986 unreserved and round-trips",
          "[unit][tls][peer_info]") {
    const auto& leaf = pki::get().inter;
    const std::string escaped = escaped_pem(leaf.x509());
    REQUIRE_FALSE(escaped.empty());
    for (char c : escaped) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.' || c == '_' || c == '~' || c == '%';
        INFO("byte " << static_cast<int>(static_cast<unsigned char>(c)));
        REQUIRE(ok);
    }
    CHECK(escaped.find("%0A") != std::string::npos);  // newlines of the PEM, upper-case hex
    CHECK((escaped.find("%2B") != std::string::npos || escaped.find('+') == std::string::npos));
    CHECK(unescape(escaped) == pem_of(leaf.x509()));
}

TEST_CASE("tls::rfc9440 is a structured-field byte sequence of the DER", "[unit][tls][peer_info]") {
    const auto& leaf = pki::get().inter;
    const std::string v = rfc9440(leaf.x509());
    REQUIRE(v.size() > 2);
    CHECK(v.front() == ':');
    CHECK(v.back() == ':');
    const std::string b64 = v.substr(1, v.size() - 2);
    CHECK(b64.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
          std::string::npos);
    CHECK(b64 == base64(der_of(leaf.x509())));
}

TEST_CASE("tls::sha256_fingerprint is the lower-case hex digest of the DER", "[unit][tls][peer_info]") {
    const auto& root = pki::get().root;
    const std::string der = der_of(root.x509());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    REQUIRE(EVP_Digest(der.data(), der.size(), md, &n, EVP_sha256(), nullptr) == 1);
    std::string expect;
    char buf[3];
    for (unsigned i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", md[i]);
        expect += buf;
    }
    CHECK(sha256_fingerprint(root.x509()) == expect);
    CHECK(sha256_fingerprint(root.x509()).size() == 64);
    CHECK(sha256_fingerprint(pki::get().inter.x509()) != expect);
}

TEST_CASE("tls::peer_info::of reads version, suite, group and the client certificate of a handshake",
          "[unit][tls][peer_info]") {
    const auto& p = pki::get();
    const auto server_leaf = p.factory.leaf(p.root, "localhost");
    const auto client_leaf = p.factory.leaf(p.root, "device-1");

    auto server = ossl::own(SSL_CTX_new(TLS_server_method()));
    REQUIRE(SSL_CTX_use_certificate(server.get(), server_leaf.cert.get()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(server.get(), server_leaf.key.get()) == 1);
    REQUIRE(SSL_CTX_set1_groups_list(server.get(), "X25519:P-256") == 1);
    // Accept any client certificate: the test is about reading it, not verifying it.
    SSL_CTX_set_verify(server.get(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    auto client = ossl::own(SSL_CTX_new(TLS_client_method()));
    REQUIRE(SSL_CTX_use_certificate(client.get(), client_leaf.cert.get()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(client.get(), client_leaf.key.get()) == 1);

    struct row {
        const char* label;
        int version;
        bool read_cert;
        config::client_cert_format format;
    };
    const row rows[] = {
        {"TLS 1.3, escaped PEM", TLS1_3_VERSION, true, config::client_cert_format::escaped_pem},
        {"TLS 1.2, RFC 9440", TLS1_2_VERSION, true, config::client_cert_format::rfc9440},
        {"TLS 1.3, certificate not asked for", TLS1_3_VERSION, false, config::client_cert_format::escaped_pem},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        REQUIRE(SSL_CTX_set_min_proto_version(client.get(), r.version) == 1);
        REQUIRE(SSL_CTX_set_max_proto_version(client.get(), r.version) == 1);
        peer_info info;
        const auto out = test::run_handshake(*client, *server, nullptr, nullptr, "localhost", {},
                                             [&](SSL& ssl) { info = peer_info::of(ssl, r.read_cert, r.format); });
        REQUIRE(out.server_ok);
        CHECK(std::string(info.version) == version_name(r.version));
        CHECK(std::string(info.cipher) == out.cipher);
        CHECK(std::string(info.group) == "x25519");  // OpenSSL 3.0 spells group names in lower case
        CHECK_FALSE(info.resumed);
        if (!r.read_cert) {
            CHECK(info.identity.empty());
            CHECK(info.fingerprint.empty());
            continue;
        }
        CHECK(info.fingerprint == sha256_fingerprint(client_leaf.x509()));
        CHECK(info.identity == (r.format == config::client_cert_format::rfc9440 ? rfc9440(client_leaf.x509())
                                                                               : escaped_pem(client_leaf.x509())));
    }
}

TEST_CASE("tls::peer_info defaults describe a plaintext connection", "[unit][tls][peer_info]") {
    const peer_info p;
    CHECK(std::string(p.version) == "plaintext");
    CHECK(std::string(p.cipher) == "-");
    CHECK(p.identity.empty());
    CHECK(p.fingerprint.empty());
}

}  // namespace atsgate::tls
