#pragma once
// The ACME account key and JSON Web Signature over it (RFC 8555 6.2, RFC 7515 flattened JSON
// serialization): ES256 for ECDSA P-256 keys (the default), RS256 for RSA keys (2048 bits and up).
// Also key generation, PEM in and out, and the JWK with its thumbprint (RFC 7638), which the key
// authorizations of every challenge are built from. Pure computation over OpenSSL; thread-safe for
// concurrent const use.

#include "tls/ossl.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace atsgate::acme {

// Key algorithms for account and certificate keys (config: key_type).
enum class key_type {
    ecdsa_p256,  // "ecdsa-p256": ES256 / ECDSA P-256 certificates (preferred by Apple clients)
    rsa_2048,    // "rsa-2048": RS256 / RSA 2048 certificates (for old clients; one entry each)
};
std::string_view to_string(key_type t) noexcept;                  // "ecdsa-p256", "rsa-2048"
std::optional<key_type> parse_key_type(std::string_view s) noexcept;

// A fresh key; null only if OpenSSL fails (`err` then says why).
ossl::ptr<EVP_PKEY> generate_key(key_type t, std::string& err);
// Unencrypted PKCS#8 PEM of a private key ("" on failure, with `err`).
std::string private_key_pem(EVP_PKEY& key, std::string& err);
// Reads one unencrypted PEM private key (PKCS#8 or traditional); null with `err` on failure.
ossl::ptr<EVP_PKEY> read_private_key_pem(std::string_view pem, std::string& err);

class account_key {
public:
    // Wraps `key` (ECDSA P-256 or RSA >= 2048); nullopt with `err` for any other key.
    static std::optional<account_key> from_key(ossl::ptr<EVP_PKEY>&& key, std::string& err);

    const std::string& alg() const noexcept { return alg_; }  // "ES256" or "RS256"
    // The public JWK as canonical JSON (RFC 7638 3.2: required members only, lexicographic order,
    // no whitespace): {"crv":"P-256","kty":"EC","x":"..","y":".."} or {"e":"..","kty":"RSA","n":".."}.
    const std::string& jwk() const noexcept { return jwk_; }
    // base64url(SHA-256(jwk())), RFC 7638.
    const std::string& thumbprint() const noexcept { return thumbprint_; }
    EVP_PKEY& key() const noexcept { return *key_; }

    // A JWS in flattened JSON serialization (RFC 7515 7.2.2) as ACME wants it (RFC 8555 6.2):
    // protected header {"alg","nonce","url"} plus "kid" when `kid` is non-empty, else "jwk";
    // `payload` is the JSON text, or "" for POST-as-GET. "" on signing failure (`err` says why).
    std::string sign(std::string_view url, std::string_view nonce, std::string_view kid, std::string_view payload,
                     std::string& err) const;

    // Raw JWS signature over `data`: ES256 gives R || S, 32 bytes each (RFC 7518 3.4, not DER);
    // RS256 gives the PKCS#1 v1.5 signature. "" on failure with `err`.
    std::string signature(std::string_view data, std::string& err) const;

private:
    account_key() = default;
    ossl::ptr<EVP_PKEY> key_;
    std::string alg_;
    std::string jwk_;
    std::string thumbprint_;
};

// SHA-256 of `data` (32 raw bytes).
std::string sha256(std::string_view data);

}  // namespace atsgate::acme
