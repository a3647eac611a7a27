#pragma once
// What a client connection needs from the worker thread that accepted it. Owned by the worker
// (proxy/server); a connection holds a reference for its whole life and never leaves the thread.

#include "proxy/downstream/registry.hpp"
#include "proxy/downstream/stats.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/snapshot/snapshot.hpp"
#include "proxy/upstream/pool.hpp"

#include <spdlog/logger.h>

#include <cstdint>
#include <map>
#include <memory>
#include <utility>

namespace atsgate::downstream {

class worker_context {
public:
    explicit worker_context(net::asio::io_context& io) : io_(io) {}
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

    // The pool for upstream `index` of `snap`, created on first use. Pools live as long as the
    // worker, so leases stay valid across snapshot changes.
    upstream::pool& pool_for(const snapshot::snapshot& snap, std::size_t index) {
        auto key = std::pair{snap.generation, index};
        auto it = pools_.find(key);
        if (it == pools_.end()) {
            it = pools_.emplace(key, std::make_unique<upstream::pool>(io_.get_executor(), snap.cfg.upstreams[index],
                                                                       snap.upstreams[index].endpoints))
                     .first;
        }
        return *it->second;
    }

private:
    net::asio::io_context& io_;
    stats stats_;
    registry registry_;
    spdlog::logger* access_log_ = nullptr;
    bool draining_ = false;
    // TODO(atsgate): retire pools of old snapshot generations once their leases are back (reload).
    std::map<std::pair<std::uint64_t, std::size_t>, std::unique_ptr<upstream::pool>> pools_;
};

}  // namespace atsgate::downstream
