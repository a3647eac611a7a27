// upstream::member_health: passive ejection (max_fails connect failures within fail_timeout eject
// a member for fail_timeout, nginx semantics), active checks (health_fall failures mark it down,
// health_rise successes up, with the state change reported), and usable() combining both. Time is
// explicit: every call takes a time point built from a fixed origin.

#include "proxy/upstream/health.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

using atsgate::upstream::member_health;
using namespace std::chrono_literals;
using clock_type = member_health::clock;

namespace {

// A fixed origin well away from the clock's epoch.
const clock_type::time_point t0 = clock_type::time_point{} + 24h;

}  // namespace

TEST_CASE("member_health: a new member is up, not ejected, without failures", "[upstream][health]") {
    member_health h("legacy/http://10.0.0.5:8080");
    CHECK(h.id() == "legacy/http://10.0.0.5:8080");
    CHECK(h.usable(t0));
    CHECK(h.active_up());
    CHECK_FALSE(h.ejected(t0));
    CHECK(h.passive_failures() == 0);
    CHECK(h.ejections() == 0);
}

TEST_CASE("member_health: passive ejection", "[upstream][health]") {
    // Each row: failures at the given offsets (max_fails, fail_timeout), then whether the member is
    // ejected right after the last one, and until when.
    struct row {
        const char* label;
        std::uint32_t max_fails;
        std::vector<clock_type::duration> failures;  // offsets from t0
        bool ejected;
        clock_type::duration until;  // first offset at which it is usable again (when ejected)
        std::uint64_t ejections;
    };
    const row rows[] = {
        {"3 failures within 10s eject for 10s from the third", 3, {0s, 1s, 2s}, true, 12s, 1},
        {"2 of 3 failures: still usable", 3, {0s, 1s}, false, 0s, 0},
        {"the window is inclusive: the third failure exactly 10s after the first", 3, {0s, 5s, 10s}, true, 20s, 1},
        {"a failure past the window starts a new one", 3, {0s, 5s, 10001ms}, false, 0s, 0},
        {"... which then fills up on its own", 3, {0s, 5s, 10001ms, 11s, 12s}, true, 22s, 1},
        {"max_fails 1: the first failure ejects", 1, {3s}, true, 13s, 1},
        {"max_fails 0: never ejected", 0, {0s, 1ms, 2ms, 3ms, 4ms, 5ms}, false, 0s, 0},
        {"after an ejection the count starts again", 2, {0s, 1s, 2s}, true, 11s, 1},
        {"two ejections", 2, {0s, 1s, 30s, 31s}, true, 41s, 2},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            member_health h("m");
            for (auto at : r.failures) h.report_failure(t0 + at, r.max_fails, 10s);
            const auto last = t0 + r.failures.back();
            CHECK(h.passive_failures() == r.failures.size());
            CHECK(h.ejections() == r.ejections);
            CHECK(h.ejected(last) == r.ejected);
            CHECK(h.usable(last) == !r.ejected);
            CHECK(h.active_up());  // passive failures never touch the active state
            if (r.ejected) {
                CHECK(h.ejected(t0 + r.until - 1ms));
                CHECK_FALSE(h.usable(t0 + r.until - 1ms));
                CHECK_FALSE(h.ejected(t0 + r.until));  // the ejection expires by itself
                CHECK(h.usable(t0 + r.until));
            }
        }
    }
}

TEST_CASE("member_health: a success clears the failure count", "[upstream][health]") {
    member_health h("m");
    h.report_failure(t0, 3, 10s);
    h.report_failure(t0 + 1s, 3, 10s);
    h.report_success();
    h.report_failure(t0 + 2s, 3, 10s);
    h.report_failure(t0 + 3s, 3, 10s);
    CHECK(h.usable(t0 + 3s));  // 2 since the success
    h.report_failure(t0 + 4s, 3, 10s);
    CHECK_FALSE(h.usable(t0 + 4s));
    CHECK(h.passive_failures() == 5);  // the total is never cleared
}

TEST_CASE("member_health: failures during an ejection do not extend it", "[upstream][health]") {
    member_health h("m");
    for (auto at : {0s, 1s, 2s}) h.report_failure(t0 + at, 3, 10s);
    REQUIRE(h.ejected(t0 + 2s));
    // In-flight connects that fail after the ejection count toward the next window only.
    h.report_failure(t0 + 5s, 3, 10s);
    h.report_failure(t0 + 6s, 3, 10s);
    CHECK(h.usable(t0 + 12s));
    CHECK(h.ejections() == 1);
}

TEST_CASE("member_health: active checks mark a member down and up", "[upstream][health]") {
    // Each row: check results in order with (rise, fall); the expected return of each record_check
    // (true = the member changed state) and the final state.
    struct row {
        const char* label;
        std::uint32_t rise, fall;
        std::vector<bool> checks;
        std::vector<bool> changed;
        bool up;
    };
    const row rows[] = {
        {"successes while up change nothing", 2, 3, {true, true, true}, {false, false, false}, true},
        {"fall = 3: down at the third consecutive failure", 2, 3, {false, false, false}, {false, false, true}, false},
        {"a success resets the failure streak", 2, 3, {false, false, true, false, false}, {false, false, false, false, false},
         true},
        {"failures while down change nothing", 2, 3, {false, false, false, false, false},
         {false, false, true, false, false}, false},
        {"rise = 2: up again at the second consecutive success", 2, 3, {false, false, false, true, true},
         {false, false, true, false, true}, true},
        {"a failure resets the success streak", 2, 3, {false, false, false, true, false, true, true},
         {false, false, true, false, false, false, true}, true},
        {"rise = fall = 1 flips on every change", 1, 1, {false, false, true, true, false},
         {true, false, true, false, true}, false},
        {"the streak counts again after a change", 2, 2, {false, false, true, true, false, false},
         {false, true, false, true, false, true}, false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            REQUIRE(r.checks.size() == r.changed.size());
            member_health h("m");
            bool up = true;
            for (std::size_t i = 0; i < r.checks.size(); ++i) {
                INFO("check " << i << (r.checks[i] ? " ok" : " failed"));
                const bool changed = h.record_check(r.checks[i], r.rise, r.fall);
                CHECK(changed == r.changed[i]);
                if (changed) up = !up;
                CHECK(h.active_up() == up);
                CHECK(h.usable(t0) == up);
            }
            CHECK(h.active_up() == r.up);
            CHECK(h.passive_failures() == 0);
            CHECK_FALSE(h.ejected(t0));
        }
    }
}

TEST_CASE("member_health: usable() needs both up and not ejected", "[upstream][health]") {
    struct row {
        const char* label;
        bool active_down;
        bool ejected;
        bool usable;
    };
    const row rows[] = {
        {"up, not ejected", false, false, true},
        {"up, ejected", false, true, false},
        {"down, not ejected", true, false, false},
        {"down and ejected", true, true, false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            member_health h("m");
            if (r.active_down) REQUIRE(h.record_check(false, 1, 1));
            if (r.ejected) h.report_failure(t0, 1, 10s);
            CHECK(h.usable(t0 + 1s) == r.usable);
            // Once the ejection is over, only the active state decides.
            CHECK(h.usable(t0 + 10s) == !r.active_down);
        }
    }
    SECTION("an active recovery does not end an ejection early") {
        member_health h("m");
        REQUIRE(h.record_check(false, 1, 1));
        h.report_failure(t0, 1, 10s);
        REQUIRE(h.record_check(true, 1, 1));
        CHECK(h.active_up());
        CHECK_FALSE(h.usable(t0 + 5s));
        CHECK(h.usable(t0 + 10s));
    }
}

TEST_CASE("member_health: readmit ends a passive ejection at once but not an active-check down",
          "[upstream][health]") {
    member_health h("legacy/http://10.0.0.5:8080");
    for (int i = 0; i < 3; ++i) h.report_failure(t0, 3, 10s);
    REQUIRE(h.ejected(t0 + 1s));
    h.readmit();
    CHECK_FALSE(h.ejected(t0 + 1s));
    CHECK(h.usable(t0 + 1s));
    // The failure window restarted: one more failure does not eject again.
    h.report_failure(t0 + 2s, 3, 10s);
    CHECK_FALSE(h.ejected(t0 + 2s));
    // Health checks decide about an actively-down member.
    REQUIRE(h.record_check(false, 1, 1));
    h.readmit();
    CHECK_FALSE(h.usable(t0 + 3s));
}
