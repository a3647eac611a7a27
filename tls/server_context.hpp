#pragma once
// Builds a listener's server SSL_CTX from validated config, enforcing the ATS policy by
// construction, and gathers the facts the self-audit judges (from the context that will really
// serve, not from the TOML).

#include "config/config.hpp"
#include "config/diagnostic.hpp"
#include "tls/audit.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/ossl.hpp"

#include <optional>
#include <string>

namespace atsgate::tls {

// A built server context. Immutable once built: handshakes only read it.
struct server_context {
    ossl::ptr<SSL_CTX> ctx;
    std::string key_description;  // "EC P-256", for logs
};

struct listener_tls {
    // Set when the context was fully built (certificate and key accepted by OpenSSL).
    std::optional<server_context> context;
    // Audit facts: filled as far as possible even when the context could not be built.
    endpoint_facts facts;
};

// For listener `l` (its index `index` in config::listeners, for key paths): resolves suite and
// group names against tls::suites / tls::groups, loads cert, key and trust, builds the SSL_CTX
// (TLS 1.2-1.3 only, the configured ECDHE/TLS 1.3 suites, groups, SHA-256+ signature algorithms,
// no compression, no renegotiation, EMS gate, no automatic chain building: the chain is served
// exactly as given), and gathers context and chain facts.
// Configuration mistakes (unknown or non-forward-secret suite, unparsable PEM) are appended to
// `diags` as errors with the config position. OpenSSL refusing the certificate (e.g. "ee key too
// small") is not a config error: it lands in facts.context_error and the audit FAILs the matching
// rule. Drains the OpenSSL error queue. Thread-safe.
listener_tls build_listener_tls(const config::listener& l, std::size_t index, config::diagnostics& diags);

// Reads version range, enabled suites, options and the EMS gate from a live context.
context_facts inspect_context(const SSL_CTX& ctx);

}  // namespace atsgate::tls
