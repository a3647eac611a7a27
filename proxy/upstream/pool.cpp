#include "proxy/upstream/pool.hpp"

namespace atsgate::upstream {

lease::lease(lease&& o) noexcept
    : pool_(o.pool_), conn_(std::move(o.conn_)), reused_(o.reused_), reusable_(o.reusable_) {
    o.pool_ = nullptr;
}

lease& lease::operator=(lease&& o) noexcept {
    if (this != &o) {
        release();
        pool_ = o.pool_;
        conn_ = std::move(o.conn_);
        reused_ = o.reused_;
        reusable_ = o.reusable_;
        o.pool_ = nullptr;
    }
    return *this;
}

lease::~lease() { release(); }

void lease::release() noexcept {
    if (conn_ && pool_ != nullptr) pool_->give_back(std::move(conn_), reusable_);
    conn_.reset();
    pool_ = nullptr;
}

pool::pool(net::asio::any_io_executor ex, member_target target)
    : ex_(std::move(ex)), target_(std::move(target)), idle_(target_.keepalive, target_.keepalive_timeout) {}

lease pool::acquire() {
    const auto now = std::chrono::steady_clock::now();
    auto discard = [this](std::unique_ptr<connection>&& c) {
        ++stats_.stale_dropped;
        c->close();
    };
    while (auto c = idle_.take(now, discard)) {
        if ((*c)->still_usable()) {
            ++stats_.reuses;
            return lease(this, std::move(*c), true);
        }
        discard(std::move(*c));
    }
    return lease(this, std::make_unique<connection>(ex_), false);
}

net::awaitable<net::error_code> pool::connect(connection& c, net::watchdog& wd, std::size_t slot,
                                              std::chrono::milliseconds timeout) {
    net::error_code last = net::asio::error::host_not_found;
    wd.arm(slot, net::phase::upstream_connect, timeout, c.socket());
    for (const auto& ep : target_.endpoints) {
        net::error_code ec;
        if (c.socket().is_open()) c.socket().close(ec);
        auto [cec] = co_await c.socket().async_connect(ep);
        if (!cec) {
            c.socket().set_option(net::tcp::no_delay(true), ec);
            if (target_.tls) {
                // The watchdog slot stays armed: the deadline covers TCP and TLS together.
                const net::error_code tec = co_await c.start_tls(*target_.tls, target_.sni, target_.verify_name);
                if (tec) {
                    last = tec;
                    break;  // a TLS failure is not an address problem: do not try other endpoints
                }
            }
            ++stats_.connects;
            wd.disarm(slot);
            co_return net::error_code{};
        }
        last = cec;
        if (wd.expired(slot) != net::phase::none) break;  // out of time for all endpoints
    }
    wd.disarm(slot);
    co_return last;
}

void pool::give_back(std::unique_ptr<connection> c, bool reusable) noexcept {
    if (!reusable || !c->socket().is_open()) {
        c->close();
        return;
    }
    ++c->requests;
    if (auto evicted = idle_.put(std::move(c), std::chrono::steady_clock::now())) (*evicted)->close();
}

void pool::close_idle() noexcept {
    idle_.clear([](std::unique_ptr<connection>&& c) { c->close(); });
}

}  // namespace atsgate::upstream
