#pragma once
// proxy/snapshot/: building a snapshot from a config (snapshot.cpp), the state kept across
// reloads (shared_state: ticket keys, member health, fleet counters) and the store publishing it.
// May use: config, tls, router, upstream, net, util.
//
// A snapshot: validated config + built TLS contexts + route table + resolved upstream members +
// the audit of exactly these contexts. Immutable once built; published as shared_ptr<const> by
// the snapshot store. Connections pin the snapshot they started with, so a reload never changes
// the rules under a request in flight.
//
// Its own layer (not in STYLE.md's table): it joins config, tls, router and upstream, and both
// downstream (which reads it) and server (which builds and publishes it) sit above it.

#include "config/config.hpp"
#include "config/diagnostic.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/router/route_table.hpp"
#include "proxy/upstream/health.hpp"
#include "proxy/upstream/pool.hpp"
#include "tls/audit.hpp"
#include "tls/fleet.hpp"
#include "tls/server_context.hpp"
#include "tls/ticket_keys.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace atsgate::snapshot {

// What /status shows about one served certificate.
struct certificate_summary {
    std::string subject;
    std::vector<std::string> names;  // SNI names it serves
    std::string key;                 // "EC P-256"
    std::int64_t not_after = 0;      // unix seconds
};

struct listener_runtime {
    config::listener_kind kind = config::listener_kind::https;
    // https: the built contexts. Shared between snapshots that differ only in route weights.
    std::shared_ptr<const tls::server_context> tls;
    std::shared_ptr<tls::ticket_keys> tickets;  // referenced by the contexts' ticket callback
    // Hosts whose http:// Location URLs are rewritten to https (besides the request's Host):
    // server_name, the certificates' names and the upstream members' host[:port].
    std::vector<std::string> own_hosts;
    std::vector<certificate_summary> certificates;
    // What this listener's clients offer (fleet insight). Kept across reloads by listener name
    // (shared_state::fleet), so the counts run from start; shared by every worker (atomics).
    std::shared_ptr<tls::fleet_counters> fleet;
    // ACME: names whose certificate is not issued yet (refused with certificate_pending), and on
    // plaintext listeners the HTTP-01 key authorization by token (empty: not answered here).
    std::vector<std::string> acme_pending;
    std::function<std::optional<std::string>(std::string_view token)> http01;
};

struct member_runtime {
    std::string pool_key;  // identity of the worker pools for this member (url + connection settings)
    std::shared_ptr<const upstream::member_target> target;  // cloned into each worker's pool
    std::shared_ptr<upstream::member_health> health;       // shared across workers and reloads
    std::uint32_t weight = 1;
};

struct upstream_runtime {
    std::vector<member_runtime> members;
};

struct snapshot {
    config::config cfg;
    std::vector<listener_runtime> listeners;  // same order as cfg.listeners
    std::vector<upstream_runtime> upstreams;  // same order as cfg.upstreams
    router::route_table routes;
    tls::report audit;
    std::uint64_t generation = 0;
    // The generation that built cfg, listeners and upstreams (start-up or reload). A weight switch
    // (with_weights) keeps it: snapshots with equal config_generation differ only in route weights.
    std::uint64_t config_generation = 0;

    // Index of the listener named `name`, or -1.
    int listener_index(std::string_view name) const noexcept;
};

// State that outlives snapshots, so that a reload neither forgets that a backend is down nor
// invalidates the session tickets devices hold: member health objects by member identity, and each
// listener's ticket keys. Control thread only.
class shared_state {
public:
    std::shared_ptr<upstream::member_health> health(const std::string& id);
    // Every health object still referenced (for /status).
    std::vector<std::shared_ptr<upstream::member_health>> live_health();

    // The ticket keys of listener `l`: random keys are kept across reloads; a ticket_key_file is
    // (re-)read now. Null after appending a diagnostic when the file is unusable.
    std::shared_ptr<tls::ticket_keys> tickets(const config::listener& l, config::diagnostics& diags);
    // Rotates random keys older than their listener's ticket_key_rotation (control thread timer).
    void rotate_due(const config::config& cfg);
    // The fleet counters of the listener named `name`, created on first use and kept for the
    // process's life (a listener removed and added again continues its counts).
    std::shared_ptr<tls::fleet_counters> fleet(const std::string& name);

    // ACME challenge answers, set by the server when [acme] is configured: TLS-ALPN-01 certificates
    // for the https listeners with ACME certificates, HTTP-01 key authorizations for the plaintext
    // listeners. Both are called from worker threads during handshakes and requests.
    std::shared_ptr<const tls::acme_challenges> acme_challenges;
    std::function<std::optional<std::string>(std::string_view token)> acme_http01;

private:
    std::map<std::string, std::weak_ptr<upstream::member_health>> health_;
    std::map<std::string, std::shared_ptr<tls::ticket_keys>> tickets_;  // by listener name + key file
    std::map<std::string, std::shared_ptr<tls::fleet_counters>> fleet_;  // by listener name
};

struct build_result {
    // Set when every listener context was built and every member resolved (the audit may still
    // contain FAILs: the caller decides; `run` and reload refuse to serve them).
    std::shared_ptr<const snapshot> value;
    config::diagnostics diags;  // config-level errors (exit 2) and warnings
    tls::report audit;          // always computed from whatever facts could be gathered
};

// Builds contexts for every listener, resolves upstream members (blocking DNS: control plane
// only), builds upstream TLS client contexts, and audits the result at time `now` (unix seconds).
// Never throws; collects every problem. Control thread only (uses `state`).
build_result build(config::config cfg, std::int64_t now, std::uint64_t generation, shared_state& state);

// A copy of `base` with the weights of one route's split changed (admin blue/green switch). Shares
// the TLS contexts and member health; gets `generation`. Null with `why` when the listener, route
// or upstream names are unknown or the weights would all be 0.
std::shared_ptr<const snapshot> with_weights(const snapshot& base, std::string_view listener, std::string_view route,
                                             const std::vector<std::pair<std::string, std::uint32_t>>& weights,
                                             std::uint64_t generation, std::string& why);

}  // namespace atsgate::snapshot
