#pragma once
// When to act: renewal at two thirds of a certificate's lifetime or inside the CA's ACME Renewal
// Information window (RFC 9773), exponential backoff with jitter after failures, and the time
// formats ACME servers send (Retry-After, RFC 3339). Pure: `now` and the random draw are
// parameters, times are unix seconds (UTC) unless a name says milliseconds.

#include <cstdint>
#include <optional>
#include <string_view>

namespace atsgate::acme {

// notBefore + two thirds of the lifetime (RFC 5280 counting: notAfter - notBefore + 1 s). A 90-day
// certificate renews 30 days before it expires; a 6-day one, two days before.
std::int64_t renew_at_two_thirds(std::int64_t not_before, std::int64_t not_after) noexcept;

// The CA's suggested renewal window (RFC 9773 4.2), unix seconds.
struct ari_window {
    std::int64_t start = 0;
    std::int64_t end = 0;
};
// RFC 9773 4.2: a uniform random time in [start, end] (`u` in [0, 1)), or `now` when that time has
// passed. nullopt for a malformed window (end <= start): the client then decides on its own.
std::optional<std::int64_t> choose_in_window(const ari_window& w, std::int64_t now, double u) noexcept;

// Parses a renewalInfo response body {"suggestedWindow":{"start":RFC3339,"end":RFC3339},...}.
std::optional<ari_window> parse_renewal_info(std::string_view json);

// When to ask the renewalInfo endpoint again: its Retry-After clamped to [1 min, 24 h]
// (RFC 9773 4.3 leaves the bounds to the client), 6 h without one.
std::int64_t ari_poll_interval(std::optional<std::int64_t> retry_after_seconds) noexcept;

// Delay before attempt number `failures` + 1 after `failures` consecutive failures (>= 1):
// min(cap, base * 2^(failures-1)), of which a random half ("equal jitter": d/2 + u*d/2, u in [0, 1))
// so that replicas and retries spread out but never come back sooner than half the step.
// Milliseconds.
std::int64_t backoff_ms(unsigned failures, std::int64_t base_ms, std::int64_t cap_ms, double u) noexcept;

// Retry-After (RFC 9110 10.2.3): delta-seconds or an IMF-fixdate, as seconds from `now` (>= 0).
// nullopt when absent ("") or malformed.
std::optional<std::int64_t> parse_retry_after(std::string_view value, std::int64_t now) noexcept;

// RFC 3339 date-time ("2026-03-15T00:00:00Z", fractional seconds and numeric offsets accepted) as
// unix seconds (fraction dropped); nullopt if malformed.
std::optional<std::int64_t> parse_rfc3339(std::string_view s) noexcept;

}  // namespace atsgate::acme
