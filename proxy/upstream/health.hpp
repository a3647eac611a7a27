#pragma once
// Health of one upstream member, shared by every worker (read on each pick) and by the control
// thread's active checker (writes). Lock-free: relaxed atomics. The passive-ejection bookkeeping
// is approximate under concurrent failures on several workers (two workers may both count the
// same window), which only makes ejection slightly earlier: acceptable for a health heuristic.
//
// States: up (usable) <-> down by active checks (health_fall failures / health_rise successes);
// independently, ejected for fail_timeout after max_fails connect failures within fail_timeout.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace atsgate::upstream {

class member_health {
public:
    using clock = std::chrono::steady_clock;

    explicit member_health(std::string id) : id_(std::move(id)) {}

    const std::string& id() const noexcept { return id_; }

    // Whether new requests may go to this member at `now`.
    bool usable(clock::time_point now) const noexcept {
        return active_up_.load(std::memory_order_relaxed) && ms(now) >= ejected_until_.load(std::memory_order_relaxed);
    }
    bool active_up() const noexcept { return active_up_.load(std::memory_order_relaxed); }
    bool ejected(clock::time_point now) const noexcept { return ms(now) < ejected_until_.load(std::memory_order_relaxed); }

    // Passive: a worker failed to connect (or send) to the member.
    void report_failure(clock::time_point now, std::uint32_t max_fails, clock::duration fail_timeout) noexcept {
        passive_failures_.fetch_add(1, std::memory_order_relaxed);
        if (max_fails == 0) return;
        const std::int64_t t = ms(now);
        const std::int64_t window = std::chrono::duration_cast<std::chrono::milliseconds>(fail_timeout).count();
        if (t - window_start_.load(std::memory_order_relaxed) > window) {
            window_start_.store(t, std::memory_order_relaxed);
            fails_.store(0, std::memory_order_relaxed);
        }
        if (fails_.fetch_add(1, std::memory_order_relaxed) + 1 >= max_fails) {
            ejected_until_.store(t + window, std::memory_order_relaxed);
            fails_.store(0, std::memory_order_relaxed);
            ejections_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    // Passive: a request went through; clears the failure window.
    void report_success() noexcept {
        if (fails_.load(std::memory_order_relaxed) != 0) fails_.store(0, std::memory_order_relaxed);
    }
    // Passive: a connect succeeded although the member was ejected (tried in panic mode): the
    // member is back, so the ejection ends now rather than at fail_timeout. Active-check state is
    // left to the checks.
    void readmit() noexcept {
        if (ejected_until_.load(std::memory_order_relaxed) != 0) ejected_until_.store(0, std::memory_order_relaxed);
        report_success();
    }

    // Active check result (control thread only). Returns true when the member changed state.
    bool record_check(bool ok, std::uint32_t rise, std::uint32_t fall) noexcept {
        if (ok) {
            consecutive_fail_ = 0;
            if (!active_up_.load(std::memory_order_relaxed) && ++consecutive_ok_ >= rise) {
                active_up_.store(true, std::memory_order_relaxed);
                consecutive_ok_ = 0;
                return true;
            }
        } else {
            consecutive_ok_ = 0;
            if (active_up_.load(std::memory_order_relaxed) && ++consecutive_fail_ >= fall) {
                active_up_.store(false, std::memory_order_relaxed);
                consecutive_fail_ = 0;
                return true;
            }
        }
        return false;
    }

    std::uint64_t passive_failures() const noexcept { return passive_failures_.load(std::memory_order_relaxed); }
    std::uint64_t ejections() const noexcept { return ejections_.load(std::memory_order_relaxed); }

private:
    static std::int64_t ms(clock::time_point t) noexcept {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    }
    std::string id_;  // "upstream/url", for logs and /status
    std::atomic<bool> active_up_{true};  // members start up: traffic flows until checks say otherwise
    std::atomic<std::int64_t> ejected_until_{0};
    std::atomic<std::int64_t> window_start_{0};
    std::atomic<std::uint32_t> fails_{0};
    std::atomic<std::uint64_t> passive_failures_{0};
    std::atomic<std::uint64_t> ejections_{0};
    std::uint32_t consecutive_ok_ = 0;    // control thread only
    std::uint32_t consecutive_fail_ = 0;  // control thread only
};

}  // namespace atsgate::upstream
