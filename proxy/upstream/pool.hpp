#pragma once
// proxy/upstream/: one member's side of the upstream hop: the idle-list, balancer and member-health
// state machines (pure, header-only, unit-tested), the upstream connection and this pool (Asio).
// It knows nothing of snapshots or workers (proxy/cluster binds pools to them). May use: config,
// tls, http, net, Asio.
//
// One upstream member's connections on one worker thread: the idle keep-alive list (idle_list)
// plus connecting new ones (TCP, then TLS for https:// members). Owned by the worker, used only on
// its thread: no locks. Pools live as long as the worker, so leases stay valid across reloads.
// Ownership: the pool owns idle connections (unique_ptr); a move-only lease lends one to one
// request; the lease's destructor returns it to the pool if the request marked it reusable,
// otherwise closes it (STYLE.md §3).

#include "proxy/net/asio.hpp"
#include "proxy/net/watchdog.hpp"
#include "proxy/upstream/connection.hpp"
#include "proxy/upstream/idle_list.hpp"
#include "tls/ossl.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace atsgate::upstream {

// How to reach one member. Copied into the pool at creation; a change (reload) makes a new pool.
struct member_target {
    std::string id;                              // "upstream-name http://10.0.0.5:8080": logs
    std::vector<net::tcp::endpoint> endpoints;   // resolved addresses, tried in order
    ossl::ptr<SSL_CTX> tls;                      // null: plain HTTP
    std::string sni;                             // TLS: SNI to send ("" = none)
    std::string verify_name;                     // TLS: name to verify ("" = do not check the name)
    std::uint32_t keepalive = 32;                // idle connections kept
    std::chrono::milliseconds keepalive_timeout{30000};
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
    pool(net::asio::any_io_executor ex, member_target target);
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    // A pooled idle connection (lease.reused() == true) or a new, not yet connected one.
    lease acquire();

    // Connects a new connection: TCP to each endpoint in turn, then the TLS handshake for https
    // members; guarded by `wd` slot `slot` for `timeout` in total. Errors: the last endpoint's error;
    // operation_aborted when the watchdog fired (wd.expired(slot) == phase::upstream_connect).
    net::awaitable<net::error_code> connect(connection& c, net::watchdog& wd, std::size_t slot,
                                            std::chrono::milliseconds timeout);

    // Closes every idle connection (drain).
    void close_idle() noexcept;

    const member_target& target() const noexcept { return target_; }
    const pool_stats& stats() const noexcept { return stats_; }
    std::size_t idle() const noexcept { return idle_.size(); }

private:
    friend class lease;
    void give_back(std::unique_ptr<connection> c, bool reusable) noexcept;

    net::asio::any_io_executor ex_;
    member_target target_;
    idle_list<std::unique_ptr<connection>> idle_;
    pool_stats stats_;
};

}  // namespace atsgate::upstream
