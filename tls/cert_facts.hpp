#pragma once
// Facts about certificates and chains, gathered with OpenSSL. The audit (audit.hpp) is a pure
// function over these facts; gathering is the only part that touches OpenSSL. The same facts are
// gathered from files (start-up self-audit, `check`) and from a live peer (`probe`).

#include "tls/ossl.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::tls {

enum class key_kind { rsa, ec, ed25519, ed448, dsa, other };

struct cert_facts {
    std::string subject;             // RFC 2253 one-line, e.g. "CN=mdm.example.com,O=Example"
    std::string issuer;              // same format
    std::string common_name;         // first CN of the subject, "" if none
    std::string serial_hex;          // uppercase hex
    std::string sha256_fingerprint;  // uppercase hex, colon-separated
    key_kind key = key_kind::other;
    int key_bits = 0;                // RSA modulus / EC field size in bits; 0 if unknown
    std::string key_description;     // "EC P-256", "RSA 2048", "Ed25519", "DSA 2048"
    std::string signature_algorithm; // OpenSSL long name, e.g. "ecdsa-with-SHA256", "sha1WithRSAEncryption"
    int signature_hash_bits = 0;     // digest size of the signature hash (SHA-1 = 160); 0 if unknown
    std::int64_t not_before = 0;     // unix seconds (UTC)
    std::int64_t not_after = 0;      // unix seconds (UTC)
    bool self_issued = false;        // subject == issuer
    bool self_signed = false;        // self-issued and its signature verifies with its own key
    bool is_ca = false;              // basicConstraints CA:TRUE
    std::vector<std::string> san_dns;  // subjectAltName dNSName entries, as written
    std::vector<std::string> san_ip;   // subjectAltName iPAddress entries, textual
    bool has_eku = false;              // extendedKeyUsage present
    bool eku_server_auth = false;      // ... and contains id-kp-serverAuth (anyExtendedKeyUsage does not count)
    std::vector<std::string> eku;      // the EKU purposes present: OpenSSL short names ("serverAuth",
                                       // "clientAuth", "anyExtendedKeyUsage") or dotted OIDs
};

// Facts about a served chain and how it verifies.
struct chain_facts {
    std::vector<cert_facts> served;    // as served: leaf first, then intermediates
    std::optional<cert_facts> anchor;  // the trusted root the chain verified to, if it did
    std::optional<bool> verified;      // nullopt: verification could not be attempted
    std::string verify_error;          // OpenSSL's verify error text when verified == false
    int verify_error_depth = -1;       // depth of the certificate that failed
    bool missing_intermediate = false; // failed because an issuer is neither served nor a trusted root
    std::optional<bool> publicly_trusted;  // verifies against the system default store; nullopt: not checked
    std::optional<bool> key_matches;   // private key matches the leaf; nullopt: no key (probe)
    std::optional<bool> hostname_matches;  // server_name in SAN (RFC 6125, no CN fallback); nullopt: no name
    std::string hostname;              // the name hostname_matches refers to
    std::string verify_error_subject;  // subject (RFC 2253) of the certificate at verify_error_depth
    std::string missing_issuer;        // when missing_intermediate: the issuer name (RFC 2253) not found
};

// Extracts facts from one certificate. Never fails: unknown parts stay at their defaults.
cert_facts inspect_certificate(X509& cert);

// Inputs for chain verification.
struct verify_inputs {
    // Roots the devices trust. Null: use the system default store (X509_STORE_set_default_paths).
    X509_STORE* trust = nullptr;
    // Host name or IP devices use, checked against the SAN only (X509_CHECK_FLAG_NEVER_CHECK_SUBJECT).
    // Empty: not checked (hostname_matches stays nullopt).
    std::string hostname;
    // Private key for key_matches; null: not checked.
    EVP_PKEY* key = nullptr;
    // Also check against the system store to fill publicly_trusted.
    bool check_public_trust = true;
};

// Verifies `chain` (leaf first) as a device would: purpose sslserver, partial chains not allowed,
// validity times NOT checked here (the audit judges time from the facts, with its own `now`), and
// fills every field of chain_facts. Drains the OpenSSL error queue. Thread-safe.
chain_facts inspect_chain(const std::vector<ossl::ptr<X509>>& chain, const verify_inputs& in);

// Loading helpers. Errors name the file and what was wrong ("cannot read /x.pem: No such file",
// "/x.pem: no certificate found", "/k.pem: not a PEM private key").
struct load_error {
    std::string message;
};
// Every certificate in a PEM file, in file order. Error if none.
std::optional<std::vector<ossl::ptr<X509>>> load_cert_chain(const std::string& path, load_error& err);
// The single private key in a PEM file (unencrypted).
ossl::ptr<EVP_PKEY> load_private_key(const std::string& path, load_error& err);
// A store holding every certificate in a PEM bundle as a trust anchor.
ossl::ptr<X509_STORE> load_trust_store(const std::string& path, load_error& err);

}  // namespace atsgate::tls
