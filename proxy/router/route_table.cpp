#include "proxy/router/route_table.hpp"

#include "proxy/http/target.hpp"
#include "util/host_port.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace atsgate::router {

namespace {

std::string_view path_of(std::string_view target) noexcept { return target.substr(0, target.find('?')); }

// A configured prefix in the form request paths are compared in ("/mdm//x/" -> "/mdm/x/",
// "/%7Euser" -> "/~user"). The config reader accepts any printable prefix; one that cannot be
// normalised ("/a%2Fb", "/../x") gives nullopt: such a route never matches, exactly as no request
// with such a path ever reaches the router.
std::optional<std::string> normalized_prefix(const std::string& configured) {
    http::target_status st = http::target_status::ok;
    std::string n = http::normalized_copy(configured, &st);
    if (st != http::target_status::ok || n.empty() || n.front() != '/') return std::nullopt;
    return n;
}

// Methods a kind = "scep" listener serves (RFC 8894 section 4.1: SCEP is HTTP GET and POST).
constexpr std::string_view scep_methods = "GET, POST";

// 64-bit FNV-1a, then a SplitMix64 finaliser for good bit dispersion.
std::uint64_t hash2(std::string_view a, std::string_view b) noexcept {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : a) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // separator so ("ab","c") != ("a","bc")
    for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
    h += 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

// The n-th (1-based) segment of the path: "/enroll/ABC/x", 2 -> "ABC".
std::string_view path_segment(std::string_view path, std::uint32_t n) noexcept {
    std::size_t pos = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (pos >= path.size() || path[pos] != '/') return {};
        const std::size_t start = pos + 1;
        const std::size_t end = path.find('/', start);
        if (i + 1 == n) return path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (end == std::string_view::npos) return {};
        pos = end;
    }
    return {};
}

}  // namespace

std::size_t rendezvous(std::string_view key, const std::vector<std::pair<std::string_view, std::uint32_t>>& targets) noexcept {
    // Weighted HRW (Schindelhauer & Schomaker): score = -w / ln(u), u uniform in (0, 1).
    std::size_t best = std::numeric_limits<std::size_t>::max();
    double best_score = 0;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        if (targets[i].second == 0) continue;
        const double u = (static_cast<double>(hash2(key, targets[i].first) >> 11) + 0.5) * 0x1.0p-53;
        const double score = -static_cast<double>(targets[i].second) / std::log(u);
        if (best == std::numeric_limits<std::size_t>::max() || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

route_table::route_table(const config::config& cfg) {
    listeners_.reserve(cfg.listeners.size());
    for (const auto& l : cfg.listeners) {
        listener_routes lr;
        lr.name = l.name;
        lr.kind = l.kind;
        lr.has_default = l.upstream_index.has_value();
        lr.default_upstream = l.upstream_index.value_or(0);
        const auto scep_path = normalized_prefix(l.scep_path);
        lr.scep_path = scep_path.value_or(std::string{});
        lr.scep_matchable = scep_path.has_value();
        lr.redirect = l.redirect;
        for (const auto& r : l.routes) {
            route rt;
            rt.name = r.name;
            if (r.host.rfind("*.", 0) == 0) {
                rt.wildcard = true;
                rt.host = r.host.substr(2);
            } else {
                rt.host = r.host;
            }
            const auto path = normalized_prefix(r.path);
            rt.path = path.value_or(r.path);
            rt.matchable = path.has_value();
            for (const auto& t : r.targets) {
                rt.targets.push_back(target{t.upstream_index, t.upstream, t.weight});
                rt.total_weight += t.weight;
            }
            rt.sticky = r.sticky;
            rt.sticky_name = r.sticky_name;
            rt.sticky_segment = r.sticky_segment;
            rt.reply = r.static_reply;
            lr.routes.push_back(std::move(rt));
        }
        // Exact hosts, then wildcards, then host-less; within each, longest prefix first. Stable:
        // equal keys keep config order.
        auto rank = [](const route& r) { return r.host.empty() ? 2 : (r.wildcard ? 1 : 0); };
        std::stable_sort(lr.routes.begin(), lr.routes.end(), [&](const route& a, const route& b) {
            if (rank(a) != rank(b)) return rank(a) < rank(b);
            return a.path.size() > b.path.size();
        });
        listeners_.push_back(std::move(lr));
    }
}

decision route_table::pick(const route& r, std::int32_t index, const http::request_head& head,
                           const sticky_inputs& in) const noexcept {
    decision d;
    d.route = index;
    if (r.reply) {
        d.what = decision::kind::static_reply;
        d.reply = &*r.reply;
        return d;
    }
    d.what = decision::kind::forward;
    if (r.targets.size() == 1) {
        d.upstream = r.targets.front().upstream;
        return d;
    }
    std::string_view key;
    switch (r.sticky) {
        case config::sticky_kind::none: break;
        case config::sticky_kind::client_cert: key = in.client_cert_fingerprint; break;
        case config::sticky_kind::header:
            for (const auto& h : head.headers)
                if (http::iequals(h.name, r.sticky_name)) {
                    key = h.value;
                    break;
                }
            break;
        case config::sticky_kind::path_segment:  // of the normalised path: "/a//b/../c" is segment 2 "c"
            key = path_segment(path_of(head.target), r.sticky_segment);
            break;
    }
    if (!key.empty()) {
        // Fixed-size scratch: routes have few targets; beyond 16 fall back to weighted random.
        if (r.targets.size() <= 16) {
            double best_score = 0;
            std::size_t best = r.targets.size();
            for (std::size_t i = 0; i < r.targets.size(); ++i) {
                if (r.targets[i].weight == 0) continue;
                const double u = (static_cast<double>(hash2(key, r.targets[i].name) >> 11) + 0.5) * 0x1.0p-53;
                const double score = -static_cast<double>(r.targets[i].weight) / std::log(u);
                if (best == r.targets.size() || score > best_score) {
                    best = i;
                    best_score = score;
                }
            }
            if (best < r.targets.size()) {
                d.upstream = r.targets[best].upstream;
                return d;
            }
        }
    }
    // Weighted random (no key, or the key was missing from the request).
    if (r.total_weight == 0) {
        d.upstream = r.targets.front().upstream;
        return d;
    }
    std::uint64_t x = in.random % r.total_weight;
    for (const auto& t : r.targets) {
        if (x < t.weight) {
            d.upstream = t.upstream;
            return d;
        }
        x -= t.weight;
    }
    d.upstream = r.targets.back().upstream;
    return d;
}

decision route_table::match(std::size_t listener, const http::request_head& head, const sticky_inputs& in) const noexcept {
    assert(listener < listeners_.size());
    const listener_routes& lr = listeners_[listener];
    const std::string_view path = path_of(head.target);

    if (lr.kind == config::listener_kind::scep) {
        // "OPTIONS *" asks about the server, not a resource (RFC 9110 section 9.3.7): it cannot be
        // redirected (there is no path to keep), so it is answered here with the methods served.
        if (head.target == "*") {
            decision d;
            d.what = decision::kind::options;
            d.allow = scep_methods;
            return d;
        }
        // SCEP (RFC 8894 section 4.1): GET or POST to the CGI path with an "operation" parameter.
        const std::string_view query =
            head.target.find('?') == std::string_view::npos ? std::string_view{} : head.target.substr(head.target.find('?') + 1);
        const bool op = query.rfind("operation=", 0) == 0 || query.find("&operation=") != std::string_view::npos;
        const bool scep = (head.method == "GET" || head.method == "POST") && op &&
                          path_covers(lr.scep_path, path) && lr.scep_matchable;
        if (!scep) {
            decision d;
            d.what = lr.redirect.empty() ? decision::kind::forbidden : decision::kind::redirect;
            d.redirect_origin = lr.redirect;
            return d;
        }
    }

    const std::string_view host = util::host_without_port(head.host);  // "[::1]:8443" -> "[::1]"
    for (std::size_t i = 0; i < lr.routes.size(); ++i) {
        const route& r = lr.routes[i];
        if (!r.host.empty()) {
            if (r.wildcard) {
                const auto dot = host.find('.');
                if (dot == std::string_view::npos || dot == 0 || !http::iequals(host.substr(dot + 1), r.host)) continue;
            } else if (!http::iequals(host, r.host)) {
                continue;
            }
        }
        if (!path_covers(r.path, path) || !r.matchable) continue;  // (the flag is rarely reached)
        return pick(r, static_cast<std::int32_t>(i), head, in);
    }
    decision d;
    if (lr.has_default) {
        d.what = decision::kind::forward;
        d.upstream = lr.default_upstream;
    }
    return d;
}

bool route_table::with_weights(std::string_view listener, std::string_view route_name,
                               const std::vector<std::pair<std::string, std::uint32_t>>& weights, route_table& out,
                               std::string& why) const {
    route_table copy = *this;
    for (auto& lr : copy.listeners_) {
        if (lr.name != listener) continue;
        for (auto& r : lr.routes) {
            if (r.name != route_name || r.name.empty()) continue;
            if (r.targets.size() < 1 || r.reply) {
                why = "route has no upstream targets";
                return false;
            }
            for (const auto& entry : weights) {
                // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
                const std::string& name = entry.first;
                const std::uint32_t w = entry.second;
                auto it = std::find_if(r.targets.begin(), r.targets.end(), [&](const target& t) { return t.name == name; });
                if (it == r.targets.end()) {
                    why = "upstream \"" + name + "\" is not a target of this route";
                    return false;
                }
                it->weight = w;
            }
            r.total_weight = 0;
            for (const auto& t : r.targets) r.total_weight += t.weight;
            if (r.total_weight == 0) {
                why = "weights would add up to 0";
                return false;
            }
            out = std::move(copy);
            return true;
        }
        why = "listener has no route named \"" + std::string(route_name) + "\"";
        return false;
    }
    why = "no listener named \"" + std::string(listener) + "\"";
    return false;
}

std::vector<route_table::target_view> route_table::targets(std::string_view listener, std::string_view route_name) const {
    std::vector<target_view> out;
    for (const auto& lr : listeners_) {
        if (lr.name != listener) continue;
        for (const auto& r : lr.routes)
            if (!r.name.empty() && r.name == route_name)
                for (const auto& t : r.targets) out.push_back(target_view{t.name, t.weight});
    }
    return out;
}

}  // namespace atsgate::router
