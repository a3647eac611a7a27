#pragma once
// What a client connection needs from the worker thread that accepted it. Owned by the worker
// (proxy/server); a connection holds a reference for its whole life and never leaves the thread.

#include "proxy/downstream/request_state.hpp"
#include "proxy/downstream/registry.hpp"
#include "proxy/downstream/stats.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/snapshot/snapshot.hpp"
#include "proxy/snapshot/store.hpp"
#include "proxy/upstream/balancer.hpp"
#include "proxy/upstream/pool.hpp"

#include <spdlog/logger.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace atsgate::downstream {

class worker_context {
public:
    explicit worker_context(net::asio::io_context& io, std::uint64_t seed = 0x2545F4914F6CDD1Dull)
        : io_(io), rng_(seed | 1) {}
    worker_context(const worker_context&) = delete;
    worker_context& operator=(const worker_context&) = delete;

    net::asio::io_context& io() noexcept { return io_; }
    stats& counters() noexcept { return stats_; }
    registry& connections() noexcept { return registry_; }

    // Access log (one line per request), or null when disabled. Not owned.
    spdlog::logger* access_log() const noexcept { return access_log_; }
    void set_access_log(spdlog::logger* l) noexcept { access_log_ = l; }

    // Set once a graceful drain began: finish the current request, then close.
    bool draining() const noexcept { return draining_; }
    void begin_drain() noexcept {
        draining_ = true;
        registry_.cancel_idle();
        for (auto& [key, p] : pools_) p->close_idle();
    }

    // The worker's view of the published snapshot (set by the server before any connection runs;
    // null in tests that build a worker_context alone). Worker thread only.
    void set_snapshots(snapshot::cache* c) noexcept { snapshots_ = c; }
    // The newest published snapshot (one atomic load when unchanged); null without set_snapshots().
    const std::shared_ptr<const snapshot::snapshot>& latest_snapshot() {
        static const std::shared_ptr<const snapshot::snapshot> none;
        return snapshots_ != nullptr ? snapshots_->get() : none;
    }

    // Request-time memory (parsers, I/O windows), lent to connections while a request is in flight.
    request_pool& requests() noexcept { return requests_; }

    // A fast per-worker random number (xorshift64*), for weighted splits. Not for cryptography.
    std::uint64_t random() noexcept {
        rng_ ^= rng_ >> 12;
        rng_ ^= rng_ << 25;
        rng_ ^= rng_ >> 27;
        return rng_ * 0x2545F4914F6CDD1Dull;
    }

    // The pool for an upstream member, created on first use. Pools are keyed by the member's
    // connection settings and live as long as the worker, so warm connections survive reloads and
    // weight switches, and leases stay valid.
    upstream::pool& pool_for(const snapshot::member_runtime& m) {
        auto it = pools_.find(m.pool_key);
        if (it == pools_.end()) {
            upstream::member_target t;
            t.id = m.target->id;
            t.endpoints = m.target->endpoints;
            t.tls = ossl::up_ref(m.target->tls.get());
            t.sni = m.target->sni;
            t.verify_name = m.target->verify_name;
            t.keepalive = m.target->keepalive;
            t.keepalive_timeout = m.target->keepalive_timeout;
            it = pools_.emplace(m.pool_key, std::make_unique<upstream::pool>(io_.get_executor(), std::move(t))).first;
        }
        return *it->second;
    }

    // Member choice state for upstream `index` of `snap`. Reset when the worker first sees a newer
    // snapshot (weights or members may have changed).
    upstream::balancer& balancer_for(const snapshot::snapshot& snap, std::size_t index) {
        if (snap.generation > balancers_generation_) {
            balancers_.clear();
            balancers_generation_ = snap.generation;
        }
        auto key = std::pair{snap.generation, index};
        auto it = balancers_.find(key);
        if (it == balancers_.end()) {
            std::vector<std::uint32_t> weights;
            for (const auto& m : snap.upstreams[index].members) weights.push_back(m.weight);
            it = balancers_.emplace(key, upstream::balancer(std::move(weights))).first;
        }
        return it->second;
    }

    // Closes the idle connections of pools the given snapshot no longer uses (after a reload).
    void retire_pools(const snapshot::snapshot& snap) {
        for (auto& [key, p] : pools_) {
            bool used = false;
            for (const auto& u : snap.upstreams)
                for (const auto& m : u.members) used = used || m.pool_key == key;
            if (!used) p->close_idle();
        }
    }

    const std::unordered_map<std::string, std::unique_ptr<upstream::pool>>& pools() const noexcept { return pools_; }

private:
    net::asio::io_context& io_;
    stats stats_;
    registry registry_;
    spdlog::logger* access_log_ = nullptr;
    bool draining_ = false;
    std::uint64_t rng_;
    snapshot::cache* snapshots_ = nullptr;  // not owned (the worker's)
    request_pool requests_;
    std::unordered_map<std::string, std::unique_ptr<upstream::pool>> pools_;
    // Balancers of older generations are kept until the worker sees a newer one: a connection that
    // pinned an old snapshot just gets a fresh balancer for it (its weights).
    std::map<std::pair<std::uint64_t, std::size_t>, upstream::balancer> balancers_;
    std::uint64_t balancers_generation_ = 0;
};

}  // namespace atsgate::downstream
