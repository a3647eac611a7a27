#pragma once
// proxy/router/: the route table and nothing else. May use: config (the structs), http (target
// normalisation), util. Used by snapshot (builds it) and downstream (matches on it).
//
// Routing as a pure function: (listener, request head, sticky inputs) -> route decision. Built
// once per snapshot from the validated config; immutable afterwards; no allocation on match.
//
// Per listener, routes match on host and path prefix: among the routes whose host matches the
// request's Host (exact host first, then "*.suffix" wildcard, then host-less routes), the longest
// path prefix wins. No match: the listener's default upstream, or 404 when it has none.
// Paths are compared as the request parser normalised them (http/target.hpp; route prefixes and
// scep_path are normalised the same way when the table is built) and only on segment boundaries
// (path_covers): "/scep" matches "/scep" and "/scep/x", never "/scepfoo". The query never takes
// part. What matched is what the connection forwards: the same normalised target.
// A route forwards to one upstream, splits traffic between several by weight (blue/green), or
// answers with a static response. Splits are random per request unless the route is sticky: then a
// device key (client certificate fingerprint, a header, or a path segment) picks the target with
// weighted rendezvous hashing, so a device stays on one side while the weights do not change, and
// a weight change moves only the devices it must.
//
// kind = "scep" listeners only route SCEP requests (GET/POST on scep_path with an operation=
// query); "OPTIONS *" is answered locally (200, Allow: GET, POST); everything else gets a redirect
// to the https origin or 403.

#include "config/config.hpp"
#include "proxy/http/message.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::router {

struct decision {
    enum class kind : std::uint8_t {
        forward,       // send to `upstream`
        static_reply,  // answer with *reply
        not_found,     // no route and no default upstream: 404
        redirect,      // scep listener, non-SCEP request: 308 to redirect_origin + target
        forbidden,     // scep listener, non-SCEP request, no redirect configured: 403
        options,       // scep listener, "OPTIONS *": 200 with "Allow: <allow>" (RFC 9110 section 9.3.7)
    };
    kind what = kind::not_found;
    std::size_t upstream = 0;                        // index into config::upstreams (forward)
    const config::static_response* reply = nullptr;  // static_reply; owned by the route table
    std::string_view redirect_origin;                // redirect
    std::string_view allow;                          // options: the methods the listener serves
    std::int32_t route = -1;                         // index in the listener's routes, -1 = default
};

// Inputs for sticky splits that only the connection knows.
struct sticky_inputs {
    std::string_view client_cert_fingerprint;  // hex SHA-256 of the client certificate, "" if none
    std::uint64_t random = 0;                  // fresh random number, used by non-sticky splits
};

class route_table {
public:
    route_table() = default;
    explicit route_table(const config::config& cfg);

    // The decision for a request on listener `listener` (index into config::listeners).
    // Precondition: listener < listener count (callers take it from the same snapshot).
    decision match(std::size_t listener, const http::request_head& head, const sticky_inputs& in) const noexcept;

    // A copy with the weights of one route's split replaced (admin weight switch). `weights` maps
    // upstream names of the split to new weights; names not in the split are an error, missing ones
    // keep their weight. Returns false (and leaves *out untouched) with `why` on error.
    bool with_weights(std::string_view listener, std::string_view route,
                      const std::vector<std::pair<std::string, std::uint32_t>>& weights, route_table& out,
                      std::string& why) const;

    struct target_view {
        std::string_view upstream;
        std::uint32_t weight;
    };
    // For /status: the current targets of a named route, empty if unknown.
    std::vector<target_view> targets(std::string_view listener, std::string_view route) const;

private:
    struct target {
        std::size_t upstream = 0;
        std::string name;
        std::uint32_t weight = 1;
    };
    struct route {
        std::string name;
        std::string host;         // lower case; "*.suffix" stored as suffix with wildcard = true
        bool wildcard = false;
        std::string path = "/";  // normalised (http/target.hpp)
        bool matchable = true;   // false: the configured prefix cannot be normalised
        std::vector<target> targets;
        std::uint32_t total_weight = 0;
        config::sticky_kind sticky = config::sticky_kind::none;
        std::string sticky_name;
        std::uint32_t sticky_segment = 0;
        std::optional<config::static_response> reply;
    };
    struct listener_routes {
        std::string name;
        config::listener_kind kind = config::listener_kind::https;
        std::vector<route> routes;  // host-less last; longest prefix first within each host
        bool has_default = false;
        std::size_t default_upstream = 0;
        std::string scep_path;       // normalised
        bool scep_matchable = true;  // false: scep_path cannot be normalised (nothing is SCEP)
        std::string redirect;
    };

    decision pick(const route& r, std::int32_t index, const http::request_head& head, const sticky_inputs& in) const noexcept;

    std::vector<listener_routes> listeners_;
};

// Does the route prefix `prefix` cover `path`? Both normalised, starting with '/'. True when path
// equals prefix, or continues it with a new segment ("/scep" covers "/scep/x", not "/scepfoo");
// a prefix ending in '/' covers what is below it ("/mdm/" covers "/mdm/" and "/mdm/x", not
// "/mdm"). Pure; exposed for tests and the fuzz target.
constexpr bool path_covers(std::string_view prefix, std::string_view path) noexcept {
    const std::size_t n = prefix.size();
    if (path.size() < n || std::char_traits<char>::compare(path.data(), prefix.data(), n) != 0) return false;
    return path.size() == n || n == 0 || prefix[n - 1] == '/' || path[n] == '/';
}

// Weighted rendezvous hashing: the index of the target (weights > 0 only) with the highest score
// for `key`. Pure; exposed for tests. Returns nullopt-like SIZE_MAX when every weight is 0.
std::size_t rendezvous(std::string_view key, const std::vector<std::pair<std::string_view, std::uint32_t>>& targets) noexcept;

}  // namespace atsgate::router
