#pragma once
// Per-worker counters. Each worker thread is the only writer of its own stats (so increments are a
// relaxed load + store, no locked instruction); the admin endpoint and the shutdown report read
// them from another thread, hence atomics.

#include "proxy/downstream/proxy_header.hpp"
#include "tls/handshake_gate.hpp"

#include <array>
#include <atomic>
#include <cstdint>

namespace atsgate::downstream {

// What a handshake that ran into [timeouts] handshake was waiting for.
enum class handshake_wait : std::uint8_t {
    client_hello,     // no complete ClientHello arrived (silent or trickling TCP connections)
    client_finished,  // atsgate answered the ClientHello; the client never completed its flight
};
inline constexpr std::size_t handshake_wait_count = 2;
// Stable names (logs, the atsgate_handshake_timeouts_total{phase} label).
inline constexpr std::array<const char*, handshake_wait_count> handshake_wait_names{"client_hello", "client_finished"};

struct stats {
    using counter = std::atomic<std::uint64_t>;

    counter connections_accepted{0};
    counter connections_active{0};   // gauge
    counter handshakes{0};           // completed TLS handshakes
    counter resumed_handshakes{0};   // ... of which resumed (tickets)
    counter handshakes_aborted{0};   // closed, or sent something that is not TLS, before a ClientHello (scans, probes)
    counter acme_challenge_handshakes{0};  // TLS-ALPN-01 validations answered (not in handshakes)
    counter acme_http01_answers{0};        // HTTP-01 key authorizations served
    std::array<counter, tls::refusal_count> refused{};  // refused handshakes by tls::refusal (index 0 unused)
    // Report mode: handshakes served that strict mode would have refused, by tls::refusal.
    std::array<counter, tls::refusal_count> would_refuse{};
    // Handshakes that failed after their ClientHello without a refusal, by tls::handshake_failure (index 0 unused).
    std::array<counter, tls::handshake_failure_count> handshake_failures{};
    std::array<counter, handshake_wait_count> handshake_timeouts{};  // by handshake_wait
    counter connections_shed{0};     // idle connections closed to make room at max_connections
    counter requests{0};             // request heads received
    std::array<counter, 6> responses{};  // responses sent to clients by status class: [1] 1xx .. [5] 5xx
    counter bad_requests{0};         // requests refused by the codec (400/405/413/431/505)
    counter dropped_underscore{0};   // client header fields not forwarded: name contains '_'
    counter dropped_identity{0};     // client header fields not forwarded: identity fields (X-Client-Cert, ...)
    counter upstream_connects{0};    // new upstream connections (requests and warm-up)
    counter upstream_reuses{0};      // requests sent on a pooled keep-alive connection
    counter upstream_connect_errors{0};
    counter upstream_timeouts{0};
    counter upstream_bad_responses{0};
    counter upstream_retries{0};     // requests re-sent after a pooled connection turned out stale
    counter upstream_unavailable{0}; // requests that found every member down or ejected (panic mode: tried anyway)
    counter plaintext_urls{0};       // http:// URLs found in plist/XML/JSON bodies (URL guard)
    counter client_aborts{0};        // client went away mid-exchange
    counter location_rewrites{0};    // http:// Location rewritten to https://
    counter plaintext_locations{0};  // http:// Location to a foreign host left untouched (logged)
    counter bytes_from_clients{0};   // request body bytes forwarded
    counter bytes_to_clients{0};     // response body bytes forwarded
    // PROXY protocol listeners: connections refused by proxy_refusal slot (proxy_header.hpp;
    // index 0 unused), headers accepted, and of those the ones without an address (the balancer's
    // own LOCAL / UNKNOWN health checks).
    std::array<counter, proxy_refusal_count> proxy_refused{};
    counter proxy_headers{0};
    counter proxy_local{0};

    static void inc(counter& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    static void dec(counter& c) noexcept { c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed); }
    static std::uint64_t get(const counter& c) noexcept { return c.load(std::memory_order_relaxed); }
};

}  // namespace atsgate::downstream
