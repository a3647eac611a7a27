#pragma once
// Publishes the current snapshot. The control thread stores a new one atomically (reload); each
// worker keeps a cache and reloads it only when the generation number moved, so the per-accept
// cost is one relaxed atomic load, and no lock is taken on the connection path.

#include "proxy/snapshot/snapshot.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace atsgate::snapshot {

class store {
public:
    explicit store(std::shared_ptr<const snapshot> initial) : current_(std::move(initial)) {
        generation_.store(current_->generation, std::memory_order_release);
    }

    // Control thread: makes `next` current. Connections already running keep their own snapshot.
    void publish(std::shared_ptr<const snapshot> next) {
        const auto gen = next->generation;
        {
            std::lock_guard lock(mutex_);
            current_ = std::move(next);
        }
        generation_.store(gen, std::memory_order_release);
    }

    std::shared_ptr<const snapshot> load() const {
        std::lock_guard lock(mutex_);
        return current_;
    }

    std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

private:
    mutable std::mutex mutex_;  // taken only on publish and when a worker sees a new generation
    std::shared_ptr<const snapshot> current_;
    std::atomic<std::uint64_t> generation_{0};
};

// A worker's view of the store: returns the cached snapshot unless a newer one was published.
class cache {
public:
    explicit cache(const store& s) : store_(s), current_(s.load()) {}
    const std::shared_ptr<const snapshot>& get() {
        if (store_.generation() != current_->generation) current_ = store_.load();
        return current_;
    }

private:
    const store& store_;
    std::shared_ptr<const snapshot> current_;
};

}  // namespace atsgate::snapshot
