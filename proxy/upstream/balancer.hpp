#pragma once
// Member choice inside one upstream: smooth weighted round robin (nginx's algorithm) over the
// members that are usable now. One balancer per worker and upstream: no sharing, no locks.
// Pure: `usable` tells which members may take traffic; the result is an index or nullopt when
// every member is down (the caller answers 503 at once).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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

private:
    std::vector<std::uint32_t> weights_;
    std::vector<std::int64_t> current_;
};

}  // namespace atsgate::upstream
