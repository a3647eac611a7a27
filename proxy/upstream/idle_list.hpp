#pragma once
// Sans-io bookkeeping of one upstream's idle keep-alive connections on one worker: which idle
// connection to lend next, which are too old, which to evict. No I/O and no clock: `now` is a
// parameter, so every transition is unit-tested (tests/unit/upstream).
//
// Policy: LIFO (the most recently returned connection is the warmest and least likely to have been
// closed by the backend's own keep-alive timer); a connection idle for longer than `max_age` is
// never lent; when full, returning a connection evicts the oldest idle one.
//
// States of an entry: idle (in the list) -> lent (take) -> idle (put) | closed (discarded).

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

namespace atsgate::upstream {

template <typename Conn>
class idle_list {
public:
    using clock = std::chrono::steady_clock;

    // capacity 0: nothing is ever kept (every put() hands the connection back for closing).
    idle_list(std::size_t capacity, clock::duration max_age) : capacity_(capacity), max_age_(max_age) {}

    // Lends the newest idle connection that is younger than max_age. Older ones are removed and
    // passed to `discard(Conn&&)` (the caller closes them). nullopt when none is usable.
    template <typename Discard>
    std::optional<Conn> take(clock::time_point now, Discard&& discard) {
        drop_expired(now, discard);
        if (idle_.empty()) return std::nullopt;
        Conn c = std::move(idle_.back().conn);
        idle_.pop_back();
        return c;
    }

    // Returns a reusable connection. Returns the connection to close instead, if any: the evicted
    // oldest one when the list is full, or `c` itself when capacity is 0.
    std::optional<Conn> put(Conn c, clock::time_point now) {
        if (capacity_ == 0) return std::optional<Conn>(std::move(c));
        std::optional<Conn> evicted;
        if (idle_.size() >= capacity_) {
            evicted.emplace(std::move(idle_.front().conn));
            idle_.pop_front();
        }
        idle_.push_back(entry{std::move(c), now});
        return evicted;
    }

    // Removes every idle connection older than max_age, passing each to discard.
    template <typename Discard>
    void drop_expired(clock::time_point now, Discard&& discard) {
        while (!idle_.empty() && now - idle_.front().since >= max_age_) {
            discard(std::move(idle_.front().conn));
            idle_.pop_front();
        }
    }

    // Removes every idle connection (drain, shutdown).
    template <typename Discard>
    void clear(Discard&& discard) {
        while (!idle_.empty()) {
            discard(std::move(idle_.front().conn));
            idle_.pop_front();
        }
    }

    std::size_t size() const noexcept { return idle_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }

private:
    struct entry {
        Conn conn;
        clock::time_point since;  // when it became idle
    };
    std::size_t capacity_;
    clock::duration max_age_;
    std::deque<entry> idle_;  // oldest at front, newest at back
};

}  // namespace atsgate::upstream
