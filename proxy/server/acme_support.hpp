#pragma once
// How the ACME certificates join the snapshot: stored (approved) certificates are substituted for
// the acme = true entries before a build, pending ones leave their names refused, the challenge
// board answers TLS-ALPN-01 and HTTP-01 through the snapshot, and every certificate — issued now,
// stored earlier, or adopted from another replica — is audited exactly as it will be served before
// it is used. Shared by `run` (start-up), reloads, the ACME task's rebuilds and `check`.
// Control thread only.

#include "proxy/acme/manager.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace atsgate::server {

// Lets the snapshots of `state` answer challenges from `board` (TLS-ALPN-01 certificates on the
// https listeners with ACME certificates, HTTP-01 on the plaintext ones).
void attach_challenges(snapshot::shared_state& state, const std::shared_ptr<acme::challenge_board>& board);

// Builds `cfg` with the approved ACME certificates substituted. A stored certificate that fails
// the audit (it would be served as it is) is rejected (never served, ordered anew) and the build
// repeated without it; `rejected` receives one line per such certificate. `m` may be null (no
// [acme]).
snapshot::build_result build_with_acme(config::config cfg, acme::manager* m, snapshot::shared_state& state,
                                       std::int64_t now, std::uint64_t generation,
                                       std::vector<std::string>* rejected = nullptr);

// The audit findings that keep `candidate` (a key + chain PEM file) from being served as ACME
// certificate `id` in `cfg` (substituted as build_with_acme does): every FAIL and UNKNOWN of the
// entries served from it, as "cert.lifetime FAIL: lifetime 1826 days ...", or the build errors.
// Empty: it may be served.
std::vector<std::string> audit_candidate(const config::config& cfg, const acme::manager& m, const std::string& id,
                                         const std::string& candidate, snapshot::shared_state& state, std::int64_t now);

// The full audit of `candidate` served as ACME certificate `id`: the findings of its entries, under
// the endpoint name "acme:<id>" (for `atsgate check`, which reports refused certificates).
tls::report audit_report(const config::config& cfg, const acme::manager& m, const std::string& id,
                         const std::string& candidate, snapshot::shared_state& state, std::int64_t now);

// The endpoint names the audit gives the entries served from ACME certificate `id` in `cfg`.
std::vector<std::string> endpoints_of(const config::config& cfg, const std::string& id);

}  // namespace atsgate::server
