#pragma once
// Member choice inside one upstream: smooth weighted round robin (nginx's algorithm) over the
// members that are usable now. One balancer per worker and upstream: no sharing, no locks.
// Pure: `usable` tells which members may take traffic; the result is an index or nullopt when
// none may (cluster::choose_member then decides whether to try them anyway: panic mode). The
// balancer also remembers whether its upstream is in panic mode, so that entering and leaving it
// is logged once per episode.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace atsgate::upstream {

class balancer {
public:
    explicit balancer(std::vector<std::uint32_t> weights) : weights_(std::move(weights)), current_(weights_.size(), 0) {}

    // `usable[i]` is whether member i may take this request.
    template <typename Usable>
    std::optional<std::size_t> pick(Usable&& usable) {
        std::int64_t total = 0;
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < weights_.size(); ++i) {
            if (!usable(i)) continue;
            current_[i] += weights_[i];
            total += weights_[i];
            if (!best || current_[i] > current_[*best]) best = i;
        }
        if (best) current_[*best] -= total;
        return best;
    }

    std::size_t size() const noexcept { return weights_.size(); }

    // Panic mode (every member down or ejected). Each returns true when the state changed.
    bool enter_panic() noexcept { return !std::exchange(panic_, true); }
    bool leave_panic() noexcept { return std::exchange(panic_, false); }
    bool in_panic() const noexcept { return panic_; }

private:
    std::vector<std::uint32_t> weights_;
    std::vector<std::int64_t> current_;
    bool panic_ = false;
};

}  // namespace atsgate::upstream
