#pragma once
// Test certificate factory: builds keys, certificates and whole chains in-process with OpenSSL,
// and writes them as PEM files, so unit and integration tests never depend on checked-in
// certificates (which expire) or on the `openssl` command line.
//
// Typical use:
//
//     test::cert_factory f(now);                        // now: unix seconds; validity is relative to it
//     auto root = f.root_ca();                          // self-signed EC P-256 CA
//     auto inter = f.intermediate(root);                // CA signed by root
//     auto leaf = f.leaf(inter, "mdm.example.test");    // SAN DNS:mdm.example.test, EKU serverAuth
//
//     test::temp_dir dir;                               // removed with its contents on scope exit
//     auto cert = dir.write_chain("cert.pem", {&leaf, &inter});
//     auto key = dir.write_key("key.pem", leaf);
//     auto trust = dir.write_chain("trust.pem", {&root});
//
// Any certificate shape is available through cert_spec (key type, digest, validity offsets, SAN,
// EKU, basicConstraints, explicit key) and cert_factory::make(spec, issuer).
//
// Failures (OpenSSL refusing an operation, a file that cannot be written) throw std::runtime_error
// naming the step and the drained OpenSSL error queue: this is test code, and a broken fixture must
// stop the test loudly. Thread-safety: a cert_factory is not shared between threads; cached_key()
// is thread-safe.

#include "tls/ossl.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::test {

// Key algorithms the factory can generate.
enum class key_type {
    ec_p224,   // too small for ATS (EC < 256)
    ec_p256,
    ec_p384,
    rsa_1024,  // too small for ATS (RSA < 2048)
    rsa_2048,
    rsa_3072,
    ed25519,   // refused by Apple clients as a server key
    dsa_2048,  // refused by Apple clients; parameter generation takes a few seconds
};

// Digest used to sign the certificate. Ignored (must be none) for Ed25519 issuers.
enum class digest { sha1, sha256, sha384, sha512 };

// extendedKeyUsage contents.
enum class eku {
    none,               // no extendedKeyUsage extension at all
    server_auth,        // serverAuth
    client_auth,        // clientAuth only
    server_and_client,  // serverAuth, clientAuth
    any,                // anyExtendedKeyUsage only (does not count as serverAuth for ATS)
};

// Human-readable name for test labels: "EC P-256", "RSA 2048", ...
std::string to_string(key_type t);

// Generates a fresh key. Throws std::runtime_error if OpenSSL refuses.
ossl::ptr<EVP_PKEY> generate_key(key_type t);

// A process-wide cached key of type `t`: the same (type, slot) always returns the same key, so a
// test suite pays for RSA / DSA generation once. Use a different slot for a second, distinct key
// (e.g. a key that does not match a certificate). Returns a new reference. Thread-safe.
ossl::ptr<EVP_PKEY> cached_key(key_type t, int slot = 0);

// Everything that shapes one certificate. Defaults: a leaf for "localhost"-style tests.
struct cert_spec {
    std::string common_name = "atsgate test";  // subject CN; "" = subject without CN
    std::string organization = "atsgate tests";  // subject O; "" = none
    std::vector<std::string> san_dns;  // subjectAltName DNS entries
    std::vector<std::string> san_ip;   // subjectAltName IP entries ("127.0.0.1", "::1")
    // Both empty: no subjectAltName extension at all.
    eku usage = eku::server_auth;
    bool is_ca = false;               // basicConstraints CA:TRUE (critical) and keyCertSign usage
    bool basic_constraints = true;    // false: omit basicConstraints entirely
    bool key_usage = true;            // keyUsage: CA -> keyCertSign,cRLSign; leaf -> digitalSignature(+keyEncipherment for RSA)
    std::optional<int> path_length;   // basicConstraints pathlen for CAs
    key_type key = key_type::ec_p256; // key to generate when `subject_key` is null
    bool fresh_key = false;           // true: generate_key(key); false: cached_key(key, key_slot)
    int key_slot = 0;                 // cached_key slot (distinct slots give distinct keys)
    EVP_PKEY* subject_key = nullptr;  // borrowed; when set, used instead of key/fresh_key/key_slot
    digest sig = digest::sha256;      // issuer's signature digest (ignored for Ed25519 issuers)
    std::int64_t not_before = -3600;       // seconds relative to the factory's `now`
    std::int64_t not_after = 90 * 86400;   // seconds relative to the factory's `now`
};

// A certificate with its private key. Move-only.
struct test_cert {
    ossl::ptr<X509> cert;
    ossl::ptr<EVP_PKEY> key;

    X509& x509() const noexcept { return *cert; }
    // New reference to the certificate, e.g. for a std::vector<ossl::ptr<X509>> chain.
    ossl::ptr<X509> ref() const noexcept { return ossl::up_ref(cert.get()); }
    std::string cert_pem() const;  // "-----BEGIN CERTIFICATE-----..."
    std::string key_pem() const;   // unencrypted PKCS#8 "-----BEGIN PRIVATE KEY-----..."
};

// Builds certificates whose validity is relative to a fixed `now` (unix seconds, UTC).
class cert_factory {
public:
    explicit cert_factory(std::int64_t now) noexcept : now_(now) {}

    std::int64_t now() const noexcept { return now_; }

    // Builds a certificate from `spec`, signed by `issuer` (its subject becomes the issuer name and
    // its key signs; authorityKeyIdentifier points at it), or self-signed when `issuer` is null.
    // Serial numbers are random 64-bit positives.
    test_cert make(const cert_spec& spec, const test_cert* issuer = nullptr) const;

    // A self-signed root CA (CA:TRUE, keyCertSign, no EKU), valid from now-1h for 10 years.
    test_cert root_ca(const std::string& cn = "atsgate test root", key_type k = key_type::ec_p256) const;
    // An intermediate CA signed by `issuer`, valid from now-1h for 5 years.
    test_cert intermediate(const test_cert& issuer, const std::string& cn = "atsgate test intermediate",
                           key_type k = key_type::ec_p256) const;
    // A compliant server leaf: CN and SAN DNS = `host` (SAN IP if `host` is an IP literal),
    // EKU serverAuth, valid from now-1h for 90 days.
    test_cert leaf(const test_cert& issuer, const std::string& host = "mdm.example.test",
                   key_type k = key_type::ec_p256) const;

    // The spec leaf() uses, to tweak one property: `auto s = f.leaf_spec("h"); s.usage = eku::none;`.
    static cert_spec leaf_spec(const std::string& host = "mdm.example.test", key_type k = key_type::ec_p256);
    // The specs root_ca() and intermediate() use.
    static cert_spec ca_spec(const std::string& cn, key_type k, std::int64_t lifetime_seconds);

private:
    std::int64_t now_;
};

// Builds a std::vector<ossl::ptr<X509>> (leaf first) as tls::inspect_chain expects.
std::vector<ossl::ptr<X509>> chain_of(const std::vector<const test_cert*>& certs);

// A trust store holding `roots` as anchors.
ossl::ptr<X509_STORE> store_of(const std::vector<const test_cert*>& roots);

// PEM text of several certificates concatenated in order (a served chain or a trust bundle).
std::string chain_pem(const std::vector<const test_cert*>& certs);

// Writes `text` to `path` (mode 0600), replacing it. Throws on failure.
void write_file(const std::filesystem::path& path, const std::string& text);

// A fresh private directory under $TMPDIR (or /tmp), removed recursively on destruction. Move-only.
class temp_dir {
public:
    temp_dir();  // throws std::runtime_error if the directory cannot be created
    ~temp_dir();
    temp_dir(temp_dir&& other) noexcept;
    temp_dir& operator=(temp_dir&& other) noexcept;
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    // path() / name.
    std::filesystem::path file(const std::string& name) const { return path_ / name; }

    // Writes the certificates (in order: leaf first for a served chain) to path()/name as PEM;
    // returns the full path.
    std::filesystem::path write_chain(const std::string& name, const std::vector<const test_cert*>& certs) const;
    // Writes c's private key to path()/name (unencrypted PKCS#8 PEM, mode 0600); returns the full path.
    std::filesystem::path write_key(const std::string& name, const test_cert& c) const;
    // Writes arbitrary text to path()/name; returns the full path.
    std::filesystem::path write_text(const std::string& name, const std::string& text) const;

private:
    std::filesystem::path path_;
};

}  // namespace atsgate::test
