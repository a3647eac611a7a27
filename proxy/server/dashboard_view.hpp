#pragma once
// Filling the dashboard's view (dashboard.hpp) from the live state: the snapshot's listeners,
// audit findings, certificates, routes and members, the process (status.hpp's process_status),
// the reload history, the workers' counters and the recent refusals. The page itself is rendered
// from the view alone (render_dashboard), so that part stays pure and unit-tested.

#include "proxy/downstream/stats.hpp"
#include "proxy/server/dashboard.hpp"
#include "proxy/server/status.hpp"
#include "proxy/snapshot/snapshot.hpp"
#include "tls/fleet.hpp"

#include <deque>
#include <vector>

namespace atsgate::server {

// `acme`: the ACME certificate task, or null without [acme] (no ACME table).
// Everything but session, refresh_seconds and minutes (the server sets those). Reads atomics
// (counters, member health); control thread.
dashboard_view make_dashboard_view(const snapshot::snapshot& snap, const process_status& process,
                                   const std::deque<reload_record>& reloads,
                                   const std::vector<const downstream::stats*>& workers,
                                   const std::vector<tls::refused_handshake>& recent_refusals,
                                   const acme::manager* acme = nullptr);

}  // namespace atsgate::server
