#include "proxy/server/metrics.hpp"

#include "tls/handshake_gate.hpp"

#include <array>
#include <cstdint>
#include <functional>

namespace atsgate::server {

namespace {
using downstream::stats;
using counter_of = std::function<const stats::counter&(const stats&)>;

std::uint64_t sum(const std::vector<const stats*>& ws, const counter_of& f) {
    std::uint64_t n = 0;
    for (const stats* s : ws) n += stats::get(f(*s));
    return n;
}

void metric(std::string& out, const char* name, const char* type, const char* help, std::uint64_t value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}
}  // namespace

std::string render_metrics(const std::vector<const stats*>& ws) {
    std::string out;
    out.reserve(4096);
    metric(out, "atsgate_connections_accepted_total", "counter", "Client TCP connections accepted.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.connections_accepted; }));
    metric(out, "atsgate_connections_active", "gauge", "Client connections open now.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.connections_active; }));
    metric(out, "atsgate_handshakes_total", "counter", "Completed TLS handshakes.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.handshakes; }));
    metric(out, "atsgate_handshakes_resumed_total", "counter", "Completed TLS handshakes that resumed a session.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.resumed_handshakes; }));

    metric(out, "atsgate_handshakes_aborted_total", "counter",
           "Connections closed, or that sent something other than TLS, before a ClientHello (port scans, TCP probes).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.handshakes_aborted; }));
    out += "# HELP atsgate_handshake_refused_total TLS handshakes atsgate refused, by reason (ATS policy, SNI, ALPN, "
           "client certificate).\n";
    out += "# TYPE atsgate_handshake_refused_total counter\n";
    for (std::size_t r = 1; r < tls::refusal_count; ++r) {
        out += "atsgate_handshake_refused_total{reason=\"";
        out += tls::to_string(static_cast<tls::refusal>(r));
        out += "\"} ";
        out += std::to_string(sum(ws, [r](const stats& s) -> const stats::counter& { return s.refused[r]; }));
        out += '\n';
    }
    out += "# HELP atsgate_handshake_failures_total TLS handshakes that failed after their ClientHello without a "
           "refusal, by reason.\n";
    out += "# TYPE atsgate_handshake_failures_total counter\n";
    for (std::size_t f = 1; f < tls::handshake_failure_count; ++f) {
        out += "atsgate_handshake_failures_total{reason=\"";
        out += tls::to_string(static_cast<tls::handshake_failure>(f));
        out += "\"} ";
        out += std::to_string(sum(ws, [f](const stats& s) -> const stats::counter& { return s.handshake_failures[f]; }));
        out += '\n';
    }
    out += "# HELP atsgate_handshake_timeouts_total TLS handshakes that ran into the handshake timeout, by what "
           "atsgate was waiting for.\n";
    out += "# TYPE atsgate_handshake_timeouts_total counter\n";
    for (std::size_t p = 0; p < downstream::handshake_wait_count; ++p) {
        out += "atsgate_handshake_timeouts_total{phase=\"";
        out += downstream::handshake_wait_names[p];
        out += "\"} ";
        out += std::to_string(sum(ws, [p](const stats& s) -> const stats::counter& { return s.handshake_timeouts[p]; }));
        out += '\n';
    }
    metric(out, "atsgate_connections_shed_total", "counter",
           "Idle client connections closed to make room for a new one at max_connections.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.connections_shed; }));
    metric(out, "atsgate_requests_total", "counter", "Request heads received.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.requests; }));
    out += "# HELP atsgate_responses_total Responses sent to clients, by status class.\n";
    out += "# TYPE atsgate_responses_total counter\n";
    for (std::size_t c = 1; c <= 5; ++c) {
        out += "atsgate_responses_total{class=\"" + std::to_string(c) + "xx\"} ";
        out += std::to_string(sum(ws, [c](const stats& s) -> const stats::counter& { return s.responses[c]; }));
        out += '\n';
    }
    metric(out, "atsgate_bad_requests_total", "counter", "Requests refused by the HTTP codec (400/405/413/431/505).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.bad_requests; }));
    out += "# HELP atsgate_request_headers_dropped_total Client header fields not forwarded upstream, by reason.\n";
    out += "# TYPE atsgate_request_headers_dropped_total counter\n";
    out += "atsgate_request_headers_dropped_total{reason=\"underscore\"} ";
    out += std::to_string(sum(ws, [](const stats& s) -> const stats::counter& { return s.dropped_underscore; }));
    out += "\natsgate_request_headers_dropped_total{reason=\"identity\"} ";
    out += std::to_string(sum(ws, [](const stats& s) -> const stats::counter& { return s.dropped_identity; }));
    out += '\n';
    metric(out, "atsgate_upstream_connects_total", "counter", "New upstream connections (requests and warm-up).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.upstream_connects; }));
    metric(out, "atsgate_upstream_reuses_total", "counter", "Requests sent on a pooled keep-alive upstream connection.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.upstream_reuses; }));
    metric(out, "atsgate_upstream_connect_errors_total", "counter", "Failed connects or sends to upstreams.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.upstream_connect_errors; }));
    metric(out, "atsgate_upstream_timeouts_total", "counter", "Upstream connect, send or response timeouts.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.upstream_timeouts; }));
    metric(out, "atsgate_upstream_bad_responses_total", "counter", "Malformed upstream responses.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.upstream_bad_responses; }));
    metric(out, "atsgate_upstream_retries_total", "counter", "Requests re-sent after a stale pooled connection.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.upstream_retries; }));
    metric(out, "atsgate_upstream_unavailable_total", "counter", "Requests that found every member of their upstream down or ejected and tried them anyway (panic mode).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.upstream_unavailable; }));
    metric(out, "atsgate_plaintext_urls_total", "counter",
           "http:// URLs found in plist/XML/JSON response bodies by the plaintext URL guard (not modified).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.plaintext_urls; }));
    metric(out, "atsgate_client_aborts_total", "counter", "Exchanges ended because the client went away.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.client_aborts; }));
    metric(out, "atsgate_location_rewrites_total", "counter", "Plaintext http:// Location headers rewritten to https://.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.location_rewrites; }));
    metric(out, "atsgate_plaintext_locations_total", "counter", "http:// Location headers to foreign hosts (not rewritten).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.plaintext_locations; }));
    metric(out, "atsgate_request_body_bytes_total", "counter", "Request body bytes forwarded upstream.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.bytes_from_clients; }));
    metric(out, "atsgate_response_body_bytes_total", "counter", "Response body bytes forwarded to clients.",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.bytes_to_clients; }));
    metric(out, "atsgate_proxy_protocol_headers_total", "counter",
           "PROXY protocol headers accepted (listeners with proxy_protocol = true).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.proxy_headers; }));
    metric(out, "atsgate_proxy_protocol_local_total", "counter",
           "Accepted PROXY headers without a client address (LOCAL / UNKNOWN: the balancer's health checks).",
           sum(ws, [](const stats& s) -> const stats::counter& { return s.proxy_local; }));
    out += "# HELP atsgate_proxy_protocol_refused_total Connections refused on PROXY protocol listeners, by reason.\n";
    out += "# TYPE atsgate_proxy_protocol_refused_total counter\n";
    for (std::size_t r = 1; r < downstream::proxy_refusal_count; ++r) {
        out += "atsgate_proxy_protocol_refused_total{reason=\"";
        out += downstream::proxy_refusal_name(r);
        out += "\"} ";
        out += std::to_string(sum(ws, [r](const stats& s) -> const stats::counter& { return s.proxy_refused[r]; }));
        out += '\n';
    }
    return out;
}

std::string render_summary(const std::vector<const stats*>& ws) {
    std::string out = "connections=" +
                      std::to_string(sum(ws, [](const stats& s) -> const stats::counter& { return s.connections_accepted; })) +
                      " handshakes=" + std::to_string(sum(ws, [](const stats& s) -> const stats::counter& { return s.handshakes; })) +
                      " requests=" + std::to_string(sum(ws, [](const stats& s) -> const stats::counter& { return s.requests; })) +
                      " refused:";
    for (std::size_t r = 1; r < tls::refusal_count; ++r) {
        out += ' ';
        out += tls::to_string(static_cast<tls::refusal>(r));
        out += '=';
        out += std::to_string(sum(ws, [r](const stats& s) -> const stats::counter& { return s.refused[r]; }));
    }
    out += " failed:";
    for (std::size_t f = 1; f < tls::handshake_failure_count; ++f) {
        out += ' ';
        out += tls::to_string(static_cast<tls::handshake_failure>(f));
        out += '=';
        out += std::to_string(sum(ws, [f](const stats& s) -> const stats::counter& { return s.handshake_failures[f]; }));
    }
    out += " timeouts:";
    for (std::size_t p = 0; p < downstream::handshake_wait_count; ++p) {
        out += ' ';
        out += downstream::handshake_wait_names[p];
        out += '=';
        out += std::to_string(sum(ws, [p](const stats& s) -> const stats::counter& { return s.handshake_timeouts[p]; }));
    }
    return out;
}

std::string render_fleet_metrics(const snapshot::snapshot& snap) {
    using fc = tls::fleet_counters;
    std::string out;
    auto family = [&](const char* name, const char* help) {
        out += "# HELP ";
        out += name;
        out += ' ';
        out += help;
        out += "\n# TYPE ";
        out += name;
        out += " counter\n";
    };
    auto series = [&](const char* name, const std::string& listener, const char* label, std::string_view value,
                      std::uint64_t n) {
        out += name;
        out += "{listener=\"" + listener + "\"";
        if (label != nullptr) {
            out += ',';
            out += label;
            out += "=\"";
            out += value;
            out += '"';
        }
        out += "} " + std::to_string(n) + "\n";
    };
    struct entry {
        const std::string* name;
        const fc* f;
    };
    std::vector<entry> ls;
    for (std::size_t i = 0; i < snap.cfg.listeners.size(); ++i)
        if (snap.listeners[i].fleet) ls.push_back({&snap.cfg.listeners[i].name, snap.listeners[i].fleet.get()});
    family("atsgate_handshake_would_refuse_total",
           "Report mode: handshakes served that strict mode would have refused, by listener and reason.");
    for (const auto& e : ls)
        for (std::size_t r = 1; r < tls::refusal_count; ++r)
            series("atsgate_handshake_would_refuse_total", *e.name, "reason", tls::to_string(static_cast<tls::refusal>(r)),
                   fc::get(e.f->would_refuse[r]));
    family("atsgate_fleet_refused_total", "Refused handshakes by listener and reason.");
    for (const auto& e : ls)
        for (std::size_t r = 1; r < tls::refusal_count; ++r)
            series("atsgate_fleet_refused_total", *e.name, "reason", tls::to_string(static_cast<tls::refusal>(r)),
                   fc::get(e.f->refused[r]));
    family("atsgate_fleet_client_hellos_total", "ClientHellos by listener and the highest TLS version offered.");
    for (const auto& e : ls)
        for (std::size_t b = 0; b < tls::version_bucket_count; ++b)
            series("atsgate_fleet_client_hellos_total", *e.name, "max_version",
                   tls::to_string(static_cast<tls::version_bucket>(b)), fc::get(e.f->offered_max[b]));
    family("atsgate_fleet_client_hello_features_total",
           "ClientHellos by listener offering a feature: ems (Extended Master Secret), sni (server_name), "
           "x25519mlkem768 (post-quantum hybrid group, Apple OS 26 and later).");
    for (const auto& e : ls) {
        series("atsgate_fleet_client_hello_features_total", *e.name, "feature", "ems", fc::get(e.f->ems_offered));
        series("atsgate_fleet_client_hello_features_total", *e.name, "feature", "sni", fc::get(e.f->sni_present));
        series("atsgate_fleet_client_hello_features_total", *e.name, "feature", "x25519mlkem768",
               fc::get(e.f->mlkem_offered));
    }
    family("atsgate_fleet_handshakes_total", "Completed handshakes by listener and negotiated TLS version.");
    for (const auto& e : ls)
        for (std::size_t b = 0; b < tls::version_bucket_count; ++b)
            series("atsgate_fleet_handshakes_total", *e.name, "version", tls::to_string(static_cast<tls::version_bucket>(b)),
                   fc::get(e.f->negotiated[b]));
    return out;
}

}  // namespace atsgate::server
