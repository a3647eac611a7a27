#include "proxy/server/status.hpp"

#include "proxy/server/dashboard.hpp"
#include "tls/peer_info.hpp"
#include "util/json.hpp"

#ifndef ATSGATE_VERSION_STRING
#define ATSGATE_VERSION_STRING "0.0.0"
#endif

namespace atsgate::server {

namespace {

using json = util::json_writer;
using downstream::stats;
using workers = std::vector<const stats*>;

std::int64_t num(std::uint64_t n) { return static_cast<std::int64_t>(n); }

// Element `i` of a counter array summed over the workers.
template <std::size_t N>
std::uint64_t sum(const workers& ws, std::array<stats::counter, N> stats::* field, std::size_t i) {
    std::uint64_t n = 0;
    for (const stats* s : ws) n += stats::get((s->*field)[i]);
    return n;
}

void process(json& j, const snapshot::snapshot& snap, const process_status& p) {
    j.key("version").str(ATSGATE_VERSION_STRING);
    j.key("generation").num(num(snap.generation));
    j.key("uptime_seconds").num(p.now - p.started);
    j.key("workers").num(num(p.workers));
    j.key("draining").boolean(p.draining);
    j.key("reloads").open('{').key("ok").num(num(p.reloads_ok));
    j.key("refused").num(num(p.reloads_refused)).close('}');
    j.key("last_reload");
    if (const auto& r = p.last_reload) {
        j.open('{').key("at").num(r->at).key("trigger").str(r->trigger);
        j.key("ok").boolean(r->ok);
        j.key("generation").num(num(r->generation));
        j.key("message").str(r->message).close('}');
    } else {
        j.null();
    }
}

void fleet(json& j, const tls::fleet_counters& f) {
    using fc = tls::fleet_counters;
    auto n = [](const fc::counter& c) { return num(fc::get(c)); };
    // "key":{"<name of E(i)>":count,...} for i in [first, end).
    auto by_name = [&]<class E>(std::string_view key, const auto& counters, std::size_t first, std::size_t end, E) {
        j.key(key).open('{');
        for (std::size_t i = first; i < end; ++i) j.key(tls::to_string(static_cast<E>(i))).num(n(counters[i]));
        j.close('}');
    };
    j.key("fleet").open('{').key("client_hellos").num(n(f.hellos));
    by_name("offered_max_version", f.offered_max, 0, tls::version_bucket_count, tls::version_bucket{});
    by_name("negotiated_version", f.negotiated, 0, tls::version_bucket_count, tls::version_bucket{});
    j.key("ems_offered").num(n(f.ems_offered)).key("sni_present").num(n(f.sni_present));
    j.key("x25519mlkem768_offered").num(n(f.mlkem_offered));
    by_name("refused", f.refused, 1, tls::refusal_count, tls::refusal{});
    by_name("would_refuse", f.would_refuse, 1, tls::refusal_count, tls::refusal{});
    j.close('}');
}

void listener(json& j, const snapshot::snapshot& snap, std::size_t i, std::int64_t now) {
    const auto& l = snap.cfg.listeners[i];
    const auto& rt = snap.listeners[i];
    j.open('{').key("name").str(l.name);
    j.key("kind").str(l.kind == config::listener_kind::scep ? "scep" : "https");
    j.key("address").str(l.address).key("port").num(l.port);
    j.key("certificates").open('[');
    for (const auto& c : rt.certificates) {
        j.open('{').key("subject").str(c.subject).key("key").str(c.key);
        j.key("names").open('[');
        for (const auto& n : c.names) j.str(n);
        j.close(']');
        j.key("not_after").num(c.not_after).key("days_left").num((c.not_after - now) / 86400);
        j.close('}');
    }
    j.close(']');
    j.key("routes").open('[');
    for (const auto& r : l.routes) {
        j.open('{').key("name").str(r.name).key("host").str(r.host).key("path").str(r.path);
        j.key("targets").open('[');
        for (const auto& t : snap.routes.targets(l.name, r.name))
            j.open('{').key("upstream").str(t.upstream).key("weight").num(t.weight).close('}');
        if (r.name.empty())
            for (const auto& t : r.targets) j.open('{').key("upstream").str(t.upstream).key("weight").num(t.weight).close('}');
        j.close(']');
        if (r.static_reply) j.key("static_status").num(r.static_reply->status);
        j.close('}');
    }
    j.close(']');
    if (l.upstream_index) j.key("default_upstream").str(l.upstream);
    if (l.kind == config::listener_kind::https) {
        j.key("enforcement").str(l.enforcement == config::enforcement_mode::report ? "report" : "strict");
        if (const auto* f = rt.fleet.get()) fleet(j, *f);
    }
    j.close('}');
}

void upstreams(json& j, const snapshot::snapshot& snap, std::chrono::steady_clock::time_point mono) {
    j.key("upstreams").open('[');
    for (std::size_t i = 0; i < snap.cfg.upstreams.size(); ++i) {
        const auto& u = snap.cfg.upstreams[i];
        j.open('{').key("name").str(u.name).key("health_checks").boolean(!u.health_path.empty());
        j.key("members").open('[');
        for (std::size_t m = 0; m < u.members.size(); ++m) {
            const auto& h = *snap.upstreams[i].members[m].health;
            j.open('{').key("url").str(u.members[m].url).key("weight").num(u.members[m].weight);
            j.key("healthy").boolean(h.active_up()).key("ejected").boolean(h.ejected(mono));
            j.key("usable").boolean(h.usable(mono));
            j.key("passive_failures").num(num(h.passive_failures()));
            j.key("ejections").num(num(h.ejections()));
            j.close('}');
        }
        j.close(']').close('}');
    }
    j.close(']');
}

// `"key": {name: the counter summed over the workers, ...}` for elements first.. of a counter array.
template <std::size_t N, class NameOf>
void by_index(json& j, const char* key, const workers& ws, std::size_t first, std::array<stats::counter, N> stats::* field,
              NameOf name_of) {
    j.key(key).open('{');
    for (std::size_t i = first; i < N; ++i) j.key(name_of(i)).num(num(sum(ws, field, i)));
    j.close('}');
}

void recent(json& j, const std::vector<tls::refused_handshake>& refusals) {
    j.key("recent_refusals").open('[');
    for (const auto& e : refusals) {
        j.open('{').key("at").num(e.at).key("listener").str(e.listener.data()).key("client").str(e.client.data());
        j.key("sni").str(e.sni.data()).key("max_version").str(tls::version_name(e.max_version));
        j.key("suites").num(e.suites).key("ems").boolean(e.ems);
        j.key("groups").open('[');
        for (std::size_t g = 0; g < e.group_count; ++g) j.str(tls::group_name(e.groups[g]));
        j.close(']');
        j.key("reason").str(tls::to_string(e.reason)).key("would_refuse").boolean(e.would_refuse);
        j.key("explanation").str(explain_reason(tls::to_string(e.reason))).close('}');
    }
    j.close(']');
}

void handshakes(json& j, const workers& ws, const std::vector<tls::refused_handshake>& refusals) {
    const auto refusal_name = [](std::size_t r) { return tls::to_string(static_cast<tls::refusal>(r)); };
    by_index(j, "handshake_would_refuse", ws, 1, &stats::would_refuse, refusal_name);
    recent(j, refusals);
    by_index(j, "handshake_refused", ws, 1, &stats::refused, refusal_name);
    by_index(j, "handshake_failures", ws, 1, &stats::handshake_failures,
             [](std::size_t f) { return tls::to_string(static_cast<tls::handshake_failure>(f)); });
    by_index(j, "handshake_timeouts", ws, 0, &stats::handshake_timeouts,
             [](std::size_t p) { return downstream::handshake_wait_names[p]; });
}

// The ACME certificates: state, expiry, next attempt and why, failures, audit refusals, counts.
void acme_certificates(json& j, const snapshot::snapshot& snap, const acme::manager* m, std::int64_t now) {
    j.key("acme");
    if (m == nullptr) {
        j.null();
        return;
    }
    j.open('{').key("directory").str(snap.cfg.acme ? snap.cfg.acme->directory : std::string{});
    j.key("renewal_info").boolean(!m->renewal_info_url().empty());
    j.key("certificates").open('[');
    for (const auto& c : m->certificates()) {
        j.open('{').key("id").str(c.id).key("key_type").str(acme::to_string(c.type));
        j.key("names").open('[');
        for (const auto& n : c.names) j.str(n);
        j.close(']');
        j.key("state").str(acme::state_of(c));
        if (c.not_after) j.key("not_after").num(*c.not_after).key("days_left").num((*c.not_after - now) / 86400);
        j.key("next_attempt").num(c.plan.at).key("reason").str(acme::to_string(c.plan.reason));
        j.key("overdue").boolean(c.plan.overdue);
        j.key("failures").num(num(c.failures));
        j.key("last_error").str(c.last_error);
        j.key("waiting_for").str(c.waiting_for);
        j.key("rejected").open('[');
        for (const auto& r : c.rejected) j.str(r);
        j.close(']');
        j.key("orders").open('{').key("ok").num(num(c.orders_ok));
        j.key("failed").num(num(c.orders_failed)).close('}');
        j.key("renewals").open('{').key("ok").num(num(c.renewals_ok));
        j.key("failed").num(num(c.renewals_failed)).close('}');
        j.close('}');
    }
    j.close(']').close('}');
}

void totals(json& j, const workers& ws) {
    std::uint64_t requests = 0, active = 0, completed = 0;
    for (const stats* s : ws) {
        requests += stats::get(s->requests);
        active += stats::get(s->connections_active);
        completed += stats::get(s->handshakes);
    }
    j.key("connections_active").num(num(active));
    j.key("handshakes").num(num(completed));
    j.key("requests").num(num(requests));
}

}  // namespace

std::string render_status(const snapshot::snapshot& snap, const process_status& p, const workers& ws,
                          const std::vector<tls::refused_handshake>& recent_refusals, const acme::manager* acme) {
    json j;
    j.open('{');
    process(j, snap, p);
    j.key("listeners").open('[');
    for (std::size_t i = 0; i < snap.cfg.listeners.size(); ++i) listener(j, snap, i, p.now);
    j.close(']');
    upstreams(j, snap, p.mono);
    handshakes(j, ws, recent_refusals);
    acme_certificates(j, snap, acme, p.now);
    totals(j, ws);
    j.close('}');
    return j.take();
}

}  // namespace atsgate::server
