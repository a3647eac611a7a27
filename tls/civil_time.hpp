#pragma once
// Proleptic Gregorian calendar arithmetic (H. Hinnant's civil_from_days), to print UTC dates without
// the C library's time-zone state: certificate validity in the audit, <date> values in plists.

#include <cstdint>

namespace atsgate::tls {

struct civil_date {
    std::int64_t year;
    int month;  // 1..12
    int day;    // 1..31
};

// The date `days` days after 1970-01-01 (before it when negative).
constexpr civil_date civil_from_days(std::int64_t days) noexcept {
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// Days from 1970-01-01 to the given date (negative before it); the inverse of civil_from_days.
constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// Unix seconds of midnight UTC starting the given date.
constexpr std::int64_t unix_from_civil(std::int64_t y, int m, int d) noexcept { return days_from_civil(y, m, d) * 86400; }

static_assert(days_from_civil(1970, 1, 1) == 0 && days_from_civil(2000, 2, 29) == 11016 && days_from_civil(1969, 12, 31) == -1);
static_assert(unix_from_civil(2019, 7, 1) == 1561939200 && unix_from_civil(2020, 9, 1) == 1598918400);
static_assert(civil_from_days(0).year == 1970 && civil_from_days(0).month == 1 && civil_from_days(0).day == 1);
static_assert(civil_from_days(11016).year == 2000 && civil_from_days(11016).month == 2 && civil_from_days(11016).day == 29);
static_assert(civil_from_days(-1).year == 1969 && civil_from_days(-1).month == 12 && civil_from_days(-1).day == 31);

}  // namespace atsgate::tls
