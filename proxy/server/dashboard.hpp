#pragma once
// The admin dashboard (GET / on [admin]): one self-contained HTML page rendered from a plain view
// of the running proxy. No external scripts, fonts or images; one inline stylesheet and one inline
// script, both allowed by hash in dashboard_csp() (no 'unsafe-inline'). Every table is server-side
// HTML, so the page works with JavaScript off; with it on, the script re-fetches the page every
// `refresh_seconds` and swaps in the new <main>. Every string in the view is hostile (certificate
// subjects, SNI from clients, config names, reload messages) and is HTML-escaped on output.
// Pure: no clock (view.now), no I/O. Any thread.

#include "proxy/server/minute_series.hpp"
#include "tls/audit.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atsgate::server {

struct dashboard_view {
    std::string version;
    std::uint64_t generation = 0;
    std::int64_t now = 0;      // unix seconds
    std::int64_t started = 0;  // unix seconds
    std::size_t workers = 0;
    bool draining = false;
    bool session = false;          // the request came with a dashboard session cookie: offer "log out"
    unsigned refresh_seconds = 15;  // the script's refresh interval

    struct listener {
        std::string name;
        std::string kind;        // "https" | "scep"
        std::string address;     // "0.0.0.0:443"
        std::string enforcement; // "strict" | "report" ("" for scep)
        std::vector<tls::finding> findings;  // this listener's audit findings, in rule order
    };
    std::vector<listener> listeners;

    struct certificate {
        std::string listener;
        std::string subject;
        std::vector<std::string> names;
        std::string key;
        std::int64_t not_after = 0;  // unix seconds
    };
    std::vector<certificate> certificates;

    // With [acme]: every certificate the ACME task manages, served or not (empty without [acme]).
    struct acme_certificate {
        std::string id;                  // "<first name>.<key type>"
        std::vector<std::string> names;
        std::string state;               // "valid" | "failing" (renewal failing) | "pending" (none served)
        std::int64_t not_after = 0;      // of the served certificate; 0 = none
        std::int64_t next_attempt = 0;   // unix seconds
        std::string reason;              // why then: "two_thirds", "ari_window", "backoff", ...
        bool overdue = false;            // renewal is due and keeps failing
        std::uint64_t failures = 0;      // consecutive
        std::string last_error;
        std::string waiting_for;         // e.g. another replica holds the storage lock
        std::vector<std::string> rejected;  // failing audit findings of the last refused certificate
    };
    std::vector<acme_certificate> acme;

    struct route {
        std::string listener;
        std::string name;  // "" for the listener's default upstream
        std::string host;
        std::string path;
        std::vector<std::pair<std::string, std::uint32_t>> targets;  // upstream, weight
        std::optional<int> static_status;
    };
    std::vector<route> routes;

    struct member {
        std::string upstream;
        std::string url;
        std::uint32_t weight = 0;
        bool health_checks = false;
        bool healthy = false;
        bool ejected = false;
        bool usable = false;
        std::uint64_t passive_failures = 0;
        std::uint64_t ejections = 0;
    };
    std::vector<member> members;

    struct reload {
        std::int64_t at = 0;
        std::string trigger;
        bool ok = false;
        std::uint64_t generation = 0;
        std::string message;
    };
    std::vector<reload> reloads;  // newest first

    // The chart: per-minute handshakes, refusals and would-refuse counts over the last hour.
    // Columns of `minutes[i].values`: 0 = completed handshakes, then refusal_reasons.size()
    // refusal columns, then would_refuse_reasons.size() would-refuse columns.
    std::vector<std::string> refusal_reasons;
    std::vector<std::string> would_refuse_reasons;
    std::vector<minute_series::row> minutes;

    // Totals since start.
    std::uint64_t handshakes = 0;
    std::uint64_t connections_active = 0;
    std::uint64_t requests = 0;
    std::vector<std::pair<std::string, std::uint64_t>> refused_total;       // reason, count
    std::vector<std::pair<std::string, std::uint64_t>> would_refuse_total;  // reason, count

    // The most recent refused / would-refuse handshakes, newest first.
    struct refused_client {
        std::int64_t at = 0;
        std::string listener;
        std::string client;       // address:port as the connection knows it
        std::string sni;          // already sanitised and bounded by the recorder; escaped here again
        std::string max_version;  // "TLSv1.2"
        std::uint32_t suites = 0;
        bool ems = false;
        std::string groups;       // "x25519,secp256r1"
        std::string reason;       // refusal name
        bool would_refuse = false;
    };
    std::vector<refused_client> recent;
};

// One line for operators on why a refusal reason happens and who sends such handshakes.
std::string_view explain_reason(std::string_view reason) noexcept;

// The whole page.
std::string render_dashboard(const dashboard_view& v);

// The login page (401 when GET / comes without a token). `error`: shown above the form ("" = none).
std::string render_login(std::string_view error);

// The Content-Security-Policy of both pages: default-src 'none', the stylesheet and the script by
// hash, fetches and forms to the same origin only, no framing.
const std::string& dashboard_csp();

}  // namespace atsgate::server
