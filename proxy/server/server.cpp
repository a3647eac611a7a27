#include "proxy/server/server.hpp"

#include "config/loader.hpp"
#include "proxy/cluster/health_checker.hpp"
#include "proxy/cluster/warmup.hpp"
#include "proxy/downstream/worker_context.hpp"
#include "proxy/listener/acceptor.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/server/acme_support.hpp"
#include "proxy/server/access_sink.hpp"
#include "proxy/server/admin.hpp"
#include "proxy/server/dashboard_view.hpp"
#include "proxy/server/file_watch.hpp"
#include "proxy/server/log_format.hpp"
#include "tls/fleet.hpp"
#include "tls/peer_info.hpp"
#include "proxy/server/metrics.hpp"
#include "proxy/server/ops_metrics.hpp"
#include "proxy/server/sd_notify.hpp"
#include "proxy/server/status.hpp"
#include "proxy/snapshot/store.hpp"
#include "util/host_port.hpp"
#include "util/json.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <deque>
#include <ctime>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace atsgate::server {

namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;

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

std::string endpoint_text(const net::tcp::endpoint& ep) {
    return util::host_port(ep.address().to_string(), ep.port());
}

// A listener's binding identity: a reload keeps the sockets of listeners whose key is unchanged.
std::string key_of(const config::listener& l) {
    return l.name + "|" + (l.kind == config::listener_kind::scep ? "scep" : "https") + "|" + l.address + "|" +
           std::to_string(l.port);
}

struct worker {
    explicit worker(std::uint64_t seed) : ctx(io, seed) {}
    asio::io_context io{1};  // concurrency hint 1: one thread runs it
    downstream::worker_context ctx;
    std::map<std::string, std::unique_ptr<net::tcp_acceptor>> acceptors;  // by listener key
    std::shared_ptr<spdlog::logger> access_log;
    net::steady_timer flush_timer{io};
    std::unique_ptr<snapshot::cache> snapshots;
    std::thread thread;
};

net::awaitable<void> flush_loop(worker& w) {
    for (;;) {
        w.flush_timer.expires_after(250ms);
        auto [ec] = co_await w.flush_timer.async_wait();
        if (w.access_log) w.access_log->flush();
        if (ec || w.ctx.draining()) co_return;
    }
}

using json = util::json_writer;

class server {
public:
    server(std::string path, std::shared_ptr<const snapshot::snapshot> initial,
           std::unique_ptr<snapshot::shared_state> health, file_watch::fingerprint loaded,
           std::shared_ptr<acme::challenge_board> board)
        : path_(std::move(path)),
          store_(initial),
          state_(std::move(health)),
          checker_(control_),
          generation_(initial->generation),
          started_(std::time(nullptr)),
          loaded_at_start_(std::move(loaded)),
          board_(std::move(board)) {}

    int run();

private:
    std::shared_ptr<const snapshot::snapshot> current() const { return store_.load(); }

    // Opens one listening socket per worker for every listener of `snap` whose key is not open yet.
    // All or nothing: on the first failure every socket opened here is closed and false returned.
    bool open_new_listeners(const snapshot::snapshot& snap, std::map<std::string, std::vector<int>>& fds, std::string& why);
    void hand_out(const std::map<std::string, std::vector<int>>& fds, const snapshot::snapshot& snap);
    void close_removed(const snapshot::snapshot& snap);
    void apply_runtime_settings(const snapshot::snapshot& snap);

    // Reloads and records the outcome (trigger: "SIGHUP" or "admin") for /status and /metrics, so a
    // refused SIGHUP reload is visible without reading the log.
    admin_reply reload(const char* trigger);
    // Builds `cfg` (with the ACME certificates) and, when it builds and passes the audit, makes it
    // live (`what` names it in logs and replies: "reload", "acme").
    admin_reply install(config::config cfg, const std::string& what, std::string report);
    // The ACME task changed the served certificates: rebuild the live configuration with them.
    void acme_changed();
    // [acme]: (re)configures the ACME task from `cfg`; false with `why` when storage or the CA
    // bundle is unusable.
    bool configure_acme(const config::config& cfg, std::string& why);
    admin_reply set_weights(std::string_view listener, std::string_view route,
                            const std::vector<std::pair<std::string, std::uint32_t>>& weights);
    process_status process() const;  // what /status and the dashboard say of the process
    admin_reply status();
    admin_reply dashboard(bool session, unsigned refresh_seconds);
    // Adds the workers' counters to the dashboard's per-minute series (control thread; every
    // sample_interval and before each dashboard page).
    void sample_counters();
    void schedule_sampling();
    void begin_drain(int sig);
    // Why `next` may not be applied while the admin endpoint stays bound where it is ("" if it may):
    // the loopback-or-token rule of [admin], judged against the address actually bound.
    std::string admin_token_refusal(const config::config& next) const;

    // The phases of run(), in order.
    void create_workers(const config::config& cfg);
    bool bind_sockets(const snapshot::snapshot& initial, std::map<std::string, std::vector<int>>& fds);
    void start_serving(const std::map<std::string, std::vector<int>>& fds,
                       const std::shared_ptr<const snapshot::snapshot>& initial);
    void install_admin_handlers();
    void schedule_ticket_rotation();
    void start_threads();
    void log_startup(const config::config& cfg) const;
    void on_signal(const net::error_code& ec, int sig);
    void notify_ready();
    void finish();

    std::string path_;
    asio::io_context control_{1};
    snapshot::store store_;
    std::unique_ptr<snapshot::shared_state> state_;
    asio::steady_timer rotation_timer_{control_};
    cluster::health_checker checker_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<const downstream::stats*> stats_;
    std::set<std::string> open_keys_;
    std::uint64_t generation_;
    std::atomic<bool> draining_{false};
    std::unique_ptr<net::tcp_acceptor> admin_;
    std::optional<net::tcp::endpoint> admin_bound_;  // where admin_ listens (fixed until restart)
    downstream::connection_slots slots_;             // limits.max_connections, shared by the workers
    asio::signal_set signals_{control_, SIGINT, SIGTERM, SIGHUP};
    admin_handlers handlers_;
    std::int64_t started_;
    asio::steady_timer drain_deadline_{control_};
    asio::steady_timer hard_stop_{control_};
    std::size_t finished_ = 0;
    std::optional<reload_record> last_reload_;
    std::deque<reload_record> reload_history_;  // newest first, at most max_reload_history
    static constexpr std::size_t max_reload_history = 10;
    // Dashboard chart columns: completed handshakes, then refusals by tls::refusal (1..), then
    // would-refuse handshakes by tls::refusal (1..).
    static constexpr std::size_t reasons = tls::refusal_count - 1;
    minute_series series_{1 + 2 * reasons};
    tls::refusal_log refusals_;  // recent refused / would-refuse handshakes, written by the workers
    asio::steady_timer sample_timer_{control_};
    std::uint64_t reloads_ok_ = 0, reloads_refused_ = 0;
    sd_notifier notify_ = sd_notifier::from_environment();  // Type=notify readiness (sd_notify.hpp)
    std::int64_t config_loaded_at_ = started_;  // start, or the last applied reload (unix seconds)
    std::unique_ptr<file_watch> watch_;  // server.watch = true: reload when a named file changes
    file_watch::fingerprint loaded_at_start_;  // the files' contents before the start read them
    // Starts, re-targets or stops watch_ after the start and every reload (the file set follows the
    // live configuration). `loaded`: the contents before the load read them (the baseline).
    void rewatch(const file_watch::fingerprint& loaded);
    // Re-reads the configuration; `before` gets the content hashes of the files it names before
    // they are read (the configuration's own are already in it).
    admin_reply do_reload(file_watch::fingerprint& before);
    std::shared_ptr<acme::challenge_board> board_;  // the one the snapshots answer challenges from
    std::unique_ptr<acme::manager> acme_;           // [acme]: the certificate task (null without)
    bool acme_rebuild_posted_ = false;
};

bool server::open_new_listeners(const snapshot::snapshot& snap, std::map<std::string, std::vector<int>>& fds,
                                std::string& why) {
    auto close_all = [&] {
        for (auto& [k, v] : fds)
            for (int fd : v) ::close(fd);
        fds.clear();
    };
    // "address|port" of the open listeners this snapshot drops (renamed, or another kind on the same
    // port): those ports are our own, so a new listener may bind them next to the old sockets
    // (SO_REUSEPORT) without the nobody-holds-it check; close_removed() closes the old ones next.
    std::set<std::string> released;
    {
        std::set<std::string> wanted;
        for (const auto& l : snap.cfg.listeners) wanted.insert(key_of(l));
        for (const auto& k : open_keys_)
            if (wanted.count(k) == 0) released.insert(k.substr(k.find('|', k.find('|') + 1) + 1));
    }
    for (const auto& l : snap.cfg.listeners) {
        const std::string key = key_of(l);
        if (open_keys_.count(key) != 0 || fds.count(key) != 0) continue;
        net::error_code ec;
        const auto addr = asio::ip::make_address(l.address, ec);
        const net::tcp::endpoint ep(addr, l.port);
        if (!ec && released.count(l.address + "|" + std::to_string(l.port)) == 0) ec = listener::check_port_free(ep);
        if (ec) {
            why = "listener " + l.name + ": cannot bind " + endpoint_text(ep) + ": " + ec.message();
            close_all();
            return false;
        }
        auto& v = fds[key];
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            const int fd = listener::open_listen_socket(ep, ec);
            if (fd < 0) {
                why = "listener " + l.name + ": cannot listen on " + endpoint_text(ep) + ": " + ec.message();
                close_all();
                return false;
            }
            v.push_back(fd);
        }
    }
    return true;
}

void server::hand_out(const std::map<std::string, std::vector<int>>& fds, const snapshot::snapshot& snap) {
    for (const auto& [key, v] : fds) {
        std::string name = key.substr(0, key.find('|'));
        const auto& l = snap.cfg.listeners[static_cast<std::size_t>(snap.listener_index(name))];
        const bool v6 = asio::ip::make_address(l.address).is_v6();
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            worker* w = workers_[i].get();
            const int fd = v[i];
            asio::post(w->io, [w, key, name, fd, v6] {
                auto acc = std::make_unique<net::tcp_acceptor>(w->io);
                net::error_code ec;
                acc->assign(v6 ? net::tcp::v6() : net::tcp::v4(), fd, ec);
                if (ec) {
                    spdlog::error("listener {}: cannot adopt socket: {}", name, ec.message());
                    ::close(fd);
                    return;
                }
                asio::co_spawn(w->io, listener::accept_loop(*acc, name, w->ctx, *w->snapshots),
                               [](std::exception_ptr e) { log_exception(e, "accept loop"); });
                w->acceptors[key] = std::move(acc);
            });
        }
        open_keys_.insert(key);
    }
}

void server::close_removed(const snapshot::snapshot& snap) {
    std::set<std::string> wanted;
    for (const auto& l : snap.cfg.listeners) wanted.insert(key_of(l));
    for (auto it = open_keys_.begin(); it != open_keys_.end();) {
        if (wanted.count(*it) != 0) {
            ++it;
            continue;
        }
        const std::string key = *it;
        for (auto& wp : workers_) {
            worker* w = wp.get();
            asio::post(w->io, [w, key] {
                auto a = w->acceptors.find(key);
                if (a == w->acceptors.end()) return;
                net::error_code ec;
                a->second->close(ec);
                // The accept loop still references the acceptor until its aborted accept completes:
                // destroy it after that, on this thread.
                asio::post(w->io, [w, key] { w->acceptors.erase(key); });
            });
        }
        spdlog::info("listener {} closed", key.substr(0, key.find('|')));
        it = open_keys_.erase(it);
    }
}

void server::apply_runtime_settings(const snapshot::snapshot& snap) {
    set_log_level(snap.cfg.server.level);
    set_event_log_format(snap.cfg.server.format);
    const bool access = snap.cfg.server.access_log;
    for (auto& wp : workers_) {
        worker* w = wp.get();
        const auto format = snap.cfg.server.format;
        asio::post(w->io, [w, access, format] {
            set_access_log_format(*w->access_log, format);
            w->ctx.set_access_log_json(format == config::log_format::json);
            w->ctx.set_access_log(access ? w->access_log.get() : nullptr);
        });
    }
    if (snap.cfg.admin) handlers_.token = snap.cfg.admin->token;
}

// The configuration file and every file it names: what server.watch follows.
std::vector<std::string> watched_files(const std::string& path, const config::config& cfg) {
    std::vector<std::string> files{watched_config_path(path)};
    files.insert(files.end(), cfg.files.begin(), cfg.files.end());
    return files;
}

void server::rewatch(const file_watch::fingerprint& loaded) {
    const auto snap = current();
    if (!snap->cfg.server.watch || draining_.load()) {
        if (watch_) watch_->stop();
        return;
    }
    if (!watch_)
        watch_ = std::make_unique<file_watch>(control_, std::chrono::milliseconds(500), [this](const std::string& what) {
            spdlog::info("watch: {} changed: reloading {}", what, path_);
            reload("watch");
        });
    std::string error;
    if (!watch_->watch(watched_files(path_, snap->cfg), error, &loaded))
        spdlog::error("watch: cannot watch the configuration's files: {}", error);
}

admin_reply server::reload(const char* trigger) {
    const bool notify = !draining_.load();  // no READY=1 after STOPPING=1
    if (notify) notify_.reloading(std::string("reloading (") + trigger + ")");
    // The files as they are before the reload reads them: the watch's baseline afterwards, so that
    // a file replaced during the reload is reported (and reloaded) again.
    file_watch::fingerprint loaded;
    file_watch::note_before_reading(watched_files(path_, current()->cfg), loaded);
    admin_reply r = do_reload(loaded);
    if (notify)
        notify_.ready(r.status == 200 ? "serving generation " + std::to_string(generation_)
                                      : "reload refused (" + std::string(trigger) + "); serving generation " +
                                            std::to_string(generation_));
    reload_record rec;
    rec.at = static_cast<std::int64_t>(std::time(nullptr));
    rec.trigger = trigger;
    rec.ok = r.status == 200;
    rec.generation = generation_;
    constexpr std::size_t max_message = 4096;
    rec.message = r.body.size() > max_message ? r.body.substr(0, max_message) + "...\n" : r.body;
    ++(rec.ok ? reloads_ok_ : reloads_refused_);
    reload_history_.push_front(rec);
    if (reload_history_.size() > max_reload_history) reload_history_.pop_back();
    if (rec.ok) config_loaded_at_ = rec.at;
    rewatch(loaded);
    last_reload_ = std::move(rec);
    return r;
}

admin_reply server::do_reload(file_watch::fingerprint& before) {
    if (draining_.load()) return {409, "text/plain; charset=utf-8", "draining: reload refused\n"};
    std::string report;
    auto loaded = config::load_file(path_);
    for (const auto& d : loaded.diags) report += d.to_string() + "\n";
    if (!loaded.value) {
        spdlog::error("reload refused: configuration errors; still serving generation {}\n{}", generation_, report);
        return {409, "text/plain; charset=utf-8", "reload refused: configuration errors\n" + report};
    }
    std::string acme_why;
    if (!configure_acme(*loaded.value, acme_why)) {
        spdlog::error("reload refused: {}; still serving generation {}", acme_why, generation_);
        return {409, "text/plain; charset=utf-8", "reload refused: " + acme_why + "\n"};
    }
    const auto old = current();
    if (loaded.value->server.workers != old->cfg.server.workers)
        spdlog::warn("reload: server.workers changes take effect at the next restart");
    if (const std::string why = admin_token_refusal(*loaded.value); !why.empty()) {
        spdlog::error("reload refused: {}; still serving generation {}", why, generation_);
        return {409, "text/plain; charset=utf-8", "reload refused: " + why + "\n" + report};
    }
    if (loaded.value->admin.has_value() != old->cfg.admin.has_value() ||
        (loaded.value->admin && (loaded.value->admin->address != old->cfg.admin->address ||
                                 loaded.value->admin->port != old->cfg.admin->port)))
        spdlog::warn("reload: the admin endpoint address changes take effect at the next restart");

    file_watch::note_before_reading(loaded.value->files, before);  // before build() reads them
    return install(std::move(*loaded.value), "reload", std::move(report));
}

admin_reply server::install(config::config cfg, const std::string& what, std::string report) {
    std::vector<std::string> rejected;
    auto built = build_with_acme(std::move(cfg), acme_.get(), *state_, static_cast<std::int64_t>(std::time(nullptr)),
                                 generation_ + 1, &rejected);
    for (const auto& line : rejected) spdlog::error("{}", line);
    for (const auto& d : built.diags) report += d.to_string() + "\n";
    if (!built.value || config::has_errors(built.diags)) {
        spdlog::error("{} refused: the new configuration cannot be built; still serving generation {}\n{}", what,
                      generation_, report);
        return {409, "text/plain; charset=utf-8", what + " refused: build errors\n" + report};
    }
    if (built.audit.any(tls::status::fail) || built.audit.any(tls::status::unknown)) {
        const std::string text = tls::render_text(built.audit);
        spdlog::error("{} refused: the new configuration fails the ATS audit; still serving generation {}\n{}", what,
                      generation_, text);
        return {409, "text/plain; charset=utf-8", what + " refused: ATS audit failed\n" + text};
    }
    std::map<std::string, std::vector<int>> fds;
    std::string why;
    if (!open_new_listeners(*built.value, fds, why)) {
        spdlog::error("{} refused: {}; still serving generation {}", what, why, generation_);
        return {409, "text/plain; charset=utf-8", what + " refused: " + why + "\n"};
    }
    // Point of no return: publish, then move sockets, settings and health checks along.
    generation_ = built.value->generation;
    store_.publish(built.value);
    hand_out(fds, *built.value);
    close_removed(*built.value);
    apply_runtime_settings(*built.value);
    checker_.reconcile(*built.value);
    for (auto& wp : workers_) {
        worker* w = wp.get();
        auto snap = built.value;
        asio::post(w->io, [w, snap] {
            w->ctx.upstreams().retire_pools(*snap);
            cluster::warm_upstreams(w->ctx.upstreams(), snap, w->ctx.counters().upstream_connects);
        });
    }
    for (const auto& f : built.audit.findings)
        if (f.result == tls::status::warn) spdlog::warn("audit: listener {}: {} {}: {}", f.endpoint, f.id, f.subject, f.evidence);
    if (what == "reload")
        spdlog::info("reloaded {}: generation {} is live", path_, generation_);
    else
        spdlog::info("{}: generation {} is live", what, generation_);
    if (acme_) acme_->kick();  // names may have changed: re-plan at once
    return {200, "text/plain; charset=utf-8", "reloaded: generation " + std::to_string(generation_) + "\n" + report};
}

std::string server::admin_token_refusal(const config::config& next) const {
    // Only the token is applied by a reload; the address is bound once. The config check judged
    // the new file's own address, which may say loopback while the socket is still elsewhere.
    if (!admin_bound_ || !next.admin || !next.admin->token.empty() || admin_bound_->address().is_loopback()) return {};
    return "[admin] token is empty, but the admin endpoint is bound to " + endpoint_text(*admin_bound_) +
           ", which is not loopback (the admin address changes only at a restart): keep the token, or restart "
           "atsgate to move the endpoint to loopback";
}

bool server::configure_acme(const config::config& cfg, std::string& why) {
    if (!cfg.acme) {
        if (acme_) acme_->stop();
        acme_.reset();
        return true;
    }
    if (!acme_) {
        acme::manager::hooks h;
        h.log = [](int level, const std::string& line) {
            switch (level) {
                case 0: spdlog::debug("{}", line); break;
                case 1: spdlog::info("{}", line); break;
                case 2: spdlog::warn("{}", line); break;
                default: spdlog::error("{}", line); break;
            }
        };
        h.audit = [this](const std::string& id, const std::filesystem::path& candidate) {
            return audit_candidate(current()->cfg, *acme_, id, candidate.string(), *state_,
                                   static_cast<std::int64_t>(std::time(nullptr)));
        };
        h.changed = [this] { acme_changed(); };
        acme_ = std::make_unique<acme::manager>(control_.get_executor(), std::move(h), board_);
    }
    if (!acme_->configure(cfg, why)) return false;
    acme_->start();
    return true;
}

void server::acme_changed() {
    // Coalesced: several certificates approved in one pass give one rebuild.
    if (acme_rebuild_posted_ || draining_.load()) return;
    acme_rebuild_posted_ = true;
    asio::post(control_, [this] {
        acme_rebuild_posted_ = false;
        if (draining_.load()) return;
        const admin_reply r = install(current()->cfg, "acme", {});
        if (r.status != 200) spdlog::error("acme: the new certificates could not be installed; the old ones stay live");
    });
}

admin_reply server::set_weights(std::string_view listener, std::string_view route,
                                const std::vector<std::pair<std::string, std::uint32_t>>& weights) {
    std::string why;
    auto next = snapshot::with_weights(*current(), listener, route, weights, generation_ + 1, why);
    if (!next) return {404, "text/plain; charset=utf-8", why + "\n"};
    generation_ = next->generation;
    store_.publish(next);
    json j;
    j.open('{').key("listener").str(listener).key("route").str(route).key("generation").num(
        static_cast<std::int64_t>(generation_));
    j.key("weights").open('{');
    for (const auto& t : next->routes.targets(listener, route)) j.key(t.upstream).num(t.weight);
    j.close('}').close('}');
    spdlog::info("weights of route {}/{} switched (generation {}); in-flight requests finish where they are", listener,
                 route, generation_);
    return {200, "application/json", j.take() + "\n"};
}

process_status server::process() const {
    process_status p;
    p.now = static_cast<std::int64_t>(std::time(nullptr));
    p.started = started_;
    p.mono = std::chrono::steady_clock::now();
    p.workers = workers_.size();
    p.draining = draining_.load();
    p.reloads_ok = reloads_ok_;
    p.reloads_refused = reloads_refused_;
    p.last_reload = last_reload_;
    return p;
}

admin_reply server::status() {
    return {200, "application/json",
            render_status(*current(), process(), stats_, refusals_.recent(), acme_.get()) + "\n"};
}

void server::sample_counters() {
    std::vector<std::uint64_t> totals(series_.columns(), 0);
    for (const auto* st : stats_) {
        totals[0] += downstream::stats::get(st->handshakes);
        for (std::size_t r = 1; r < tls::refusal_count; ++r) {
            totals[r] += downstream::stats::get(st->refused[r]);
            totals[reasons + r] += downstream::stats::get(st->would_refuse[r]);
        }
    }
    series_.sample(static_cast<std::int64_t>(std::time(nullptr)), totals);
}

void server::schedule_sampling() {
    sample_timer_.expires_after(10s);
    sample_timer_.async_wait([this](const net::error_code& ec) {
        if (ec || draining_.load()) return;
        sample_counters();
        schedule_sampling();
    });
}

admin_reply server::dashboard(bool session, unsigned refresh_seconds) {
    sample_counters();
    dashboard_view v =
        make_dashboard_view(*current(), process(), reload_history_, stats_, refusals_.recent(), acme_.get());
    v.session = session;
    v.refresh_seconds = refresh_seconds;
    v.minutes = series_.last_hour(v.now);
    return {200, "text/html; charset=utf-8", render_dashboard(v), {}};
}

void server::begin_drain(int sig) {
    const auto timeout = current()->cfg.server.drain_timeout;
    spdlog::info("{} received: draining (up to {} ms)", sig == SIGINT ? "SIGINT" : "SIGTERM", timeout.count());
    notify_.stopping("draining (up to " + std::to_string(timeout.count()) + " ms)");
    if (watch_) watch_->stop();
    checker_.stop();
    rotation_timer_.cancel();
    sample_timer_.cancel();
    for (auto& wp : workers_) {
        worker* w = wp.get();
        asio::post(w->io, [w] {
            for (auto& [key, acc] : w->acceptors) {
                net::error_code cec;
                acc->close(cec);
            }
            w->ctx.begin_drain();
            w->flush_timer.cancel();
        });
    }
    drain_deadline_.expires_after(timeout);
    drain_deadline_.async_wait([this](const net::error_code& tec) {
        if (tec) return;
        spdlog::warn("drain deadline reached: closing remaining connections");
        for (auto& wp : workers_) {
            worker* w = wp.get();
            asio::post(w->io, [w] { w->ctx.connections().cancel_all(); });
        }
        hard_stop_.expires_after(1s);
        hard_stop_.async_wait([this](const net::error_code& hec) {
            if (hec) return;
            for (auto& w : workers_) w->io.stop();
        });
    });
}

// Worker objects (io_context, counters, access-log buffer, snapshot cache); no thread runs yet.
void server::create_workers(const config::config& cfg) {
    unsigned n_workers = cfg.server.workers;
    if (n_workers == 0) n_workers = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n_workers; ++i) {
        auto w = std::make_unique<worker>(0x9E3779B97F4A7C15ull * (i + 1) ^ static_cast<std::uint64_t>(::getpid()));
        auto sink = std::make_shared<access_sink>(STDOUT_FILENO);
        w->access_log = std::make_shared<spdlog::logger>("access", std::move(sink));
        set_access_log_format(*w->access_log, cfg.server.format);
        w->ctx.set_access_log_json(cfg.server.format == config::log_format::json);
        w->access_log->set_level(spdlog::level::info);
        w->access_log->flush_on(spdlog::level::off);
        w->ctx.set_access_log(cfg.server.access_log ? w->access_log.get() : nullptr);
        w->snapshots = std::make_unique<snapshot::cache>(store_);
        w->ctx.set_snapshots(w->snapshots.get());
        w->ctx.set_slots(&slots_);
        w->ctx.set_refusals(&refusals_);
        slots_.add_worker(w->ctx);
        stats_.push_back(&w->ctx.counters());
        workers_.push_back(std::move(w));
    }
}

// Every socket is bound before anything starts: a busy port is an error, never shared. On failure
// everything opened here is closed again and the reason logged.
bool server::bind_sockets(const snapshot::snapshot& initial, std::map<std::string, std::vector<int>>& fds) {
    std::string why;
    if (!open_new_listeners(initial, fds, why)) {
        spdlog::error("{}", why);
        return false;
    }
    const config::config& cfg = initial.cfg;
    if (!cfg.admin) return true;
    net::error_code ec;
    const net::tcp::endpoint ep(asio::ip::make_address(cfg.admin->address, ec), cfg.admin->port);
    admin_ = std::make_unique<net::tcp_acceptor>(control_);
    if (!ec) ec = listener::check_port_free(ep);
    if (!ec) {
        admin_->open(ep.protocol(), ec);
        if (!ec) admin_->set_option(net::tcp::acceptor::reuse_address(true), ec);
        // An IPv4-mapped address needs a dual-stack socket, whatever net.ipv6.bindv6only says.
        if (!ec && ep.address().is_v6() && ep.address().to_v6().is_v4_mapped())
            admin_->set_option(asio::ip::v6_only(false), ec);
        if (!ec) admin_->bind(ep, ec);
        if (!ec) admin_->listen(64, ec);
    }
    if (ec) {
        spdlog::error("admin: cannot bind {}: {}", endpoint_text(ep), ec.message());
        for (auto& [k, v] : fds)
            for (int fd : v) ::close(fd);
        fds.clear();
        return false;
    }
    admin_bound_ = admin_->local_endpoint(ec);
    if (ec) admin_bound_ = ep;
    handlers_.token = cfg.admin->token;
    return true;
}

// Hands the listening sockets to the workers and queues each worker's start-up work (accept loops,
// access-log flushing, upstream warm-up), then the control thread's: the admin endpoint, active
// health checks and ticket key rotation. Nothing runs until start_threads() / control_.run().
void server::start_serving(const std::map<std::string, std::vector<int>>& fds,
                           const std::shared_ptr<const snapshot::snapshot>& initial) {
    hand_out(fds, *initial);
    for (auto& wp : workers_) {
        asio::co_spawn(wp->io, flush_loop(*wp), [](std::exception_ptr e) { log_exception(e, "access log flush"); });
        worker* w = wp.get();
        asio::post(w->io, [w, initial] { cluster::warm_upstreams(w->ctx.upstreams(), initial, w->ctx.counters().upstream_connects); });
    }
    install_admin_handlers();
    if (admin_)
        asio::co_spawn(control_, admin_loop(*admin_, handlers_), [](std::exception_ptr e) { log_exception(e, "admin"); });
    checker_.reconcile(*initial);
    if (initial->cfg.acme) {
        std::string acme_why;
        if (!configure_acme(initial->cfg, acme_why))
            spdlog::error("acme: {}: certificates are not ordered or renewed", acme_why);
    }
    schedule_ticket_rotation();
    schedule_sampling();
}

void server::install_admin_handlers() {
    handlers_.metrics = [this] {
        std::string text = render_metrics(stats_);
        text += render_fleet_metrics(*current());
        ops_facts facts;
        facts.reloads_ok = reloads_ok_;
        facts.reloads_refused = reloads_refused_;
        facts.generation = generation_;
        facts.now = static_cast<std::int64_t>(std::time(nullptr));
        facts.mono = std::chrono::steady_clock::now();
        facts.started = started_;
        facts.draining = draining_.load();
        facts.last_reload_ok = !last_reload_ || last_reload_->ok;
        facts.last_good_config = config_loaded_at_;
        text += render_ops_metrics(*current(), facts);
        text += render_acme_metrics(stats_, acme_.get());
        return admin_reply{200, "text/plain; version=0.0.4; charset=utf-8", std::move(text)};
    };
    handlers_.status = [this] { return status(); };
    handlers_.dashboard = [this](bool session, unsigned refresh) { return dashboard(session, refresh); };
    handlers_.reload = [this] { return reload("admin"); };
    handlers_.weights = [this](std::string_view l, std::string_view r,
                               const std::vector<std::pair<std::string, std::uint32_t>>& w) { return set_weights(l, r, w); };
    handlers_.draining = [this] { return draining_.load(); };
}

// Ticket key rotation: checked every minute; each listener rotates on its own schedule.
void server::schedule_ticket_rotation() {
    rotation_timer_.expires_after(1min);
    rotation_timer_.async_wait([this](const net::error_code& ec) {
        if (ec || draining_.load()) return;
        state_->rotate_due(current()->cfg);
        schedule_ticket_rotation();
    });
}

// One thread per worker. When the last one has finished (drained or stopped), the control loop stops.
void server::start_threads() {
    for (auto& wp : workers_) {
        worker* w = wp.get();
        w->thread = std::thread([this, w] {
            for (;;) {
                try {
                    w->io.run();
                    break;
                } catch (const std::exception& e) {
                    spdlog::error("worker loop: unexpected exception: {}", e.what());
                }
            }
            if (w->access_log) w->access_log->flush();
            asio::post(control_, [this] {
                if (++finished_ == workers_.size()) {
                    net::error_code ec;
                    if (admin_) admin_->close(ec);
                    control_.stop();
                }
            });
        });
    }
}

void server::log_startup(const config::config& cfg) const {
    for (const auto& l : cfg.listeners) {
        std::string target = l.upstream.empty() ? std::to_string(l.routes.size()) + " route(s)" : l.upstream;
        spdlog::info("listener {}: {}://{} -> {} ({} workers)", l.name,
                     l.kind == config::listener_kind::scep ? "http" : "https", util::host_port(l.address, l.port),
                     target, workers_.size());
    }
    if (admin_bound_)
        spdlog::info("admin: http://{} (/metrics, /status, /healthz, /readyz, POST /reload)", endpoint_text(*admin_bound_));
}

// Signals: SIGHUP reloads; the first SIGINT/SIGTERM drains, a second one stops at once.
void server::on_signal(const net::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
        spdlog::info("SIGHUP received: reloading {}", path_);
        reload("SIGHUP");
    } else if (draining_.exchange(true)) {
        spdlog::warn("second signal: stopping now");
        for (auto& w : workers_) w->io.stop();
        return;
    } else {
        begin_drain(sig);
    }
    signals_.async_wait([this](const net::error_code& e, int s) { on_signal(e, s); });
}

// Every socket is bound and the workers run: tell the service manager (Type=notify).
void server::notify_ready() {
    rewatch(loaded_at_start_);  // server.watch: start watching the configuration's files
    if (!notify_.error().empty()) spdlog::warn("{}: not notifying the service manager", notify_.error());
    if (const auto nec = notify_.ready("serving generation " + std::to_string(generation_)))
        spdlog::warn("NOTIFY_SOCKET {}: {}", notify_.address(), nec.message());
}

// After control_.run() returned: every worker has stopped. Joins them and prints the counters.
void server::finish() {
    checker_.stop();
    for (auto& w : workers_)
        if (w->thread.joinable()) w->thread.join();
    spdlog::info("stopped: {}", render_summary(stats_));
}

int server::run() {
    const auto initial = current();
    create_workers(initial->cfg);
    std::map<std::string, std::vector<int>> fds;
    if (!bind_sockets(*initial, fds)) return 1;
    start_serving(fds, initial);
    start_threads();
    log_startup(initial->cfg);
    signals_.async_wait([this](const net::error_code& e, int s) { on_signal(e, s); });
    notify_ready();
    control_.run();
    finish();
    return 0;
}

}  // namespace

void set_log_level(config::log_level level) {
    switch (level) {
        case config::log_level::trace: spdlog::set_level(spdlog::level::trace); return;
        case config::log_level::debug: spdlog::set_level(spdlog::level::debug); return;
        case config::log_level::info: spdlog::set_level(spdlog::level::info); return;
        case config::log_level::warn: spdlog::set_level(spdlog::level::warn); return;
        case config::log_level::error: spdlog::set_level(spdlog::level::err); return;
        case config::log_level::off: spdlog::set_level(spdlog::level::off); return;
    }
}

std::string watched_config_path(const std::string& config_path) {
    return std::filesystem::absolute(config_path).lexically_normal().string();
}

int run(std::string config_path, std::shared_ptr<const snapshot::snapshot> initial,
        std::unique_ptr<snapshot::shared_state> health, file_watch::fingerprint loaded,
        std::shared_ptr<acme::challenge_board> board) {
    server s(std::move(config_path), std::move(initial), std::move(health), std::move(loaded), std::move(board));
    return s.run();
}

}  // namespace atsgate::server
