#include "proxy/server/dashboard_view.hpp"

#include "tls/peer_info.hpp"
#include "util/host_port.hpp"

#ifndef ATSGATE_VERSION_STRING
#define ATSGATE_VERSION_STRING "0.0.0"
#endif

namespace atsgate::server {

namespace {

using downstream::stats;

// A listener's row, its audit findings, the certificates it serves and its routes.
void add_listener(dashboard_view& v, const snapshot::snapshot& snap, std::size_t i) {
    const auto& l = snap.cfg.listeners[i];
    const bool scep = l.kind == config::listener_kind::scep;
    dashboard_view::listener dl;
    dl.name = l.name;
    dl.kind = scep ? "scep" : "https";
    dl.address = util::host_port(l.address, l.port);
    dl.enforcement = scep ? "" : l.enforcement == config::enforcement_mode::report ? "report" : "strict";
    for (const auto& f : snap.audit.findings)
        if (f.endpoint == l.name) dl.findings.push_back(f);
    v.listeners.push_back(std::move(dl));
    for (const auto& c : snap.listeners[i].certificates)
        v.certificates.push_back({l.name, c.subject, c.names, c.key, c.not_after});
    if (l.upstream_index) {
        dashboard_view::route r;
        r.listener = l.name;
        r.targets.emplace_back(l.upstream, 1);
        v.routes.push_back(std::move(r));
    }
    for (const auto& rt : l.routes) {
        dashboard_view::route r;
        r.listener = l.name;
        r.name = rt.name;
        r.host = rt.host;
        r.path = rt.path;
        for (const auto& t : snap.routes.targets(l.name, rt.name)) r.targets.emplace_back(t.upstream, t.weight);
        if (rt.name.empty())
            for (const auto& t : rt.targets) r.targets.emplace_back(t.upstream, t.weight);
        if (rt.static_reply) r.static_status = rt.static_reply->status;
        v.routes.push_back(std::move(r));
    }
}

void add_members(dashboard_view& v, const snapshot::snapshot& snap, std::chrono::steady_clock::time_point mono) {
    for (std::size_t i = 0; i < snap.cfg.upstreams.size(); ++i) {
        const auto& u = snap.cfg.upstreams[i];
        for (std::size_t m = 0; m < u.members.size(); ++m) {
            const auto& h = *snap.upstreams[i].members[m].health;
            dashboard_view::member dm;
            dm.upstream = u.name;
            dm.url = u.members[m].url;
            dm.weight = u.members[m].weight;
            dm.health_checks = !u.health_path.empty();
            dm.healthy = h.active_up();
            dm.ejected = h.ejected(mono);
            dm.usable = h.usable(mono);
            dm.passive_failures = h.passive_failures();
            dm.ejections = h.ejections();
            v.members.push_back(std::move(dm));
        }
    }
}

// Refusal and would-refuse totals by reason, and the handshake, connection and request totals.
void add_counters(dashboard_view& v, const std::vector<const stats*>& workers) {
    for (std::size_t r = 1; r < tls::refusal_count; ++r) {
        const std::string name(tls::to_string(static_cast<tls::refusal>(r)));
        v.refusal_reasons.push_back(name);
        std::uint64_t n = 0;
        for (const auto* st : workers) n += stats::get(st->refused[r]);
        v.refused_total.emplace_back(name, n);
        v.would_refuse_reasons.push_back(name);
        n = 0;
        for (const auto* st : workers) n += stats::get(st->would_refuse[r]);
        v.would_refuse_total.emplace_back(name, n);
    }
    for (const auto* st : workers) {
        v.handshakes += stats::get(st->handshakes);
        v.connections_active += stats::get(st->connections_active);
        v.requests += stats::get(st->requests);
    }
}

void add_recent(dashboard_view& v, const std::vector<tls::refused_handshake>& recent) {
    for (const auto& e : recent) {
        dashboard_view::refused_client c;
        c.at = e.at;
        c.listener = e.listener.data();
        c.client = e.client.data();
        c.sni = e.sni.data();
        c.max_version = std::string(tls::version_name(e.max_version));
        c.suites = e.suites;
        c.ems = e.ems;
        for (std::size_t g = 0; g < e.group_count; ++g) c.groups += (g ? ", " : "") + tls::group_name(e.groups[g]);
        c.reason = std::string(tls::to_string(e.reason));
        c.would_refuse = e.would_refuse;
        v.recent.push_back(std::move(c));
    }
}

void add_acme(dashboard_view& v, const acme::manager& m) {
    for (const auto& c : m.certificates()) {
        dashboard_view::acme_certificate a;
        a.id = c.id;
        a.names = c.names;
        a.state = std::string(acme::state_of(c));
        a.not_after = c.not_after.value_or(0);
        a.next_attempt = c.plan.at;
        a.reason = std::string(acme::to_string(c.plan.reason));
        a.overdue = c.plan.overdue;
        a.failures = c.failures;
        a.last_error = c.last_error;
        a.waiting_for = c.waiting_for;
        a.rejected = c.rejected;
        v.acme.push_back(std::move(a));
    }
}

}  // namespace

dashboard_view make_dashboard_view(const snapshot::snapshot& snap, const process_status& p,
                                   const std::deque<reload_record>& reloads, const std::vector<const stats*>& workers,
                                   const std::vector<tls::refused_handshake>& recent_refusals,
                                   const acme::manager* acme) {
    dashboard_view v;
    v.version = ATSGATE_VERSION_STRING;
    v.generation = snap.generation;
    v.now = p.now;
    v.started = p.started;
    v.workers = p.workers;
    v.draining = p.draining;
    for (std::size_t i = 0; i < snap.cfg.listeners.size(); ++i) add_listener(v, snap, i);
    add_members(v, snap, p.mono);
    for (const auto& r : reloads) v.reloads.push_back({r.at, r.trigger, r.ok, r.generation, r.message});
    add_counters(v, workers);
    add_recent(v, recent_refusals);
    if (acme != nullptr) add_acme(v, *acme);
    return v;
}

}  // namespace atsgate::server
