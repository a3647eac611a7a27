// The dashboard's per-minute series: increases land in the minute they were sampled in, the window
// slides, old minutes are forgotten, counters that restart and clocks that go back are handled.

#include "proxy/server/minute_series.hpp"

#include <catch2/catch.hpp>

#include <vector>

using atsgate::server::minute_series;

namespace {

void sample(minute_series& s, std::int64_t t, std::vector<std::uint64_t> totals) { s.sample(t, totals); }

std::uint64_t at(const std::vector<minute_series::row>& rows, std::int64_t minute_start, std::size_t col) {
    for (const auto& r : rows)
        if (r.minute == minute_start) return r.values.at(col);
    FAIL("minute " << minute_start << " not in the window");
    return 0;
}

}  // namespace

TEST_CASE("minute_series: increases per minute", "[minute_series]") {
    minute_series s(2);
    const std::int64_t t0 = 6000;  // a minute boundary (100 * 60)
    sample(s, t0 + 5, {3, 1});
    sample(s, t0 + 50, {7, 1});
    sample(s, t0 + 65, {8, 4});
    const auto rows = s.last_hour(t0 + 70);
    REQUIRE(rows.size() == minute_series::minutes);
    CHECK(rows.back().minute == t0 + 60);
    CHECK(rows.front().minute == t0 + 60 - 59 * 60);
    CHECK(at(rows, t0, 0) == 7);
    CHECK(at(rows, t0, 1) == 1);
    CHECK(at(rows, t0 + 60, 0) == 1);
    CHECK(at(rows, t0 + 60, 1) == 3);
    CHECK(at(rows, t0 - 60, 0) == 0);
}

TEST_CASE("minute_series: an hour later the old minutes are gone", "[minute_series]") {
    minute_series s(1);
    sample(s, 6000, {5});
    sample(s, 6000 + 3600, {9});  // same ring slot, an hour later
    const auto rows = s.last_hour(6000 + 3600);
    CHECK(rows.front().minute == 6000 + 60);
    CHECK(at(rows, 6000 + 3600, 0) == 4);
    std::uint64_t total = 0;
    for (const auto& r : rows) total += r.values[0];
    CHECK(total == 4);
    // Reading far in the future shows an empty hour.
    for (const auto& r : s.last_hour(6000 + 3 * 3600)) CHECK(r.values[0] == 0);
}

TEST_CASE("minute_series: a counter that restarts adds nothing and becomes the baseline", "[minute_series]") {
    minute_series s(1);
    sample(s, 6000, {10});
    sample(s, 6010, {2});
    sample(s, 6020, {5});
    CHECK(at(s.last_hour(6020), 6000, 0) == 13);
}

TEST_CASE("minute_series: a clock that goes back adds to the newest minute", "[minute_series]") {
    minute_series s(1);
    sample(s, 6120, {1});
    sample(s, 6000, {4});
    const auto rows = s.last_hour(6000);
    CHECK(rows.back().minute == 6120);
    CHECK(at(rows, 6120, 0) == 4);
    CHECK(at(rows, 6000, 0) == 0);
}

TEST_CASE("minute_series: short and long sample vectors", "[minute_series]") {
    minute_series s(3);
    sample(s, 6000, {1});
    sample(s, 6001, {2, 5, 6, 99});
    const auto rows = s.last_hour(6001);
    CHECK(at(rows, 6000, 0) == 2);
    CHECK(at(rows, 6000, 1) == 5);
    CHECK(at(rows, 6000, 2) == 6);
}
