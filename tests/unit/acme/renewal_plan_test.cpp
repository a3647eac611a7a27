// The renewal schedule, table-driven: no certificate, two thirds, ARI windows (inside, passed,
// beyond expiry, malformed), backoff after failures, Retry-After, overdue.

#include "proxy/acme/renewal_plan.hpp"

#include <catch2/catch.hpp>

using namespace atsgate::acme;

namespace {
constexpr std::int64_t day = 86400;
constexpr std::int64_t nb = 1'800'000'000;        // notBefore of the served certificate
constexpr std::int64_t na = nb + 90 * day - 1;     // 90 days
constexpr std::int64_t due23 = nb + 60 * day;      // two thirds

struct row {
    const char* label;
    renewal_inputs in;
    std::int64_t now;
    double jitter;
    std::int64_t at;
    renewal_reason reason;
    bool overdue;
};

renewal_inputs cert() {
    renewal_inputs in;
    in.not_before = nb;
    in.not_after = na;
    return in;
}
renewal_inputs with(renewal_inputs in, auto&& f) {
    f(in);
    return in;
}
}  // namespace

TEST_CASE("renewal plan", "[acme][renewal]") {
    const row table[] = {
        {"no certificate: now", renewal_inputs{}, nb, 0.0, nb, renewal_reason::no_certificate, false},
        {"no certificate, one failure: 30-60 s later", with(renewal_inputs{}, [](auto& i) { i.failures = 1; i.last_failure = nb; }),
         nb + 5, 0.0, nb + 30, renewal_reason::backoff, true},
        {"no certificate, three failures, jitter 1: 4 min", with(renewal_inputs{}, [](auto& i) { i.failures = 3; i.last_failure = nb; }),
         nb, 1.0, nb + 240, renewal_reason::backoff, true},
        {"no certificate, Retry-After longer than the backoff",
         with(renewal_inputs{}, [](auto& i) { i.failures = 1; i.last_failure = nb; i.retry_after = 7200; }), nb, 0.0,
         nb + 7200, renewal_reason::backoff, true},
        {"fresh certificate: two thirds", cert(), nb + day, 0.5, due23, renewal_reason::two_thirds, false},
        {"two thirds passed: now", cert(), due23 + 10, 0.5, due23 + 10, renewal_reason::two_thirds, false},
        {"expired: now", cert(), na + 1, 0.5, na + 1, renewal_reason::expired, false},
        {"ARI window inside the lifetime", with(cert(), [](auto& i) { i.ari = ari_window{nb + 40 * day, nb + 42 * day}; i.ari_draw = 0.5; }),
         nb + day, 0.5, nb + 41 * day, renewal_reason::ari_window, false},
        {"ARI window passed (revocation): now",
         with(cert(), [](auto& i) { i.ari = ari_window{nb + 2 * day, nb + 3 * day}; }), nb + 5 * day, 0.5, nb + 5 * day,
         renewal_reason::ari_window, false},
        {"ARI window beyond expiry: ignored",
         with(cert(), [](auto& i) { i.ari = ari_window{nb + 80 * day, na + 10 * day}; }), nb + day, 0.5, due23,
         renewal_reason::two_thirds, false},
        {"ARI window malformed: ignored", with(cert(), [](auto& i) { i.ari = ari_window{nb + 50 * day, nb + 50 * day}; }),
         nb + day, 0.5, due23, renewal_reason::two_thirds, false},
        {"failure before due: not overdue, due time wins",
         with(cert(), [](auto& i) { i.failures = 2; i.last_failure = nb + day; }), nb + day, 0.0, due23,
         renewal_reason::two_thirds, false},
        {"failing after due: overdue, backoff",
         with(cert(), [](auto& i) { i.failures = 4; i.last_failure = due23 + 100; }), due23 + 100, 0.0, due23 + 100 + 240,
         renewal_reason::backoff, true},
        {"many failures: capped at 1 h", with(cert(), [](auto& i) { i.failures = 30; i.last_failure = due23 + 100; }),
         due23 + 100, 1.0, due23 + 100 + 3600, renewal_reason::backoff, true},
    };
    for (const auto& r : table) {
        INFO(r.label);
        auto p = plan_renewal(r.in, r.now, r.jitter);
        CHECK(p.at == r.at);
        CHECK(p.reason == r.reason);
        CHECK(p.overdue == r.overdue);
    }
}
