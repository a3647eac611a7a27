#pragma once
// When to order a managed certificate next: the renewal schedule as a pure function. Inputs are
// what is known about the certificate being served (its validity, the CA's ARI window) and about
// recent failures; the output is a time and the reason, which /status and the logs show.
//
//   no certificate yet             now, then backoff after failures
//   certificate, no ARI            two thirds into its lifetime (30 days before a 90-day one expires)
//   certificate, ARI window        a uniform random time inside the window (RFC 9773 4.2), drawn once
//                                  per window; a window ending after expiry is ignored (the CA's
//                                  advice cannot make us late)
//   after failures                 the later of the due time and the backoff (exponential with jitter,
//                                  and never before the CA's Retry-After)
//
// A certificate whose renewal is due and keeps failing is "overdue": that is what operators are
// warned about (log at warning, metric, /status), long before it expires.

#include "proxy/acme/timing.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace atsgate::acme {

struct renewal_inputs {
    std::optional<std::int64_t> not_before;  // the served certificate, if any (unix seconds)
    std::optional<std::int64_t> not_after;
    std::optional<ari_window> ari;           // the CA's suggested window, if it offers ARI
    double ari_draw = 0.5;                   // the uniform draw for this window, in [0, 1)
    unsigned failures = 0;                   // consecutive failed orders
    std::int64_t last_failure = 0;           // when the last one failed (unix seconds)
    std::int64_t retry_after = -1;           // the CA asked to wait this long after it (seconds), -1 none
    std::int64_t retry_base_ms = 60'000;     // backoff after the first failure: 30..60 s
    std::int64_t retry_cap_ms = 3'600'000;   // at most 1 h between attempts
};

enum class renewal_reason {
    no_certificate,  // nothing valid to serve: order now
    expired,         // the served certificate has expired: order now
    two_thirds,      // two thirds of the lifetime have passed
    ari_window,      // the CA's renewal window (RFC 9773)
    backoff,         // waiting after a failure
};
std::string_view to_string(renewal_reason r) noexcept;  // "no_certificate", "two_thirds", ...

struct renewal_plan {
    std::int64_t at = 0;         // unix seconds; <= now means "now"
    std::int64_t due = 0;        // when renewal became / becomes due, failures aside
    renewal_reason reason = renewal_reason::no_certificate;
    bool overdue = false;        // due has passed and the last attempt failed
};

renewal_plan plan_renewal(const renewal_inputs& in, std::int64_t now, double jitter) noexcept;

}  // namespace atsgate::acme
