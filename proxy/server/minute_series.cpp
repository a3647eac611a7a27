#include "proxy/server/minute_series.hpp"

namespace atsgate::server {

namespace {

std::int64_t minute_of(std::int64_t t) noexcept { return t >= 0 ? t / 60 : (t - 59) / 60; }

}  // namespace

minute_series::minute_series(std::size_t columns)
    : columns_(columns), previous_(columns, 0), buckets_(minutes) {
    for (auto& b : buckets_) b.values.assign(columns_, 0);
}

minute_series::bucket& minute_series::bucket_for(std::int64_t minute) {
    if (newest_ >= 0 && minute < newest_) minute = newest_;  // the clock went back
    auto& b = buckets_[static_cast<std::size_t>(minute % static_cast<std::int64_t>(minutes))];
    if (b.minute != minute) {
        b.minute = minute;
        b.values.assign(columns_, 0);
    }
    newest_ = minute;
    return b;
}

void minute_series::sample(std::int64_t now, std::span<const std::uint64_t> totals) {
    bucket& b = bucket_for(std::max<std::int64_t>(0, minute_of(now)));
    const std::size_t n = std::min(columns_, totals.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (totals[i] >= previous_[i]) b.values[i] += totals[i] - previous_[i];
        previous_[i] = totals[i];
    }
}

std::vector<minute_series::row> minute_series::last_hour(std::int64_t now) const {
    const std::int64_t last = std::max(minute_of(now), newest_);
    std::vector<row> out;
    out.reserve(minutes);
    for (std::int64_t m = last - static_cast<std::int64_t>(minutes) + 1; m <= last; ++m) {
        row r;
        r.minute = m * 60;
        r.values.assign(columns_, 0);
        if (m >= 0) {
            const auto& b = buckets_[static_cast<std::size_t>(m % static_cast<std::int64_t>(minutes))];
            if (b.minute == m) r.values = b.values;
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace atsgate::server
