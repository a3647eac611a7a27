#pragma once
// The TLS client context atsgate uses toward an upstream's https:// members. This is the internal
// hop behind atsgate, not a device-facing one: ATS does not apply, and legacy backends may need TLS
// 1.0 or old suites, which the operator enables explicitly (tls_min_version, tls_ciphers).

#include "config/config.hpp"
#include "config/diagnostic.hpp"
#include "tls/ossl.hpp"

#include <cstddef>

namespace atsgate::tls {

// Builds the client SSL_CTX for upstream `u`. Errors (unreadable CA
// bundle, a cipher string OpenSSL refuses) are appended to `diags` with the config position and
// null is returned. Verification, when tls_verify is set: the chain against tls_ca (or the system
// store) and the name, which the connection sets per member (SSL_set1_host).
ossl::ptr<SSL_CTX> build_upstream_tls(const config::upstream& u, config::diagnostics& diags);

}  // namespace atsgate::tls
