#pragma once
// A snapshot: validated config + built TLS contexts + route table + resolved upstream addresses +
// the audit of exactly these contexts. Immutable once built; published as shared_ptr<const> by
// the server's snapshot store. Connections pin the snapshot they started with.
//
// Its own layer (not in STYLE.md's table): it joins config, tls and router, and both downstream
// (which reads it) and server (which builds and publishes it) sit above it.

#include "config/config.hpp"
#include "config/diagnostic.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/router/route_table.hpp"
#include "tls/audit.hpp"
#include "tls/server_context.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::snapshot {

struct listener_runtime {
    tls::server_context tls;
    // Hosts whose http:// Location URLs are rewritten to https (besides the request's Host):
    // server_name and the upstream's host[:port]. Views into own_host_storage.
    std::vector<std::string> own_host_storage;
    std::vector<std::string_view> own_hosts;
};

struct upstream_runtime {
    std::vector<net::tcp::endpoint> endpoints;  // resolved once at build time, tried in order
};

struct snapshot {
    config::config cfg;
    std::vector<listener_runtime> listeners;  // same order as cfg.listeners
    std::vector<upstream_runtime> upstreams;  // same order as cfg.upstreams
    router::route_table routes;
    tls::report audit;
    std::uint64_t generation = 0;
};

struct build_result {
    // Set when every listener context was built and every upstream resolved (the audit may still
    // contain FAILs: the caller decides; `run` refuses to serve then).
    std::shared_ptr<const snapshot> value;
    config::diagnostics diags;  // config-level errors (exit 2) and warnings
    tls::report audit;          // always computed from whatever facts could be gathered
};

// Builds contexts for every listener, resolves upstream hosts (blocking DNS: control plane only)
// and audits the result at time `now` (unix seconds). Never throws; collects every problem.
build_result build(config::config cfg, std::int64_t now, std::uint64_t generation);

}  // namespace atsgate::snapshot
