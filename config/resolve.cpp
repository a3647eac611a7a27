// The pass after reading: names of other tables, uniqueness across tables, what nothing uses.
// Works on the config and the references the readers noted; never on the TOML tree.

#include "config/sections.hpp"

#include "util/host_port.hpp"

#include <algorithm>

namespace atsgate::config {

std::string endpoint::text() const { return util::host_port(address, port); }

namespace {

class resolver {
public:
    resolver(reader& r, config& c, const references& refs)
        : r_(r), c_(c), refs_(refs), used_(refs.upstream_names.size(), false) {}

    void run() {
        check_duplicate_names(c_.upstreams, "upstream");
        check_duplicate_names(c_.listeners, "listener");
        for (std::size_t i = 0; i < c_.listeners.size(); ++i) resolve_listener(c_.listeners[i], refs_.listeners[i]);
        check_endpoints();
        warn_unused_upstreams();
        check_acme();
    }

private:
    // acme = true needs [acme]; [acme] without any acme = true is a warning; http-01 needs a
    // plaintext listener to answer on. Entries without their own key_type take [acme]'s.
    void check_acme() {
        bool any = false;
        for (auto& l : c_.listeners) {
            for (auto& c : l.certificates) {
                if (!c.acme) continue;
                any = true;
                const auto it = c.key_pos.find("acme");
                const source_pos where = it != c.key_pos.end() ? it->second : c.where;
                if (!c_.acme) {
                    r_.error(where, c.key_path + ".acme", c.key_path + ".acme = true needs an [acme] section",
                             "[acme] names the CA's directory URL and where certificates are stored");
                    continue;
                }
                if (c.key_pos.find("key_type") == c.key_pos.end()) c.key_type = c_.acme->key_type;
            }
        }
        if (!c_.acme) return;
        if (!any)
            r_.warning(c_.acme->where, "acme", "[acme] is not used: no listener or certificate says acme = true",
                       "set acme = true on a [[listener]] (with server_name) or a [[listener.certificate]] (with names)");
        if (any && c_.acme->challenge == acme_challenge::http_01 &&
            std::none_of(c_.listeners.begin(), c_.listeners.end(),
                         [](const listener& l) { return l.kind == listener_kind::scep; })) {
            const auto it = c_.acme->key_pos.find("challenge");
            r_.error(it != c_.acme->key_pos.end() ? it->second : c_.acme->where, "acme.challenge",
                     "acme.challenge is \"http-01\" but no listener has kind = \"scep\" to answer it",
                     "add a kind = \"scep\" listener on port 80 (it answers /.well-known/acme-challenge/ too), "
                     "or use \"tls-alpn-01\"");
        }
    }

    reader& r_;
    config& c_;
    const references& refs_;
    std::vector<bool> used_;  // by [[upstream]] array index
    bool broken_ = false;     // some reference did not resolve (already reported)

    // Index (in the [[upstream]] array) of the upstream named ref.name, or nullopt after
    // reporting it with the names that exist.
    std::optional<std::size_t> find_upstream(const upstream_ref& ref) {
        const auto& names = refs_.upstream_names;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (names[i] == ref.name) {
                used_[i] = true;
                return i;
            }
        }
        std::string known;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto& name = names[i];
            if (!name) continue;
            const auto first = std::find(names.begin(), names.end(), name);
            if (first != names.begin() + static_cast<std::ptrdiff_t>(i)) continue;  // listed once
            known += known.empty() ? "known: " : ", ";
            known += quote(*name);
        }
        if (known.empty()) known = "no [[upstream]] is defined";
        broken_ = true;
        r_.error(ref.where, ref.key_path, ref.key_path + " is " + quote(ref.name) + ", no [[upstream]] has that name",
                 known);
        return std::nullopt;
    }

    void resolve_listener(listener& l, const listener_refs& refs) {
        if (refs.reference_broken) broken_ = true;
        if (refs.upstream) l.upstream_index = find_upstream(*refs.upstream);
        for (std::size_t i = 0; i < l.routes.size(); ++i) resolve_route(l.routes[i], refs.routes[i]);
        check_routes(l, refs);
    }

    void resolve_route(route& rt, const route_refs& refs) {
        if (refs.upstream) {
            if (const auto i = find_upstream(*refs.upstream))
                rt.targets.push_back(split_target{refs.upstream->name, *i, 1});
        }
        if (refs.split.empty()) return;
        std::uint64_t total = 0;
        bool all_ok = true;
        std::vector<std::size_t> target_index;  // split[] index in the file of each rt.targets entry
        for (const split_entry& e : refs.split) {
            std::optional<std::size_t> idx;
            if (e.upstream) idx = find_upstream(*e.upstream);
            if (!idx || !e.weight) {
                all_ok = false;
                continue;
            }
            const auto dup = std::find_if(rt.targets.begin(), rt.targets.end(),
                                          [&](const split_target& o) { return o.upstream == e.upstream->name; });
            if (dup != rt.targets.end()) {
                const auto k = target_index[static_cast<std::size_t>(dup - rt.targets.begin())];
                r_.error(e.upstream->where, e.upstream->key_path,
                         e.upstream->key_path + " " + quote(e.upstream->name) + " is already listed as split[" +
                             std::to_string(k) + "]",
                         "give each upstream one weight");
                all_ok = false;
                continue;
            }
            total += *e.weight;
            rt.targets.push_back(split_target{e.upstream->name, *idx, *e.weight});
            target_index.push_back(e.index);
        }
        if (refs.has_split && all_ok && total == 0)
            r_.error(refs.split_where, refs.split_key_path, refs.split_key_path + " weights add up to 0",
                     "at least one target needs a weight above 0");
    }

    // Route names are unique per listener; (host, path) pairs too.
    void check_routes(const listener& l, const listener_refs& refs) {
        for (std::size_t j = 0; j < l.routes.size(); ++j) {
            const route& b = l.routes[j];
            for (std::size_t i = 0; i < j; ++i) {
                const route& a = l.routes[i];
                if (!b.name.empty() && a.name == b.name) {
                    const auto name_pos = b.key_pos.find("name");
                    r_.error(name_pos != b.key_pos.end() ? name_pos->second : b.where, b.key_path + ".name",
                             b.key_path + ".name " + quote(b.name) + " is already used by " + a.key_path);
                    break;
                }
                if (refs.routes[i].matchable && refs.routes[j].matchable && a.host == b.host && a.path == b.path) {
                    r_.error(b.where, b.key_path, b.key_path + " matches the same host and path as " + a.key_path,
                             "the later one could never be chosen");
                    break;
                }
            }
        }
    }

    // listener[1].name "mdm" is already used by listener[0]. Only valid names are compared
    // (a refused one has its own error).
    template <class Table>
    void check_duplicate_names(const std::vector<Table>& tables, std::string_view) {
        for (std::size_t j = 0; j < tables.size(); ++j) {
            const Table& b = tables[j];
            if (b.name.empty()) continue;
            for (std::size_t i = 0; i < j; ++i) {
                if (tables[i].name != b.name) continue;
                const std::string path = b.key_path + ".name";
                r_.error(b.key_pos.at("name"), path, path + " " + quote(b.name) + " is already used by " + tables[i].key_path);
                break;
            }
        }
    }

    // Two sockets on the same (address, port) cannot both be bound; neither can a specific
    // address and the wildcard of the same family. IPv4 vs "::" is not flagged: whether "::" also
    // takes IPv4 depends on IPV6_V6ONLY, which the listener layer decides.
    void check_endpoints() {
        const auto& eps = refs_.endpoints;
        for (std::size_t j = 1; j < eps.size(); ++j) {
            const endpoint& b = eps[j];
            for (std::size_t i = 0; i < j; ++i) {
                const endpoint& a = eps[i];
                if (a.port != b.port || a.ip.v6 != b.ip.v6) continue;
                if (a.ip == b.ip) {
                    r_.error(b.where, b.key_path, b.owner + " endpoint " + b.text() + " is already used by " + a.owner);
                    break;
                }
                if (a.ip.is_unspecified() || b.ip.is_unspecified()) {
                    r_.error(b.where, b.key_path,
                             b.owner + " endpoint " + b.text() + " overlaps " + a.owner + " endpoint " + a.text(),
                             "a wildcard address covers every address of its family");
                    break;
                }
            }
        }
    }

    // An upstream no listener routes to is probably a leftover. Not reported while a reference is
    // broken: that error already lists the names, and the "unused" one is its intended target.
    // Duplicate names get their own error instead.
    void warn_unused_upstreams() {
        if (c_.listeners.empty() || broken_) return;
        const auto& names = refs_.upstream_names;
        for (std::size_t j = 0; j < c_.upstreams.size(); ++j) {
            const upstream& u = c_.upstreams[j];
            const std::size_t i = refs_.upstream_index[j];
            if (u.name.empty() || used_[i]) continue;  // empty: refused, with its own error
            if (std::find(names.begin(), names.end(), names[i]) != names.begin() + static_cast<std::ptrdiff_t>(i))
                continue;
            r_.warning(u.where, u.key_path, u.key_path + " " + quote(u.name) + " is not used by any listener");
        }
    }
};

}  // namespace

void resolve(reader& r, config& c, const references& refs) { resolver(r, c, refs).run(); }

}  // namespace atsgate::config
