#include "proxy/server/server.hpp"

#include "proxy/downstream/worker_context.hpp"
#include "proxy/http/request_parser.hpp"
#include "proxy/http/rewrite.hpp"
#include "proxy/listener/acceptor.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/server/access_sink.hpp"
#include "proxy/server/metrics.hpp"
#include "proxy/snapshot/store.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <thread>
#include <vector>

namespace atsgate::server {

namespace {

namespace asio = net::asio;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

struct worker {
    asio::io_context io{1};  // concurrency hint 1: one thread runs it, the scheduler skips locking
    downstream::worker_context ctx{io};
    std::vector<std::unique_ptr<net::tcp_acceptor>> acceptors;  // one per listener
    std::shared_ptr<spdlog::logger> access_log;
    net::steady_timer flush_timer{io};
    std::thread thread;
};

std::string endpoint_text(const net::tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

void log_exception(std::exception_ptr e, const char* what) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("{} failed: {}", what, ex.what());
    } catch (...) {
        spdlog::error("{} failed", what);
    }
}

net::awaitable<void> flush_loop(worker& w) {
    for (;;) {
        w.flush_timer.expires_after(250ms);
        auto [ec] = co_await w.flush_timer.async_wait();
        if (w.access_log) w.access_log->flush();
        if (ec || w.ctx.draining()) co_return;
    }
}

// ---- admin endpoint: loopback-only plain HTTP, GET /metrics and GET /healthz ----------------

net::awaitable<void> admin_session(net::tcp_socket socket, const std::vector<const downstream::stats*>& stats,
                                   const std::atomic<bool>& draining) {
    http::limits lim;
    lim.header_bytes = 8192;
    lim.header_count = 50;
    lim.body_bytes = 0;
    http::request_parser parser(lim);
    parser.reset();
    std::array<char, 4096> buf;
    net::steady_timer timer(socket.get_executor());
    timer.expires_after(5s);
    std::uint16_t status = 0;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
    for (bool done = false; !done;) {
        auto result = co_await (socket.async_read_some(asio::buffer(buf)) || timer.async_wait());
        if (result.index() != 0) co_return;  // timeout
        auto [ec, n] = std::get<0>(result);
        if (ec) co_return;
        std::size_t off = 0;
        while (off < n && !done) {
            auto r = parser.feed({buf.data() + off, n - off});
            off += r.consumed;
            if (r.event == http::parse_event::head_done) {
                const auto& h = parser.head();
                const std::string_view path = h.target.substr(0, h.target.find('?'));
                if (h.method != "GET" && h.method != "HEAD") {
                    status = 405;
                } else if (path == "/metrics") {
                    status = 200;
                    body = render_metrics(stats);
                    content_type = "text/plain; version=0.0.4; charset=utf-8";
                } else if (path == "/healthz") {
                    status = 200;
                    body = "ok\n";
                } else if (path == "/readyz") {
                    status = draining.load() ? 503 : 200;
                    body = draining.load() ? "draining\n" : "ready\n";
                } else {
                    status = 404;
                }
                done = true;
            } else if (r.event == http::parse_event::error) {
                status = 400;
                done = true;
            }
        }
    }
    std::string out;
    if (body.empty()) {
        http::write_local_response(status, true, out);
    } else {
        out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::reason_phrase(status)) +
              "\r\nContent-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\nConnection: close\r\n\r\n" + body;
    }
    co_await asio::async_write(socket, asio::buffer(out), net::token);
    net::error_code ec;
    socket.shutdown(net::tcp::socket::shutdown_both, ec);
}

net::awaitable<void> admin_loop(net::tcp_acceptor& acceptor, const std::vector<const downstream::stats*>& stats,
                                const std::atomic<bool>& draining) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept();
        if (ec) {
            if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
            continue;
        }
        asio::co_spawn(acceptor.get_executor(), admin_session(std::move(socket), stats, draining),
                       [](std::exception_ptr e) { log_exception(e, "admin request"); });
    }
}

}  // namespace

int run(std::shared_ptr<const snapshot::snapshot> initial) {
    const config::config& cfg = initial->cfg;
    unsigned n_workers = cfg.server.workers;
    if (n_workers == 0) n_workers = std::max(1u, std::thread::hardware_concurrency());

    // Endpoints, checked before anything is started: a busy port is an error, never shared.
    std::vector<net::tcp::endpoint> endpoints;
    for (const auto& l : cfg.listeners) {
        net::error_code ec;
        const auto addr = asio::ip::make_address(l.address, ec);
        if (ec) {
            spdlog::error("listener {}: bad address {}: {}", l.name, l.address, ec.message());
            return 1;
        }
        endpoints.emplace_back(addr, l.port);
        if (auto bec = listener::check_port_free(endpoints.back())) {
            spdlog::error("listener {}: cannot bind {}: {}", l.name, endpoint_text(endpoints.back()), bec.message());
            return 1;
        }
    }

    asio::io_context control{1};
    std::atomic<bool> draining{false};
    std::unique_ptr<net::tcp_acceptor> admin;
    if (cfg.admin) {
        net::error_code ec;
        const net::tcp::endpoint ep(asio::ip::make_address(cfg.admin->address, ec), cfg.admin->port);
        admin = std::make_unique<net::tcp_acceptor>(control);
        if (!ec) ec = listener::check_port_free(ep);
        if (!ec) {
            admin->open(ep.protocol(), ec);
            if (!ec) admin->set_option(net::tcp::acceptor::reuse_address(true), ec);
            if (!ec) admin->bind(ep, ec);
            if (!ec) admin->listen(64, ec);
        }
        if (ec) {
            spdlog::error("admin: cannot bind {}: {}", endpoint_text(ep), ec.message());
            return 1;
        }
    }

    snapshot::store store(initial);
    std::vector<std::unique_ptr<worker>> workers;
    std::vector<std::unique_ptr<snapshot::cache>> caches;
    for (unsigned i = 0; i < n_workers; ++i) {
        auto w = std::make_unique<worker>();
        for (std::size_t li = 0; li < endpoints.size(); ++li) {
            auto acc = std::make_unique<net::tcp_acceptor>(w->io);
            if (auto ec = listener::open_acceptor(*acc, endpoints[li])) {
                spdlog::error("listener {}: cannot listen on {}: {}", cfg.listeners[li].name,
                              endpoint_text(endpoints[li]), ec.message());
                return 1;
            }
            w->acceptors.push_back(std::move(acc));
        }
        if (cfg.server.access_log) {
            auto sink = std::make_shared<access_sink>(STDOUT_FILENO);
            w->access_log = std::make_shared<spdlog::logger>("access", std::move(sink));
            w->access_log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %v");
            w->access_log->set_level(spdlog::level::info);
            w->access_log->flush_on(spdlog::level::off);
            w->ctx.set_access_log(w->access_log.get());
        }
        workers.push_back(std::move(w));
        caches.push_back(std::make_unique<snapshot::cache>(store));
    }

    std::vector<const downstream::stats*> stats;
    for (auto& w : workers) stats.push_back(&w->ctx.counters());
    const std::uint32_t per_worker_limit =
        std::max<std::uint32_t>(1, (cfg.limits.max_connections + n_workers - 1) / n_workers);

    for (std::size_t i = 0; i < workers.size(); ++i) {
        worker& w = *workers[i];
        for (std::size_t li = 0; li < w.acceptors.size(); ++li)
            asio::co_spawn(w.io, listener::accept_loop(*w.acceptors[li], li, w.ctx, *caches[i], per_worker_limit),
                           [](std::exception_ptr e) { log_exception(e, "accept loop"); });
        if (w.access_log)
            asio::co_spawn(w.io, flush_loop(w), [](std::exception_ptr e) { log_exception(e, "access log flush"); });
    }
    if (admin)
        asio::co_spawn(control, admin_loop(*admin, stats, draining), [](std::exception_ptr e) { log_exception(e, "admin"); });

    // Workers.
    std::size_t finished = 0;
    for (auto& wp : workers) {
        worker* w = wp.get();
        w->thread = std::thread([w, &control, &finished, n_workers, &admin] {
            for (;;) {
                try {
                    w->io.run();
                    break;
                } catch (const std::exception& e) {
                    spdlog::error("worker loop: unexpected exception: {}", e.what());
                }
            }
            if (w->access_log) w->access_log->flush();
            asio::post(control, [&control, &finished, n_workers, &admin] {
                if (++finished == n_workers) {
                    net::error_code ec;
                    if (admin) admin->close(ec);
                    control.stop();
                }
            });
        });
    }

    for (std::size_t li = 0; li < cfg.listeners.size(); ++li) {
        const auto& l = cfg.listeners[li];
        const auto& u = cfg.upstreams[l.upstream_index];
        spdlog::info("listener {}: https://{} -> {} ({} workers)", l.name, endpoint_text(endpoints[li]), u.url, n_workers);
    }
    if (admin) spdlog::info("admin: http://{} (/metrics, /healthz, /readyz)", endpoint_text(admin->local_endpoint()));

    // Signals: first SIGINT/SIGTERM drains, a second one stops at once. SIGHUP is caught so that a
    // stray hang-up does not kill the proxy; configuration reload arrives with a later release.
    asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
    asio::steady_timer drain_deadline(control);
    asio::steady_timer hard_stop(control);
    std::function<void(const net::error_code&, int)> on_signal = [&](const net::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            spdlog::warn("SIGHUP received: configuration reload is not supported by this version; still serving");
            signals.async_wait(on_signal);
            return;
        }
        if (draining.exchange(true)) {
            spdlog::warn("second signal: stopping now");
            for (auto& w : workers) w->io.stop();
            return;
        }
        spdlog::info("{} received: draining (up to {} ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
                     cfg.server.drain_timeout.count());
        for (auto& wp : workers) {
            worker* w = wp.get();
            asio::post(w->io, [w] {
                for (auto& acc : w->acceptors) {
                    net::error_code cec;
                    acc->close(cec);
                }
                w->ctx.begin_drain();
                w->flush_timer.cancel();
            });
        }
        drain_deadline.expires_after(cfg.server.drain_timeout);
        drain_deadline.async_wait([&](const net::error_code& tec) {
            if (tec) return;
            spdlog::warn("drain deadline reached: closing remaining connections");
            for (auto& wp : workers) {
                worker* w = wp.get();
                asio::post(w->io, [w] { w->ctx.connections().cancel_all(); });
            }
            hard_stop.expires_after(1s);
            hard_stop.async_wait([&](const net::error_code& hec) {
                if (hec) return;
                for (auto& w : workers) w->io.stop();
            });
        });
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);

    control.run();
    for (auto& w : workers)
        if (w->thread.joinable()) w->thread.join();
    spdlog::info("stopped: {}", render_summary(stats));
    return 0;
}

}  // namespace atsgate::server
