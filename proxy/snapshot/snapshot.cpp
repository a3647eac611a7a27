#include "proxy/snapshot/snapshot.hpp"

#include "tls/client_context.hpp"
#include "util/host_port.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <algorithm>

namespace atsgate::snapshot {

namespace {

std::string authority(const config::member& m) { return util::host_port(m.host, m.port); }

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

}  // namespace

int snapshot::listener_index(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i)
        if (cfg.listeners[i].name == name) return static_cast<int>(i);
    return -1;
}

std::shared_ptr<upstream::member_health> shared_state::health(const std::string& id) {
    for (auto it = health_.begin(); it != health_.end();) {
        if (it->second.expired())
            it = health_.erase(it);
        else
            ++it;
    }
    if (auto existing = health_[id].lock()) return existing;
    auto h = std::make_shared<upstream::member_health>(id);
    health_[id] = h;
    return h;
}

std::vector<std::shared_ptr<upstream::member_health>> shared_state::live_health() {
    std::vector<std::shared_ptr<upstream::member_health>> out;
    for (auto& [id, w] : health_)
        if (auto h = w.lock()) out.push_back(std::move(h));
    return out;
}

std::shared_ptr<tls::ticket_keys> shared_state::tickets(const config::listener& l, config::diagnostics& diags) {
    const std::string id = l.name + "|" + l.ticket_key_file;
    auto& slot = tickets_[id];
    if (!slot) slot = std::make_shared<tls::ticket_keys>();
    if (!l.ticket_key_file.empty()) {
        std::string why;
        if (!slot->load_file(l.ticket_key_file, why)) {
            auto [where, kp] = config::origin_of(l, "ticket_key_file");
            diags.push_back(config::diagnostic{config::severity::error, std::move(where), kp, kp + ": " + why, ""});
            return nullptr;
        }
    }
    return slot;
}

std::shared_ptr<tls::fleet_counters> shared_state::fleet(const std::string& name) {
    auto& slot = fleet_[name];
    if (!slot) slot = std::make_shared<tls::fleet_counters>();
    return slot;
}

void shared_state::rotate_due(const config::config& cfg) {
    const auto now = std::chrono::steady_clock::now();
    for (const auto& l : cfg.listeners) {
        if (!l.ticket_key_file.empty()) continue;
        auto it = tickets_.find(l.name + "|");
        if (it == tickets_.end()) continue;
        if (now - it->second->created() >= l.ticket_key_rotation) it->second->rotate();
    }
}

namespace {

// What the phases of build() accumulate: diagnostics, the audit's facts, whether every part built.
struct build_state {
    build_result& out;
    std::vector<tls::endpoint_facts> facts;
    bool complete = true;
};

// The TLS side of an https listener: ticket keys, the server context, the certificates it serves
// (for /status and Location rewriting) and their audit facts.
void build_listener_tls(const config::listener& l, listener_runtime& rt, shared_state& state, build_state& b) {
    std::shared_ptr<tls::ticket_keys> keys;
    if (l.session_tickets) {
        keys = state.tickets(l, b.out.diags);
        if (!keys) b.complete = false;
    }
    rt.tickets = keys;
    rt.fleet = state.fleet(l.name);
    const bool has_acme = std::any_of(l.certificates.begin(), l.certificates.end(),
                                      [](const config::certificate& c) { return c.acme; });
    tls::listener_acme acme{has_acme ? state.acme_challenges : nullptr};
    tls::listener_tls built = tls::build_listener_tls(l, b.out.diags, keys.get(), &acme);
    rt.acme_pending = built.pending_names;
    for (auto& f : built.facts) {
        if (f.chain && !f.chain->served.empty()) {
            const auto& leaf = f.chain->served.front();
            certificate_summary cs;
            cs.subject = leaf.subject;
            cs.names = leaf.san_dns;
            cs.key = leaf.key_description;
            cs.not_after = leaf.not_after;
            for (const auto& n : leaf.san_dns) add_unique(rt.own_hosts, n);
            rt.certificates.push_back(std::move(cs));
        }
        b.facts.push_back(std::move(f));
    }
    if (built.context)
        rt.tls = std::make_shared<const tls::server_context>(std::move(*built.context));
    else
        b.complete = false;
    add_unique(rt.own_hosts, l.server_name);
}

listener_runtime build_listener(const config::config& cfg, const config::listener& l, shared_state& state,
                                build_state& b) {
    listener_runtime rt;
    rt.kind = l.kind;
    if (l.kind == config::listener_kind::scep) {
        // A plaintext listener: the audit reports it as exempt (SCEP only), never as HTTPS.
        tls::endpoint_facts f;
        f.name = l.name;
        f.address = util::host_port(l.address, l.port);
        f.plaintext = true;
        f.scep_exempt = true;
        b.facts.push_back(std::move(f));
        rt.http01 = state.acme_http01;
    } else {
        build_listener_tls(l, rt, state, b);
    }
    // Upstream hosts of every target this listener can reach: a backend that redirects to its
    // own address gets its Location rewritten too.
    auto add_upstream_hosts = [&](std::size_t ui) {
        if (ui >= cfg.upstreams.size()) return;
        for (const auto& m : cfg.upstreams[ui].members) {
            add_unique(rt.own_hosts, authority(m));
            if ((m.tls && m.port == 443) || (!m.tls && m.port == 80)) add_unique(rt.own_hosts, m.host);
        }
    };
    if (l.upstream_index) add_upstream_hosts(*l.upstream_index);
    for (const auto& r : l.routes)
        for (const auto& t : r.targets) add_upstream_hosts(t.upstream_index);
    return rt;
}

// Member `mi` of `u`: its addresses (a name that does not resolve is an error), the TLS client
// context, SNI and verification name, and the key of the pool it may share with the previous
// snapshot.
member_runtime build_member(const config::upstream& u, std::size_t mi, SSL_CTX* client_tls, net::tcp::resolver& resolver,
                            std::uint64_t generation, shared_state& state, build_state& b) {
    const auto& m = u.members[mi];
    auto target = std::make_shared<upstream::member_target>();
    target->id = u.name + " " + m.url;
    net::error_code ec;
    auto results = resolver.resolve(m.host, std::to_string(m.port), net::tcp::resolver::numeric_service, ec);
    if (!ec)
        for (const auto& r : results) target->endpoints.push_back(r.endpoint());
    if (ec || target->endpoints.empty()) {
        const std::string kp = u.key_path + (u.members.size() > 1 ? ".members[" + std::to_string(mi) + "].url" : ".url");
        b.out.diags.push_back(config::diagnostic{config::severity::error, m.where, kp,
                                                 kp + ": host \"" + m.host + "\" does not resolve: " +
                                                     (ec ? ec.message() : std::string("no addresses")),
                                                 ""});
        b.complete = false;
    }
    if (m.tls && client_tls != nullptr) {
        target->tls = ossl::up_ref(client_tls);
        const bool name_is_dns =
            m.host.find_first_not_of("0123456789.") != std::string::npos && m.host.find(':') == std::string::npos;
        target->sni = !u.tls_sni.empty() ? u.tls_sni : (name_is_dns ? m.host : std::string{});
        target->verify_name = u.tls_verify ? (!u.tls_sni.empty() ? u.tls_sni : m.host) : std::string{};
    }
    target->keepalive = u.keepalive;
    target->keepalive_timeout = u.keepalive_timeout;

    member_runtime mr;
    // Pools are per connection settings: a reload that changes them gets fresh pools.
    mr.pool_key = target->id + "|" + std::to_string(u.keepalive) + "|" + std::to_string(u.keepalive_timeout.count()) +
                  "|" +
                  (m.tls ? std::to_string(static_cast<int>(u.tls_min_version)) + "|" + u.tls_ciphers + "|" +
                               (u.tls_verify ? "v" : "n") + "|" + u.tls_ca + "|" + target->sni
                         : std::string("plain")) +
                  "|g" + std::to_string(m.tls ? generation : 0);
    mr.target = std::move(target);
    mr.health = state.health(u.name + " " + m.url);
    mr.weight = m.weight;
    return mr;
}

upstream_runtime build_upstream(const config::upstream& u, net::tcp::resolver& resolver, std::uint64_t generation,
                                shared_state& state, build_state& b) {
    upstream_runtime rt;
    const bool any_tls = std::any_of(u.members.begin(), u.members.end(), [](const config::member& m) { return m.tls; });
    ossl::ptr<SSL_CTX> client_tls;
    if (any_tls) {
        client_tls = tls::build_upstream_tls(u, b.out.diags);
        if (!client_tls) b.complete = false;
    }
    for (std::size_t mi = 0; mi < u.members.size(); ++mi)
        rt.members.push_back(build_member(u, mi, client_tls.get(), resolver, generation, state, b));
    return rt;
}

}  // namespace

build_result build(config::config cfg, std::int64_t now, std::uint64_t generation, shared_state& state) {
    build_result out;
    build_state b{out, {}, true};
    auto snap = std::make_shared<snapshot>();
    snap->generation = generation;
    snap->config_generation = generation;

    for (const auto& l : cfg.listeners) snap->listeners.push_back(build_listener(cfg, l, state, b));

    boost::asio::io_context io;
    net::tcp::resolver resolver(io);
    for (const auto& u : cfg.upstreams) snap->upstreams.push_back(build_upstream(u, resolver, generation, state, b));

    // Audit everything that was built; publish only a complete, error-free snapshot.
    out.audit = tls::audit(b.facts, now);
    if (b.complete && !config::has_errors(out.diags)) {
        snap->routes = router::route_table(cfg);
        snap->audit = out.audit;
        snap->cfg = std::move(cfg);
        out.value = std::move(snap);
    }
    return out;
}

std::shared_ptr<const snapshot> with_weights(const snapshot& base, std::string_view listener, std::string_view route,
                                             const std::vector<std::pair<std::string, std::uint32_t>>& weights,
                                             std::uint64_t generation, std::string& why) {
    router::route_table table;
    if (!base.routes.with_weights(listener, route, weights, table, why)) return nullptr;
    auto next = std::make_shared<snapshot>();
    next->cfg = base.cfg;
    // Keep the config in step with the live weights, so /status and later switches agree.
    for (auto& l : next->cfg.listeners) {
        if (l.name != listener) continue;
        for (auto& r : l.routes) {
            if (r.name != route) continue;
            for (auto& t : r.targets)
                for (const auto& [name, w] : weights)
                    if (t.upstream == name) t.weight = w;
        }
    }
    next->listeners = base.listeners;
    next->upstreams = base.upstreams;
    next->routes = std::move(table);
    next->audit = base.audit;
    next->generation = generation;
    next->config_generation = base.config_generation;
    return next;
}

}  // namespace atsgate::snapshot
