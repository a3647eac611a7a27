#pragma once
// The section readers (one file each: read_server.cpp for [server] [timeouts] [limits] [admin],
// read_listener.cpp for [[listener]] with its certificates, read_route.cpp, read_upstream.cpp) and
// the pass that runs after them (resolve.cpp). Private to config/.
//
// Reading is one pass over the document that checks each table on its own and notes every
// reference to another table as written (`references`); resolve() then looks the names up, checks
// what must be unique across tables and warns about what nothing uses. So no reader depends on
// the order of tables in the file or on state left behind by another reader.

#include "config/config.hpp"
#include "config/detail_values.hpp"
#include "config/reader.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::config {

// An `upstream = "NAME"` as written.
struct upstream_ref {
    std::string key_path;  // "listener[0].upstream", "listener[0].route[1].split[0].upstream"
    std::string name;
    source_pos where;  // of the value
};

// One `split` entry of a route.
struct split_entry {
    std::size_t index = 0;              // in the file's split array
    std::optional<upstream_ref> upstream;  // set when the upstream was a string
    std::optional<std::uint32_t> weight;   // set when the weight was accepted
};

struct route_refs {
    bool matchable = true;  // host and path were accepted, so (host, path) can be compared with other routes'
    std::optional<upstream_ref> upstream;  // `upstream = "..."`: one target of weight 1
    bool has_split = false;                // split held at least one table
    std::vector<split_entry> split;        // its table entries, in file order
    source_pos split_where;
    std::string split_key_path;
};

struct listener_refs {
    std::optional<upstream_ref> upstream;  // the default target
    // `upstream` was written but is not a string, or neither upstream nor route was written
    // (already reported): unused-upstream warnings would only add noise.
    bool reference_broken = false;
    std::vector<route_refs> routes;  // parallel to listener::routes
};

// An address that will be bound: a listener or the admin endpoint.
struct endpoint {
    std::string owner;     // "listener[0]" or "admin"
    std::string key_path;  // where to point: "listener[0].port"
    source_pos where;
    std::string address;  // as written
    detail::ip_address ip;
    std::uint16_t port = 0;

    std::string text() const;  // "10.0.0.1:443", "[::1]:443"
};

// What the readers noted for resolve(), besides the config itself.
struct references {
    // The [[upstream]] array: each element's name as written (any string, valid or not), by array index.
    std::vector<std::optional<std::string>> upstream_names;
    std::vector<std::size_t> upstream_index;  // array index of each config::upstreams entry
    std::vector<listener_refs> listeners;     // parallel to config::listeners
    std::vector<endpoint> endpoints;          // in file order: listeners, then admin
};

void read_server(reader& r, const toml::table& t, server_settings& out);
void read_timeouts(reader& r, const toml::table& t, timeout_settings& out);
void read_limits(reader& r, const toml::table& t, limit_settings& out);
admin_settings read_admin(reader& r, const toml::table& t, references& refs);
acme_settings read_acme(reader& r, const toml::table& t);

// `index`: the element's index in the file's [[listener]] / [[upstream]] array.
listener read_listener(reader& r, std::size_t index, const toml::table& t, references& refs);
upstream read_upstream(reader& r, std::size_t index, const toml::table& t, references& refs);

// One [[listener.route]] of listener `l` (already read up to its routes: client_auth decides
// whether sticky = "client_cert" can work; `client_auth_refused` when its value was refused).
route read_route(reader& r, const scope& s, const listener& l, bool client_auth_refused, route_refs& refs);

// After reading: resolves every upstream_ref (upstream_index, route targets), reports unknown
// names with the known ones, duplicate names (listeners, upstreams, routes per listener, split
// targets), routes that can never match, endpoints that cannot all be bound, and warns about
// upstreams nothing routes to.
void resolve(reader& r, config& c, const references& refs);

}  // namespace atsgate::config
