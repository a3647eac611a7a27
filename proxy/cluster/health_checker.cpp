#include "proxy/cluster/health_checker.hpp"

#include "proxy/http/response_parser.hpp"
#include "proxy/upstream/connection.hpp"
#include "util/host_port.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

#include <array>

namespace atsgate::cluster {

namespace asio = net::asio;
using namespace boost::asio::experimental::awaitable_operators;

struct health_checker::job {
    std::shared_ptr<const upstream::member_target> target;
    std::shared_ptr<upstream::member_health> health;
    std::string request;  // the complete GET request
    std::chrono::milliseconds interval{5000};
    std::chrono::milliseconds timeout{2000};
    std::uint32_t rise = 2;
    std::uint32_t fall = 3;
    bool stopped = false;
    net::steady_timer timer;

    explicit job(const asio::any_io_executor& ex) : timer(ex) {}
};

namespace {

// One check: true when the member answered the health request with 200-399. No deadline here: the
// caller races it against a timer.
net::awaitable<bool> probe(health_checker::job& j, std::string& detail) {
    upstream::connection c(co_await asio::this_coro::executor);
    net::error_code ec;
    for (const auto& ep : j.target->endpoints) {
        if (c.socket().is_open()) c.socket().close(ec);
        auto [cec] = co_await c.socket().async_connect(ep);
        ec = cec;
        if (!ec) break;
    }
    if (ec || j.target->endpoints.empty()) {
        detail = "connect: " + (ec ? ec.message() : std::string("no address"));
        co_return false;
    }
    if (j.target->tls) {
        if (auto tec = co_await c.start_tls(*j.target->tls, j.target->sni, j.target->verify_name)) {
            detail = "TLS: " + tec.message();
            c.close();
            co_return false;
        }
    }
    if (auto wec = co_await c.write_all(j.request)) {
        detail = "send: " + wec.message();
        c.close();
        co_return false;
    }
    http::limits lim;
    lim.response_header_bytes = 16 * 1024;
    http::response_parser parser(lim);
    parser.reset("GET");
    std::array<char, 4096> buf;
    for (;;) {
        auto [rec, n] = co_await c.read_some(buf);
        if (rec) {
            detail = "read: " + rec.message();
            c.close();
            co_return false;
        }
        std::size_t off = 0;
        while (off < n) {
            const auto r = parser.feed({buf.data() + off, n - off});
            off += r.consumed;
            if (r.event == http::parse_event::head_done) {
                const auto status = parser.head().status;
                if (status < 200) continue;  // interim
                c.close();
                detail = "status " + std::to_string(status);
                co_return status >= 200 && status < 400;
            }
            if (r.event == http::parse_event::message_done) {
                if (parser.head().status < 200) {
                    parser.next_response();
                    continue;
                }
            }
            if (r.event == http::parse_event::error) {
                detail = "bad response";
                c.close();
                co_return false;
            }
            if (r.event == http::parse_event::need_more) break;
        }
    }
}

net::awaitable<void> loop(std::shared_ptr<health_checker::job> j) {
    for (;;) {
        if (j->stopped) co_return;
        std::string detail;
        net::steady_timer deadline(j->timer.get_executor());
        deadline.expires_after(j->timeout);
        auto result = co_await (probe(*j, detail) || deadline.async_wait());
        if (j->stopped) co_return;
        const bool ok = result.index() == 0 && std::get<0>(result);
        if (result.index() == 1) detail = "timeout";
        if (j->health->record_check(ok, j->rise, j->fall)) {
            if (ok)
                spdlog::info("health: {} is up again ({})", j->health->id(), detail);
            else
                spdlog::warn("health: {} is down ({})", j->health->id(), detail);
        }
        j->timer.expires_after(j->interval);
        co_await j->timer.async_wait();
    }
}

}  // namespace

void health_checker::reconcile(const snapshot::snapshot& snap) {
    stop();
    for (std::size_t ui = 0; ui < snap.cfg.upstreams.size(); ++ui) {
        const auto& u = snap.cfg.upstreams[ui];
        if (u.health_path.empty()) continue;
        for (std::size_t mi = 0; mi < snap.upstreams[ui].members.size(); ++mi) {
            const auto& m = snap.upstreams[ui].members[mi];
            const auto& mc = u.members[mi];
            auto j = std::make_shared<job>(io_.get_executor());
            j->target = m.target;
            j->health = m.health;
            j->request = "GET " + u.health_path + " HTTP/1.1\r\nHost: " + util::host_port(mc.host, mc.port) +
                         "\r\nUser-Agent: atsgate-health\r\nConnection: close\r\n\r\n";
            j->interval = u.health_interval;
            j->timeout = u.health_timeout;
            j->rise = u.health_rise;
            j->fall = u.health_fall;
            asio::co_spawn(io_, loop(j), [](std::exception_ptr e) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    spdlog::error("health check loop failed: {}", ex.what());
                }
            });
            jobs_.push_back(std::move(j));
        }
    }
}

void health_checker::stop() {
    for (auto& j : jobs_) {
        j->stopped = true;
        j->timer.cancel();
    }
    jobs_.clear();
}

}  // namespace atsgate::cluster
