#pragma once
// proxy/downstream/: the client side of the data plane. One coroutine per accepted connection
// (connection.cpp: handshake -> request head -> route -> local answer or upstream exchange ->
// keep-alive), the upstream exchange of one request (upstream_exchange.cpp), the per-request state
// borrowed from the worker (request_state.hpp), and this header: what a client connection needs
// from the worker thread that accepted it. Owned by the worker (proxy/server); a connection holds
// a reference for its whole life and never leaves the thread.
// May use: cluster, snapshot, upstream, router, http, net, tls, spdlog.

#include "proxy/cluster/worker_upstreams.hpp"
#include "proxy/downstream/request_state.hpp"
#include "proxy/downstream/registry.hpp"
#include "proxy/downstream/slots.hpp"
#include "proxy/downstream/stats.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/snapshot/snapshot.hpp"
#include "proxy/snapshot/store.hpp"

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>

namespace atsgate::downstream {

class worker_context {
public:
    explicit worker_context(net::asio::io_context& io, std::uint64_t seed = 0x2545F4914F6CDD1Dull)
        : io_(io), rng_(seed | 1), upstreams_(io) {}
    worker_context(const worker_context&) = delete;
    worker_context& operator=(const worker_context&) = delete;

    net::asio::io_context& io() noexcept { return io_; }
    stats& counters() noexcept { return stats_; }
    registry& connections() noexcept { return registry_; }

    // Access log (one line per request), or null when disabled. Not owned.
    spdlog::logger* access_log() const noexcept { return access_log_; }
    void set_access_log(spdlog::logger* l) noexcept { access_log_ = l; }
    // log_format = "json": access log lines are written as JSON fields (the logger's pattern wraps them).
    bool access_log_json() const noexcept { return access_log_json_; }
    void set_access_log_json(bool json) noexcept { access_log_json_ = json; }

    // The process-wide connection slots (set by the server before any connection runs; null in
    // tests that build a worker_context alone). Not owned.
    connection_slots* slots() const noexcept { return slots_; }
    void set_slots(connection_slots* s) noexcept { slots_ = s; }
    // The process-wide log of recent refused / would-refuse handshakes (set by the server before
    // any connection runs; null in unit tests: nothing is recorded).
    tls::refusal_log* refusals() const noexcept { return refusals_; }
    void set_refusals(tls::refusal_log* l) noexcept { refusals_ = l; }
    // Closes this worker's longest-idle connection (counted in connections_shed); false if none is idle.
    bool shed_idle() noexcept {
        if (!registry_.shed_oldest_idle()) return false;
        stats::inc(stats_.connections_shed);
        return true;
    }

    // Set once a graceful drain began: finish the current request, then close.
    bool draining() const noexcept { return draining_; }
    void begin_drain() noexcept {
        draining_ = true;
        registry_.cancel_idle();
        upstreams_.close_idle();
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

    // Upstream pools and balancers of this worker.
    cluster::worker_upstreams& upstreams() noexcept { return upstreams_; }

private:
    net::asio::io_context& io_;
    stats stats_;
    registry registry_;
    spdlog::logger* access_log_ = nullptr;
    connection_slots* slots_ = nullptr;
    bool access_log_json_ = false;
    tls::refusal_log* refusals_ = nullptr;  // not owned (the server's)
    bool draining_ = false;
    std::uint64_t rng_;
    snapshot::cache* snapshots_ = nullptr;  // not owned (the worker's)
    request_pool requests_;
    cluster::worker_upstreams upstreams_;
};

}  // namespace atsgate::downstream
