#pragma once
// Per-minute increases of a fixed set of cumulative counters over the last hour: the data behind
// the dashboard's chart. The control thread samples the workers' totals every few seconds
// (sample()); each sample's increase since the previous one is added to the bucket of the minute
// the sample was taken in, so a minute's count is exact to within one sampling interval.
// Pure (no clock inside: `now` is a parameter). Not thread-safe: control thread only.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace atsgate::server {

class minute_series {
public:
    static constexpr std::size_t minutes = 60;  // buckets kept (one hour)

    // `columns` counters per sample; every previous total starts at 0 (the counters' value at start).
    explicit minute_series(std::size_t columns);

    std::size_t columns() const noexcept { return columns_; }

    // Adds totals[i] - (previous totals[i]) to column i of the bucket of minute floor(now / 60).
    // `totals` must have columns() entries (extra ones are ignored, missing ones count as
    // unchanged). A total below the previous one (a counter that restarted) adds nothing and becomes
    // the new baseline. A clock that went back adds to the newest bucket instead of an older one.
    void sample(std::int64_t now, std::span<const std::uint64_t> totals);

    struct row {
        std::int64_t minute = 0;            // unix seconds of the minute's start
        std::vector<std::uint64_t> values;  // columns() increases; zeros for minutes without data
    };
    // The `minutes` minutes up to and including now's, oldest first.
    std::vector<row> last_hour(std::int64_t now) const;

private:
    struct bucket {
        std::int64_t minute = -1;  // minute number (unix / 60) this bucket holds, -1 = empty
        std::vector<std::uint64_t> values;
    };
    bucket& bucket_for(std::int64_t minute);

    std::size_t columns_;
    std::vector<std::uint64_t> previous_;
    std::vector<bucket> buckets_;  // minutes entries, indexed by minute % minutes
    std::int64_t newest_ = -1;     // newest minute written
};

}  // namespace atsgate::server
