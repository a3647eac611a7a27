#include "proxy/cluster/warmup.hpp"

#include "proxy/net/watchdog.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace atsgate::cluster {

namespace {

net::awaitable<void> warm_one(worker_upstreams& w, std::shared_ptr<const snapshot::snapshot> snap, std::size_t ui,
                              std::size_t mi, std::atomic<std::uint64_t>& connects) {
    const auto& u = snap->cfg.upstreams[ui];
    const auto& m = snap->upstreams[ui].members[mi];
    upstream::pool& pool = w.pool_for(m);
    net::watchdog wd(w.io().get_executor());
    while (pool.idle() < u.warm && !w.stopping()) {
        upstream::lease lease = pool.acquire();
        if (lease.reused()) {  // another connection (or request) filled the pool meanwhile
            lease.set_reusable(true);
            co_return;
        }
        const auto ec = co_await pool.connect(*lease, wd, 0, u.connect_timeout);
        if (ec) {
            spdlog::debug("warm-up: {}: {}", m.target->id, ec.message());
            co_return;
        }
        // Single writer (this worker): a relaxed load + store, as downstream::stats::inc does.
        connects.store(connects.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        lease.set_reusable(true);  // back into the idle list on scope exit
    }
}

}  // namespace

void warm_upstreams(worker_upstreams& upstreams, std::shared_ptr<const snapshot::snapshot> snap,
                    std::atomic<std::uint64_t>& connects) {
    for (std::size_t ui = 0; ui < snap->cfg.upstreams.size(); ++ui) {
        if (snap->cfg.upstreams[ui].warm == 0) continue;
        for (std::size_t mi = 0; mi < snap->upstreams[ui].members.size(); ++mi) {
            net::asio::co_spawn(upstreams.io(), warm_one(upstreams, snap, ui, mi, connects), [](std::exception_ptr e) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    spdlog::debug("warm-up failed: {}", ex.what());
                }
            });
        }
    }
}

}  // namespace atsgate::cluster
