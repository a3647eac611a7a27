#pragma once
// proxy/server/: the process: workers and their threads, signals, reloads and the drain
// (server.cpp), the admin endpoint and its pages (admin.cpp, dashboard.cpp, admin_session.cpp),
// /metrics (metrics.cpp, ops_metrics.cpp, prometheus.hpp), log formats and sinks, the file watch
// and sd_notify, and how the ACME certificates join the snapshots (acme_support.cpp). May use every
// layer below it (listener, downstream, cluster, snapshot, acme, http, net, tls, config, util) and
// spdlog. Used by cli.
//
// The process's data plane and its control: one io_context and thread per worker, each with its
// own acceptors (SO_REUSEPORT), upstream pools, counters and access-log buffer; a control thread
// (the caller's) handling signals, reloads, the drain, active health checks and the admin endpoint.

#include "proxy/server/file_watch.hpp"
#include "proxy/acme/challenge_board.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <memory>
#include <string>

namespace atsgate::server {

// Binds every listener (and [admin]), serves until SIGINT/SIGTERM, drains gracefully (stop
// accepting, finish in-flight requests up to server.drain_timeout, then close the rest; a second
// signal stops at once) and prints the counters. SIGHUP and POST /reload re-read `config_path`:
// the new snapshot is validated and audited first and swapped in atomically only when clean;
// connections in flight finish on the snapshot they started with; a rejected reload keeps the old
// one and says why. `health` holds the member health objects `initial` was built with.
// Returns the process exit code: 0 after a clean shutdown, 1 when a socket could not be bound
// (nothing is served then). Call from the main thread; blocks until shutdown.
// Applies the configured log level to spdlog (process-wide). Used at start and on every reload.
void set_log_level(config::log_level level);

// `loaded`: the content hashes of the configuration and the files it names, taken before they
// were read for `initial` (file_watch::note_before_reading): server.watch's baseline, so that a
// file replaced while atsgate was starting is still picked up. `board`: where the ACME task
// publishes challenges (the one `initial` was built with; see acme_support.hpp), null without
// [acme].
int run(std::string config_path, std::shared_ptr<const snapshot::snapshot> initial,
        std::unique_ptr<snapshot::shared_state> health, file_watch::fingerprint loaded = {},
        std::shared_ptr<acme::challenge_board> board = nullptr);

// The configuration file as server.watch names it (absolute, normalised).
std::string watched_config_path(const std::string& config_path);

}  // namespace atsgate::server
