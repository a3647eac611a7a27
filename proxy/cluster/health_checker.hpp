#pragma once
// Active health checks: every upstream with a health_path gets one check loop per member on the
// control thread: GET health_path every health_interval (connect + TLS for https members + one
// request, within health_timeout); health_fall consecutive failures (connect error, timeout,
// status outside 200-399) mark the member down, health_rise successes up. Workers only read the
// shared member_health atomics, so checks never touch the data path.

#include "proxy/net/asio.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <memory>
#include <vector>

namespace atsgate::cluster {

class health_checker {
public:
    explicit health_checker(net::asio::io_context& control) : io_(control) {}
    health_checker(const health_checker&) = delete;
    health_checker& operator=(const health_checker&) = delete;
    ~health_checker() { stop(); }

    // Checks the members of `snap` from now on (stops the previous loops). Member health objects
    // are shared across snapshots, so a member keeps its state across reloads. Control thread only.
    void reconcile(const snapshot::snapshot& snap);
    // Stops every loop (shutdown).
    void stop();

    struct job;

private:
    net::asio::io_context& io_;
    std::vector<std::shared_ptr<job>> jobs_;
};

}  // namespace atsgate::cluster
