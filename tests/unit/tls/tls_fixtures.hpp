#pragma once
// Shared fixtures for the tls unit tests: a fixed clock, a process-wide test PKI, and builders for
// endpoint facts from generated certificates (facts gathered with the real inspect_chain).

#include "tests/support/cert_factory.hpp"
#include "tls/audit.hpp"
#include "tls/cert_facts.hpp"

#include <string>
#include <vector>

namespace atsgate::tls::testing {

// 2026-01-01T00:00:00Z. Certificates are generated relative to it and the audit judges against it,
// so results never depend on the wall clock.
inline constexpr std::int64_t fixed_now = 1767225600;
inline constexpr std::int64_t day = 86400;
inline const std::string host = "mdm.example.test";

// root (EC P-256) -> intermediate (EC P-256), built once per process.
struct pki {
    test::cert_factory factory{fixed_now};
    test::test_cert root = factory.root_ca();
    test::test_cert inter = factory.intermediate(root);

    static const pki& get() {
        static const pki instance;
        return instance;
    }
};

// The facts of a TLS context built from the default, compliant settings.
inline context_facts compliant_context() {
    context_facts c;
    c.min_version = TLS1_2_VERSION;
    c.max_version = 0;
    c.tls12_suites = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256",
                      "ECDHE-RSA-AES256-GCM-SHA384"};
    c.tls13_suites = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"};
    c.ems_gate = true;
    return c;
}

// Endpoint facts for `served` (leaf first) verified against `roots`, with `key` as the configured
// private key (null: probe-like, no key) and `hostname` as server_name ("" = none).
inline endpoint_facts endpoint_for(const std::vector<const test::test_cert*>& served,
                                   const std::vector<const test::test_cert*>& roots, EVP_PKEY* key,
                                   const std::string& hostname = host) {
    auto store = test::store_of(roots);
    verify_inputs in;
    in.trust = store.get();
    in.hostname = hostname;
    in.key = key;
    in.check_public_trust = false;
    endpoint_facts ep;
    ep.name = "mdm";
    ep.address = "0.0.0.0:8443";
    ep.server_name = hostname;
    ep.cert_path = "/etc/atsgate/mdm.pem";
    ep.key_path = key != nullptr ? "/etc/atsgate/mdm.key" : "";
    ep.trust_path = "/etc/atsgate/devices-root.pem";
    ep.context = compliant_context();
    ep.chain = inspect_chain(test::chain_of(served), in);
    return ep;
}

// The usual shape: leaf + intermediate served, private root trusted, leaf's own key configured.
inline endpoint_facts endpoint_for_leaf(const test::test_cert& leaf, const std::string& hostname = host) {
    const auto& p = pki::get();
    return endpoint_for({&leaf, &p.inter}, {&p.root}, leaf.key.get(), hostname);
}

// Findings of one rule, pointing into `r` (so `r` must outlive them; temporaries are refused).
inline std::vector<const finding*> findings_of(const report& r, rule_id id) {
    std::vector<const finding*> out;
    for (const auto& f : r.findings)
        if (f.rule == id) out.push_back(&f);
    return out;
}
std::vector<const finding*> findings_of(report&& r, rule_id id) = delete;

// Audits one endpoint and returns copies of the findings of one rule.
inline std::vector<finding> audit_rule(const endpoint_facts& ep, rule_id id) {
    std::vector<finding> out;
    for (auto& f : audit({ep}, fixed_now).findings)
        if (f.rule == id) out.push_back(std::move(f));
    return out;
}

}  // namespace atsgate::tls::testing
