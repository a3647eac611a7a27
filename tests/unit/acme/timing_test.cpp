// Renewal timing, ARI window choice, backoff with jitter, Retry-After and RFC 3339: table-driven.

#include "proxy/acme/timing.hpp"
#include "tls/civil_time.hpp"

#include <catch2/catch.hpp>

using namespace atsgate::acme;
using atsgate::tls::unix_from_civil;

namespace {
constexpr std::int64_t day = 86400;
const std::int64_t t0 = unix_from_civil(2026, 12, 3);
}  // namespace

TEST_CASE("renewal at two thirds of the lifetime", "[acme][timing]") {
    // 90 days (Let's Encrypt shape: notAfter = notBefore + 90 d - 1 s): renew 30 days before expiry.
    CHECK(renew_at_two_thirds(t0, t0 + 90 * day - 1) == t0 + 60 * day);
    // 6 days: two days before.
    CHECK(renew_at_two_thirds(t0, t0 + 6 * day - 1) == t0 + 4 * day);
    // 47 days (SC-081 from 2029): 15.67 days before.
    CHECK(renew_at_two_thirds(t0, t0 + 47 * day - 1) == t0 + (47 * day) * 2 / 3);
    // Degenerate: a 3-second certificate renews after 2 s.
    CHECK(renew_at_two_thirds(t0, t0 + 2) == t0 + 2);
}

TEST_CASE("ARI: a uniform time in the window, now if it has passed", "[acme][timing][ari]") {
    const ari_window w{t0 + 10 * day, t0 + 12 * day};
    CHECK(choose_in_window(w, t0, 0.0) == t0 + 10 * day);
    CHECK(choose_in_window(w, t0, 0.5) == t0 + 11 * day);
    CHECK(choose_in_window(w, t0, 0.999999) < w.end);
    CHECK(choose_in_window(w, t0 + 11 * day, 0.0) == t0 + 11 * day);  // chosen time passed: now
    CHECK(choose_in_window(w, t0 + 20 * day, 0.7) == t0 + 20 * day);  // window passed: now
    CHECK_FALSE(choose_in_window({t0, t0}, t0, 0.5));                 // end <= start: malformed
    CHECK_FALSE(choose_in_window({t0 + 1, t0}, t0, 0.5));

    auto a = parse_renewal_info(R"({"suggestedWindow":{"start":"2026-12-13T00:00:00Z","end":"2026-12-15T00:00:00Z"},
                                    "explanationURL":"https://ca.test/why"})");
    REQUIRE(a);
    CHECK(a->start == t0 + 10 * day);
    CHECK(a->end == t0 + 12 * day);
    CHECK_FALSE(parse_renewal_info(R"({"suggestedWindow":{"start":"2026-12-15T00:00:00Z","end":"2026-12-13T00:00:00Z"}})"));
    CHECK_FALSE(parse_renewal_info(R"({"suggestedWindow":{"start":"yesterday","end":"2026-12-13T00:00:00Z"}})"));
    CHECK_FALSE(parse_renewal_info(R"({"suggestedWindow":{}})"));
    CHECK_FALSE(parse_renewal_info("[]"));
    CHECK_FALSE(parse_renewal_info("{"));

    CHECK(ari_poll_interval(std::nullopt) == 6 * 3600);
    CHECK(ari_poll_interval(5) == 60);
    CHECK(ari_poll_interval(7200) == 7200);
    CHECK(ari_poll_interval(10 * day) == day);
}

TEST_CASE("backoff: exponential, capped, equal jitter", "[acme][timing][backoff]") {
    struct row {
        unsigned failures;
        double u;
        std::int64_t expected;
    };
    const row table[] = {
        {0, 0.5, 0},                                          // no failure, no wait
        {1, 0.0, 30'000}, {1, 0.999, 59'970},                  // base 60 s: 30..60 s
        {2, 0.0, 60'000}, {3, 0.0, 120'000}, {4, 0.5, 360'000}, // doubling
        {10, 0.0, 1'800'000}, {10, 1.0, 3'600'000},            // capped at 1 h
        {1000, 0.0, 1'800'000},                               // no overflow
    };
    for (const auto& r : table) {
        INFO(r.failures << " " << r.u);
        CHECK(backoff_ms(r.failures, 60'000, 3'600'000, r.u) == r.expected);
    }
}

TEST_CASE("Retry-After: delta-seconds and IMF-fixdate", "[acme][timing]") {
    CHECK(parse_retry_after("120", t0) == 120);
    CHECK(parse_retry_after(" 0 ", t0) == 0);
    CHECK(parse_retry_after("Thu, 03 Dec 2026 00:01:00 GMT", t0) == 60);
    CHECK(parse_retry_after("Wed, 02 Dec 2026 00:00:00 GMT", t0) == 0);  // in the past: now
    CHECK_FALSE(parse_retry_after("", t0));
    CHECK_FALSE(parse_retry_after("-5", t0));
    CHECK_FALSE(parse_retry_after("12s", t0));
    CHECK_FALSE(parse_retry_after("99999999999999999999", t0));
    CHECK_FALSE(parse_retry_after("Thu, 03 Foo 2026 00:01:00 GMT", t0));
    CHECK_FALSE(parse_retry_after("Thu, 31 Feb 2026 00:01:00 GMT", t0));
}

TEST_CASE("RFC 3339 timestamps", "[acme][timing]") {
    CHECK(parse_rfc3339("2026-12-03T00:00:00Z") == t0);
    CHECK(parse_rfc3339("2026-12-03T00:00:00.123456789Z") == t0);
    CHECK(parse_rfc3339("2026-12-03T01:00:00+01:00") == t0);
    CHECK(parse_rfc3339("2026-12-02T23:00:00-01:00") == t0);
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z") == unix_from_civil(2024, 2, 29));
    CHECK_FALSE(parse_rfc3339("2026-02-29T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-12-03"));
    CHECK_FALSE(parse_rfc3339("2026-12-03T00:00:00"));
    CHECK_FALSE(parse_rfc3339("2026-12-03T00:00:00Zjunk"));
    CHECK_FALSE(parse_rfc3339("2026-13-03T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-12-03T24:00:00Z"));
}
