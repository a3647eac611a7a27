#include "proxy/server/metrics.hpp"

#include "proxy/server/prometheus.hpp"
#include "tls/handshake_gate.hpp"

#include <array>
#include <cstdint>

namespace atsgate::server {

namespace {
using downstream::stats;
using workers = std::vector<const stats*>;
using prometheus::family;
using prometheus::labels;
using prometheus::sample;

// A counter summed over the workers.
std::uint64_t sum(const workers& ws, stats::counter stats::* field) {
    std::uint64_t n = 0;
    for (const stats* s : ws) n += stats::get(s->*field);
    return n;
}

// Element `i` of a counter array summed over the workers.
template <std::size_t N>
std::uint64_t sum(const workers& ws, std::array<stats::counter, N> stats::* field, std::size_t i) {
    std::uint64_t n = 0;
    for (const stats* s : ws) n += stats::get((s->*field)[i]);
    return n;
}

// A family with one sample per element of a counter array, from `first` on, labelled
// key="name_of(i)".
template <std::size_t N, class NameOf>
void by_index(std::string& out, const workers& ws, const char* name, const char* help, const char* key,
              std::size_t first, std::array<stats::counter, N> stats::* field, NameOf name_of) {
    family(out, name, "counter", help);
    for (std::size_t i = first; i < N; ++i) sample(out, name, labels({{key, name_of(i)}}), sum(ws, field, i));
}

void counter(std::string& out, const workers& ws, const char* name, const char* help, stats::counter stats::* field) {
    prometheus::single(out, name, "counter", help, sum(ws, field));
}

}  // namespace

std::string render_metrics(const workers& ws) {
    std::string out;
    out.reserve(4096);
    counter(out, ws, "atsgate_connections_accepted_total", "Client TCP connections accepted.", &stats::connections_accepted);
    prometheus::single(out, "atsgate_connections_active", "gauge", "Client connections open now.",
                       sum(ws, &stats::connections_active));
    counter(out, ws, "atsgate_handshakes_total", "Completed TLS handshakes.", &stats::handshakes);
    counter(out, ws, "atsgate_handshakes_resumed_total", "Completed TLS handshakes that resumed a session.",
            &stats::resumed_handshakes);
    counter(out, ws, "atsgate_handshakes_aborted_total",
            "Connections closed, or that sent something other than TLS, before a ClientHello (port scans, TCP probes).",
            &stats::handshakes_aborted);
    by_index(out, ws, "atsgate_handshake_refused_total",
             "TLS handshakes atsgate refused, by reason (ATS policy, SNI, ALPN, client certificate).", "reason", 1,
             &stats::refused, [](std::size_t r) { return tls::to_string(static_cast<tls::refusal>(r)); });
    by_index(out, ws, "atsgate_handshake_failures_total",
             "TLS handshakes that failed after their ClientHello without a refusal, by reason.", "reason", 1,
             &stats::handshake_failures,
             [](std::size_t f) { return tls::to_string(static_cast<tls::handshake_failure>(f)); });
    by_index(out, ws, "atsgate_handshake_timeouts_total",
             "TLS handshakes that ran into the handshake timeout, by what atsgate was waiting for.", "phase", 0,
             &stats::handshake_timeouts, [](std::size_t p) { return downstream::handshake_wait_names[p]; });
    counter(out, ws, "atsgate_connections_shed_total",
            "Idle client connections closed to make room for a new one at max_connections.", &stats::connections_shed);
    counter(out, ws, "atsgate_requests_total", "Request heads received.", &stats::requests);
    by_index(out, ws, "atsgate_responses_total", "Responses sent to clients, by status class.", "class", 1,
             &stats::responses, [](std::size_t c) { return std::to_string(c) + "xx"; });
    counter(out, ws, "atsgate_bad_requests_total", "Requests refused by the HTTP codec (400/405/413/431/505).",
            &stats::bad_requests);
    family(out, "atsgate_request_headers_dropped_total", "counter",
           "Client header fields not forwarded upstream, by reason.");
    sample(out, "atsgate_request_headers_dropped_total", labels({{"reason", "underscore"}}),
           sum(ws, &stats::dropped_underscore));
    sample(out, "atsgate_request_headers_dropped_total", labels({{"reason", "identity"}}),
           sum(ws, &stats::dropped_identity));
    counter(out, ws, "atsgate_upstream_connects_total", "New upstream connections (requests and warm-up).",
            &stats::upstream_connects);
    counter(out, ws, "atsgate_upstream_reuses_total", "Requests sent on a pooled keep-alive upstream connection.",
            &stats::upstream_reuses);
    counter(out, ws, "atsgate_upstream_connect_errors_total", "Failed connects or sends to upstreams.",
            &stats::upstream_connect_errors);
    counter(out, ws, "atsgate_upstream_timeouts_total", "Upstream connect, send or response timeouts.",
            &stats::upstream_timeouts);
    counter(out, ws, "atsgate_upstream_bad_responses_total", "Malformed upstream responses.",
            &stats::upstream_bad_responses);
    counter(out, ws, "atsgate_upstream_retries_total", "Requests re-sent after a stale pooled connection.",
            &stats::upstream_retries);
    counter(out, ws, "atsgate_upstream_unavailable_total",
            "Requests that found every member of their upstream down or ejected and tried them anyway (panic mode).",
            &stats::upstream_unavailable);
    counter(out, ws, "atsgate_plaintext_urls_total",
            "http:// URLs found in plist/XML/JSON response bodies by the plaintext URL guard (not modified).",
            &stats::plaintext_urls);
    counter(out, ws, "atsgate_client_aborts_total", "Exchanges ended because the client went away.",
            &stats::client_aborts);
    counter(out, ws, "atsgate_location_rewrites_total", "Plaintext http:// Location headers rewritten to https://.",
            &stats::location_rewrites);
    counter(out, ws, "atsgate_plaintext_locations_total", "http:// Location headers to foreign hosts (not rewritten).",
            &stats::plaintext_locations);
    counter(out, ws, "atsgate_request_body_bytes_total", "Request body bytes forwarded upstream.",
            &stats::bytes_from_clients);
    counter(out, ws, "atsgate_response_body_bytes_total", "Response body bytes forwarded to clients.",
            &stats::bytes_to_clients);
    counter(out, ws, "atsgate_proxy_protocol_headers_total",
            "PROXY protocol headers accepted (listeners with proxy_protocol = true).", &stats::proxy_headers);
    counter(out, ws, "atsgate_proxy_protocol_local_total",
            "Accepted PROXY headers without a client address (LOCAL / UNKNOWN: the balancer's health checks).",
            &stats::proxy_local);
    by_index(out, ws, "atsgate_proxy_protocol_refused_total",
             "Connections refused on PROXY protocol listeners, by reason.", "reason", 1, &stats::proxy_refused,
             [](std::size_t r) { return downstream::proxy_refusal_name(r); });
    return out;
}

std::string render_summary(const workers& ws) {
    std::string out = "connections=" + std::to_string(sum(ws, &stats::connections_accepted)) +
                      " handshakes=" + std::to_string(sum(ws, &stats::handshakes)) +
                      " requests=" + std::to_string(sum(ws, &stats::requests)) + " refused:";
    // " name=n" for every element of a counter array from `first` on.
    auto each = [&](std::size_t first, auto field, auto name_of) {
        const std::size_t n = std::tuple_size_v<std::remove_reference_t<decltype(std::declval<stats>().*field)>>;
        for (std::size_t i = first; i < n; ++i) {
            out += ' ';
            out += name_of(i);
            out += '=';
            out += std::to_string(sum(ws, field, i));
        }
    };
    each(1, &stats::refused, [](std::size_t r) { return tls::to_string(static_cast<tls::refusal>(r)); });
    out += " failed:";
    each(1, &stats::handshake_failures,
         [](std::size_t f) { return tls::to_string(static_cast<tls::handshake_failure>(f)); });
    out += " timeouts:";
    each(0, &stats::handshake_timeouts, [](std::size_t p) { return downstream::handshake_wait_names[p]; });
    return out;
}

std::string render_fleet_metrics(const snapshot::snapshot& snap) {
    using fc = tls::fleet_counters;
    std::string out;
    // name{listener="L",key="value"} n
    auto series = [&](const char* name, const std::string& listener, const char* key, std::string_view value,
                      std::uint64_t n) { sample(out, name, labels({{"listener", listener}, {key, value}}), n); };
    struct entry {
        const std::string* name;
        const fc* f;
    };
    std::vector<entry> ls;
    for (std::size_t i = 0; i < snap.cfg.listeners.size(); ++i)
        if (snap.listeners[i].fleet) ls.push_back({&snap.cfg.listeners[i].name, snap.listeners[i].fleet.get()});
    family(out, "atsgate_handshake_would_refuse_total", "counter",
           "Report mode: handshakes served that strict mode would have refused, by listener and reason.");
    for (const auto& e : ls)
        for (std::size_t r = 1; r < tls::refusal_count; ++r)
            series("atsgate_handshake_would_refuse_total", *e.name, "reason", tls::to_string(static_cast<tls::refusal>(r)),
                   fc::get(e.f->would_refuse[r]));
    family(out, "atsgate_fleet_refused_total", "counter", "Refused handshakes by listener and reason.");
    for (const auto& e : ls)
        for (std::size_t r = 1; r < tls::refusal_count; ++r)
            series("atsgate_fleet_refused_total", *e.name, "reason", tls::to_string(static_cast<tls::refusal>(r)),
                   fc::get(e.f->refused[r]));
    family(out, "atsgate_fleet_client_hellos_total", "counter",
           "ClientHellos by listener and the highest TLS version offered.");
    for (const auto& e : ls)
        for (std::size_t b = 0; b < tls::version_bucket_count; ++b)
            series("atsgate_fleet_client_hellos_total", *e.name, "max_version",
                   tls::to_string(static_cast<tls::version_bucket>(b)), fc::get(e.f->offered_max[b]));
    family(out, "atsgate_fleet_client_hello_features_total", "counter",
           "ClientHellos by listener offering a feature: ems (Extended Master Secret), sni (server_name), "
           "x25519mlkem768 (post-quantum hybrid group, Apple OS 26 and later).");
    for (const auto& e : ls) {
        series("atsgate_fleet_client_hello_features_total", *e.name, "feature", "ems", fc::get(e.f->ems_offered));
        series("atsgate_fleet_client_hello_features_total", *e.name, "feature", "sni", fc::get(e.f->sni_present));
        series("atsgate_fleet_client_hello_features_total", *e.name, "feature", "x25519mlkem768",
               fc::get(e.f->mlkem_offered));
    }
    family(out, "atsgate_fleet_handshakes_total", "counter", "Completed handshakes by listener and negotiated TLS version.");
    for (const auto& e : ls)
        for (std::size_t b = 0; b < tls::version_bucket_count; ++b)
            series("atsgate_fleet_handshakes_total", *e.name, "version", tls::to_string(static_cast<tls::version_bucket>(b)),
                   fc::get(e.f->negotiated[b]));
    return out;
}

std::string render_acme_metrics(const workers& ws, const acme::manager* acme) {
    std::string out;
    const char* answered = "atsgate_acme_challenges_answered_total";
    family(out, answered, "counter", "ACME validations answered by the listeners, by challenge.");
    sample(out, answered, labels({{"challenge", "tls-alpn-01"}}), sum(ws, &stats::acme_challenge_handshakes));
    sample(out, answered, labels({{"challenge", "http-01"}}), sum(ws, &stats::acme_http01_answers));
    if (acme == nullptr) return out;
    std::uint64_t orders_ok = 0, orders_failed = 0, renewals_ok = 0, renewals_failed = 0, rejected = 0;
    for (const auto& c : acme->certificates()) {
        orders_ok += c.orders_ok;
        orders_failed += c.orders_failed;
        renewals_ok += c.renewals_ok;
        renewals_failed += c.renewals_failed;
        rejected += c.rejected_total;
    }
    family(out, "atsgate_acme_orders_total", "counter", "ACME orders of certificates that had none yet, by result.");
    sample(out, "atsgate_acme_orders_total", labels({{"result", "ok"}}), orders_ok);
    sample(out, "atsgate_acme_orders_total", labels({{"result", "failed"}}), orders_failed);
    family(out, "atsgate_acme_renewals_total", "counter", "ACME renewals, by result.");
    sample(out, "atsgate_acme_renewals_total", labels({{"result", "ok"}}), renewals_ok);
    sample(out, "atsgate_acme_renewals_total", labels({{"result", "failed"}}), renewals_failed);
    prometheus::single(out, "atsgate_acme_certificates_rejected_total", "counter",
                       "Issued or stored ACME certificates refused by the ATS audit (never served).", rejected);
    auto per_certificate = [&](const char* name, const char* help, auto value_of) {
        family(out, name, "gauge", help);
        for (const auto& c : acme->certificates())
            sample(out, name, labels({{"certificate", c.id}}), static_cast<std::int64_t>(value_of(c)));
    };
    using cert = acme::managed_certificate;
    per_certificate("atsgate_acme_next_renewal_timestamp_seconds", "When the next order or renewal attempt is due.",
                    [](const cert& c) { return c.plan.at; });
    per_certificate("atsgate_acme_consecutive_failures", "Failed attempts in a row (0 = healthy).",
                    [](const cert& c) { return c.failures; });
    per_certificate("atsgate_acme_renewal_overdue", "1 when renewal is due and keeps failing.",
                    [](const cert& c) { return c.plan.overdue ? 1 : 0; });
    return out;
}

}  // namespace atsgate::server
