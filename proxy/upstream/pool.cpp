#include "proxy/upstream/pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace atsgate::upstream {

namespace {
void close_quietly(connection& c) noexcept {
    net::error_code ec;
    c.socket.shutdown(net::tcp::socket::shutdown_both, ec);
    c.socket.close(ec);
}
}  // namespace

bool connection::still_usable() noexcept {
    if (!socket.is_open()) return false;
    char byte;
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;  // nothing pending: healthy
    return false;  // 0: EOF; > 0: unsolicited bytes (a stray response): not safe to reuse
}

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

pool::pool(net::asio::any_io_executor ex, const config::upstream& cfg, std::vector<net::tcp::endpoint> endpoints)
    : ex_(std::move(ex)), cfg_(cfg), endpoints_(std::move(endpoints)), idle_(cfg.keepalive, cfg.keepalive_timeout) {}

lease pool::acquire() {
    const auto now = std::chrono::steady_clock::now();
    auto discard = [this](std::unique_ptr<connection>&& c) {
        ++stats_.stale_dropped;
        close_quietly(*c);
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

net::awaitable<net::error_code> pool::connect(connection& c, net::watchdog& wd, std::size_t slot) {
    net::error_code last = net::asio::error::host_not_found;
    wd.arm(slot, net::phase::upstream_connect, cfg_.connect_timeout, c.socket);
    for (const auto& ep : endpoints_) {
        net::error_code ec;
        if (c.socket.is_open()) c.socket.close(ec);
        auto [cec] = co_await c.socket.async_connect(ep);
        if (!cec) {
            c.socket.set_option(net::tcp::no_delay(true), ec);
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
    if (!reusable || !c->socket.is_open()) {
        close_quietly(*c);
        return;
    }
    ++c->requests;
    if (auto evicted = idle_.put(std::move(c), std::chrono::steady_clock::now())) close_quietly(**evicted);
}

void pool::close_idle() noexcept {
    idle_.clear([](std::unique_ptr<connection>&& c) { close_quietly(*c); });
}

}  // namespace atsgate::upstream
