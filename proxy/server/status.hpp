#pragma once
// GET /status: the live snapshot (listeners with certificates, routes and fleet insight; upstream
// members and their health), the process (generation, uptime, workers, drain, reloads) and the
// workers' handshake counters, as one JSON object. The README's /status section names its fields.

#include "proxy/acme/manager.hpp"
#include "proxy/downstream/stats.hpp"
#include "proxy/snapshot/snapshot.hpp"
#include "tls/fleet.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::server {

// One reload attempt as /status and the dashboard show it.
struct reload_record {
    std::int64_t at = 0;  // unix time
    std::string trigger;
    bool ok = false;
    std::uint64_t generation = 0;  // live after the attempt
    std::string message;           // the reply text, bounded
};

// What /status reports of the process itself (the server fills it on each request).
struct process_status {
    std::int64_t now = 0;      // unix seconds
    std::int64_t started = 0;  // unix seconds
    std::chrono::steady_clock::time_point mono;  // for member ejections
    std::size_t workers = 0;
    bool draining = false;
    std::uint64_t reloads_ok = 0, reloads_refused = 0;
    std::optional<reload_record> last_reload;
};

// The JSON text (no trailing newline). Reads atomics (counters, member health); control thread.
// `acme`: the ACME certificate task ([acme] configured), or null ("acme": null).
std::string render_status(const snapshot::snapshot& snap, const process_status& process,
                          const std::vector<const downstream::stats*>& workers,
                          const std::vector<tls::refused_handshake>& recent_refusals,
                          const acme::manager* acme = nullptr);

}  // namespace atsgate::server
