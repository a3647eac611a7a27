#pragma once
// The self-audit: a pure function from facts (listener, live TLS context, certificate chain) and
// the policy table to a report with stable rule ids. No clock, no I/O, no OpenSSL calls: `now` is
// a parameter, and missing facts give `unknown`, never `pass`.
// Used by `run` (start-up and reload), `check`, and `probe` (remote facts).

#include "tls/cert_facts.hpp"
#include "tls/check.hpp"
#include "tls/policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::tls {

// Facts about the live server SSL_CTX (read from the context that will really serve).
struct context_facts {
    int min_version = 0;                     // e.g. TLS1_2_VERSION (0x0303); 0 = unset (all versions!)
    int max_version = 0;                     // 0 = unset (highest supported)
    std::vector<std::string> tls12_suites;   // OpenSSL names of enabled TLS 1.2-and-below suites
    std::vector<std::string> tls13_suites;   // OpenSSL names of enabled TLS 1.3 suites
    bool ems_gate = false;                   // atsgate's ClientHello EMS gate is installed
    bool report_only = false;                // the gate is in report mode (enforcement = "report")
    bool ems_disabled = false;               // SSL_OP_NO_EXTENDED_MASTER_SECRET is set
    bool compression_disabled = true;        // SSL_OP_NO_COMPRESSION
    bool renegotiation_disabled = true;      // SSL_OP_NO_RENEGOTIATION
};

// Everything known about one device-facing endpoint.
struct endpoint_facts {
    std::string name;         // listener name (or probe target)
    std::string address;      // "0.0.0.0:443"
    std::string server_name;  // configured name; "" if none
    std::string cert_path;    // for evidence/remediation text; "" for probe
    std::string key_path;
    std::string trust_path;   // "" = system store
    bool plaintext = false;   // the endpoint speaks plain HTTP (FAIL unless scep_exempt)
    bool scep_exempt = false; // plaintext endpoint that only forwards SCEP (reported as exempt)
    std::optional<context_facts> context;  // nullopt: the context could not be built
    std::string context_error;             // why it could not be built (OpenSSL reason)
    std::optional<chain_facts> chain;      // nullopt: certificates could not be loaded
    std::string chain_error;               // why not
    std::string kind = "listener";         // heading word in render_text: "listener", "probe", ...
};

// A check (tls/check.hpp: id = the policy rule code, e.g. "cert.key_strength"; result, subject,
// evidence, remediation) of one endpoint. The audit never reports `exempt`: a SCEP-only
// plaintext listener is `info`.
struct finding : check {
    std::string endpoint;  // endpoint_facts::name
    rule_id rule{};
};

struct report {
    std::vector<finding> findings;  // endpoint order, then rules table order, then chain order
    // The audited endpoints in order (kind, name, address), for render_text's block headings.
    // Findings whose endpoint is not listed here get a heading from their name alone.
    struct endpoint_heading {
        std::string kind;
        std::string name;
        std::string address;
    };
    std::vector<endpoint_heading> endpoints;
    // Endpoints whose TLS policy is in report mode (enforcement = "report"): their tls.* rules are
    // WARN "report-only: not enforcing TLS policy", and they are not compliant until switched to strict.
    std::vector<std::string> report_only;
    bool any(status s) const noexcept;
    std::size_t count(status s) const noexcept;
};

// Applies every rule in tls::rules to every endpoint. `now` is unix seconds (UTC).
report audit(const std::vector<endpoint_facts>& endpoints, std::int64_t now);

// Human-readable table, one block per endpoint, a summary line at the end. No colour.
std::string render_text(const report& r);
// Stable JSON schema (documented in README "Audit JSON"):
// {"version":1,"summary":{"pass":n,"info":n,"warn":n,"fail":n,"unknown":n},
//  "findings":[{"endpoint":..,"rule":"cert.key_strength","status":"fail","subject":..,
//               "evidence":..,"remediation":..,"ats_exception":..}]}
std::string render_json(const report& r);


}  // namespace atsgate::tls
