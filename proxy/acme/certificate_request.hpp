#pragma once
// What ACME needs to do with certificates: the CSR for finalize (RFC 8555 7.4), the PEM chain the CA
// returns (7.4.2), and the ARI certificate identifier (RFC 9773 4.1). Pure computation over OpenSSL.

#include "tls/ossl.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::acme {

// DER PKCS#10 request signed with SHA-256 by `key`: subject CN = names[0] (when it fits the 64
// characters X.520 allows; CAs ignore it), subjectAltName = every name as dNSName, nothing else
// (the CA decides EKU and lifetime). `names` must be non-empty. "" with `err` on failure.
std::string make_csr_der(EVP_PKEY& key, const std::vector<std::string>& names, std::string& err);

// Every certificate of a PEM text, in order (leaf first for an ACME chain). Empty with `err` when
// there is none or one is malformed.
std::vector<ossl::ptr<X509>> parse_pem_chain(std::string_view pem, std::string& err);

// The chain a CA returned for an order (RFC 8555 7.4.2, 9.1), checked before anything else looks
// at it: nothing but CERTIFICATE PEM blocks (no explanatory text, no headers, no other block such
// as a private key) with whitespace between them, at most 10, each one DER certificate and
// nothing more; the leaf's subjectAltName holds exactly `names` (dNSNames, case-insensitive, no
// other name of any kind) and its public key is `key`'s. Returns the chain re-encoded by OpenSSL
// (the CA's own bytes are never stored or served); "" with `err` saying what is wrong.
std::string verify_issued_chain(std::string_view pem, const std::vector<std::string>& names, EVP_PKEY& key,
                                std::string& err);

// RFC 9773 4.1: base64url(authorityKeyIdentifier.keyIdentifier) "." base64url(serial number DER
// content octets). nullopt when the certificate has no AKI key identifier.
std::optional<std::string> ari_cert_id(X509& cert);

// notBefore / notAfter as unix seconds; nullopt if unreadable.
std::optional<std::pair<std::int64_t, std::int64_t>> validity_of(X509& cert);

// The dNSName entries of the certificate's subjectAltName, lower case, in certificate order.
std::vector<std::string> dns_names_of(X509& cert);

}  // namespace atsgate::acme
