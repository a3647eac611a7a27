#pragma once
// Challenge responses, as pure functions: the key authorization (RFC 8555 8.1), the HTTP-01
// resource (8.3) and the TLS-ALPN-01 validation certificate (RFC 8737 3). The listeners that
// answer them (https for TLS-ALPN-01, plaintext for HTTP-01) only look them up.

#include "tls/ossl.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atsgate::acme {

// "acme-tls/1", the ALPN protocol of TLS-ALPN-01 (RFC 8737 6.2), and its wire form.
inline constexpr std::string_view alpn_protocol = "acme-tls/1";
// id-pe-acmeIdentifier (RFC 8737 6.1).
inline constexpr const char* acme_identifier_oid = "1.3.6.1.5.5.7.1.31";

// token "." thumbprint (RFC 8555 8.1). The token comes from the CA: check is_base64url() first.
std::string key_authorization(std::string_view token, std::string_view thumbprint);

// "/.well-known/acme-challenge/" + token (RFC 8555 8.3).
std::string http01_path(std::string_view token);
inline constexpr std::string_view http01_prefix = "/.well-known/acme-challenge/";

// The self-signed TLS-ALPN-01 validation certificate for `domain` (RFC 8737 3): a fresh ECDSA
// P-256 key, subjectAltName = dNSName `domain` only, and the critical id-pe-acmeIdentifier
// extension whose value is the DER OCTET STRING of SHA-256(key_authorization). Valid from an hour
// before `now` for seven days (validators ignore validity; the CA contacts us within minutes).
struct challenge_certificate {
    ossl::ptr<X509> cert;
    ossl::ptr<EVP_PKEY> key;
};
std::optional<challenge_certificate> tls_alpn01_certificate(std::string_view domain, std::string_view key_authorization,
                                                            std::int64_t now, std::string& err);

// The 32-byte digest inside a certificate's id-pe-acmeIdentifier extension, and whether that
// extension is critical; nullopt when absent or malformed. For tests and self-checks.
struct acme_identifier {
    std::string digest;
    bool critical = false;
};
std::optional<acme_identifier> read_acme_identifier(X509& cert);

}  // namespace atsgate::acme
