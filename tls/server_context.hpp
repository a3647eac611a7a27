#pragma once
// Builds a listener's server SSL_CTX from validated config, enforcing the ATS policy by
// construction, and gathers the facts the self-audit judges (from the context that will really
// serve, not from the TOML).

#include "config/config.hpp"
#include "config/diagnostic.hpp"
#include "tls/audit.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/ossl.hpp"
#include "tls/ticket_keys.hpp"

#include <optional>
#include <string>
#include <vector>

namespace atsgate::tls {

// A built server context. Immutable once built: handshakes only read it.
struct server_context {
    // The context SSL_new() uses: certificate group 0 (the listener's default certificates), with
    // the ClientHello gate installed. Other groups' contexts are owned by the gate (selected by SNI).
    ossl::ptr<SSL_CTX> ctx;
    std::string key_description;  // "EC P-256", "EC P-256 + RSA 2048": default group, for logs
};

struct listener_tls {
    // Set when every context was fully built (certificates and keys accepted by OpenSSL).
    std::optional<server_context> context;
    // Audit facts, one endpoint per configured certificate (in config order) except pending ACME
    // ones, filled as far as possible even when the context could not be built.
    std::vector<endpoint_facts> facts;
    // Names of ACME certificates not issued yet (refused with certificate_pending meanwhile).
    std::vector<std::string> pending_names;
};

// What the ACME layer adds to a listener: its certificates with acme = true arrive with cert and
// key set to the stored file (key and chain in one PEM file) once one has been issued and audited;
// until then cert is empty and the entry is pending. `challenges` answers TLS-ALPN-01 (null: the
// listener does not).
struct listener_acme {
    std::shared_ptr<const acme_challenges> challenges;
};

// For listener `l`: resolves suite and
// group names against tls::suites / tls::groups, loads every certificate, key and the trust store,
// groups certificates by the names they serve (one ECDSA and one RSA certificate may share names),
// builds one SSL_CTX per group (TLS 1.2-1.3 only, the configured ECDHE/TLS 1.3 suites, groups,
// SHA-256+ signature algorithms, no compression, no renegotiation, client authentication as
// configured, the chain served exactly as given) and installs the ClientHello gate (EMS, SNI
// selection) on the default one; then gathers context and chain facts.
// Configuration mistakes (unknown or non-forward-secret suite, unparsable PEM, a name served by two
// certificates) are appended to `diags` as errors with the config position. OpenSSL refusing a
// certificate (e.g. "ee key too small") is not a config error: it lands in that certificate's
// facts.context_error and the audit FAILs the matching rule. Drains the OpenSSL error queue.
// Thread-safe.
// `tickets`: the listener's session ticket keys (installed on every context), or null for none
// (session_tickets = false).
// Diagnostics point at the file through the positions and key paths `l` carries (config::origin_of).
listener_tls build_listener_tls(const config::listener& l, config::diagnostics& diags, ticket_keys* tickets = nullptr,
                                const listener_acme* acme = nullptr);

// Reads version range, enabled suites, options and the EMS gate from a live context.
context_facts inspect_context(const SSL_CTX& ctx);

}  // namespace atsgate::tls
