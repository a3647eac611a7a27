#pragma once
// proxy/cluster/: how a worker reaches upstream members. Owns, per worker thread, the connection
// pools (one per member's connection settings) and the balancers (member choice per upstream and
// snapshot); warms pools in advance (warmup.hpp); runs the active health checks on the control
// thread (health_checker.hpp). The pool and health state machines themselves are in
// proxy/upstream/ (pure parts, unit-tested); this layer binds them to snapshots and threads.
// May use: snapshot, upstream, http, net, Asio, spdlog. Used by: downstream, server.

#include "proxy/net/asio.hpp"
#include "proxy/snapshot/snapshot.hpp"
#include "proxy/upstream/balancer.hpp"
#include "proxy/upstream/pool.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace atsgate::cluster {

// The pools and balancers of one worker. Worker thread only; no locks.
class worker_upstreams {
public:
    explicit worker_upstreams(net::asio::io_context& io) : io_(io) {}
    worker_upstreams(const worker_upstreams&) = delete;
    worker_upstreams& operator=(const worker_upstreams&) = delete;

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

    // Drain: closes every idle connection and stops warming.
    void close_idle() noexcept {
        stopping_ = true;
        for (auto& [key, p] : pools_) p->close_idle();
    }
    bool stopping() const noexcept { return stopping_; }

    net::asio::io_context& io() noexcept { return io_; }
    const std::unordered_map<std::string, std::unique_ptr<upstream::pool>>& pools() const noexcept { return pools_; }

private:
    net::asio::io_context& io_;
    bool stopping_ = false;
    std::unordered_map<std::string, std::unique_ptr<upstream::pool>> pools_;
    // Balancers of older generations are kept until the worker sees a newer one: a connection that
    // pinned an old snapshot just gets a fresh balancer for it (its weights).
    std::map<std::pair<std::uint64_t, std::size_t>, upstream::balancer> balancers_;
    std::uint64_t balancers_generation_ = 0;
};

}  // namespace atsgate::cluster
