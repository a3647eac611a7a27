#pragma once
// One upstream's connections on one worker thread: the idle keep-alive list (idle_list) plus
// connecting new ones. Owned by the worker, used only on its thread: no locks.
// Ownership: the pool owns idle connections (unique_ptr); a move-only lease lends one to one
// request; the lease's destructor returns it to the pool if the request marked it reusable,
// otherwise closes it (STYLE.md §3).

#include "config/config.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/net/watchdog.hpp"
#include "proxy/upstream/idle_list.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace atsgate::upstream {

struct connection {
    explicit connection(const net::asio::any_io_executor& ex) : socket(ex) {}
    net::tcp_socket socket;
    std::uint32_t requests = 0;  // requests served on it so far

    // Cheap liveness check for an idle connection before reuse (one non-blocking recv with MSG_PEEK):
    // false if the backend closed it (EOF, RST) or sent unsolicited bytes.
    bool still_usable() noexcept;
};

struct pool_stats {
    std::uint64_t connects = 0;       // new connections opened
    std::uint64_t reuses = 0;         // requests served on a pooled connection
    std::uint64_t stale_dropped = 0;  // idle connections found closed or too old
};

class pool;

class lease {
public:
    lease() = default;
    lease(pool* p, std::unique_ptr<connection> c, bool reused) noexcept : pool_(p), conn_(std::move(c)), reused_(reused) {}
    lease(lease&& o) noexcept;
    lease& operator=(lease&& o) noexcept;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease();

    connection& operator*() const noexcept { return *conn_; }
    connection* operator->() const noexcept { return conn_.get(); }
    explicit operator bool() const noexcept { return conn_ != nullptr; }
    bool reused() const noexcept { return reused_; }
    // Set when the exchange left the connection clean (full response read, request fully sent,
    // keep-alive allowed). Default false: the connection is closed on release.
    void set_reusable(bool r) noexcept { reusable_ = r; }

private:
    void release() noexcept;
    pool* pool_ = nullptr;
    std::unique_ptr<connection> conn_;
    bool reused_ = false;
    bool reusable_ = false;
};

class pool {
public:
    // `endpoints`: resolved addresses of the upstream, tried in order on connect.
    pool(net::asio::any_io_executor ex, const config::upstream& cfg, std::vector<net::tcp::endpoint> endpoints);
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    // A pooled idle connection (lease.reused() == true) or a new, not yet connected one.
    lease acquire();

    // Connects a new connection, trying each endpoint; guarded by `wd` slot `slot` with the
    // upstream's connect_timeout. Errors: the last endpoint's error; operation_aborted when the
    // watchdog fired (wd.expired(slot) == phase::upstream_connect).
    net::awaitable<net::error_code> connect(connection& c, net::watchdog& wd, std::size_t slot);

    // Closes every idle connection (drain).
    void close_idle() noexcept;

    const config::upstream& settings() const noexcept { return cfg_; }
    const pool_stats& stats() const noexcept { return stats_; }
    std::size_t idle() const noexcept { return idle_.size(); }

private:
    friend class lease;
    void give_back(std::unique_ptr<connection> c, bool reusable) noexcept;

    net::asio::any_io_executor ex_;
    config::upstream cfg_;
    std::vector<net::tcp::endpoint> endpoints_;
    idle_list<std::unique_ptr<connection>> idle_;
    pool_stats stats_;
};

}  // namespace atsgate::upstream
