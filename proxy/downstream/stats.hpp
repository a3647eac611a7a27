#pragma once
// Per-worker counters. Each worker thread is the only writer of its own stats (so increments are a
// relaxed load + store, no locked instruction); the admin endpoint and the shutdown report read
// them from another thread, hence atomics.

#include "tls/handshake_gate.hpp"

#include <array>
#include <atomic>
#include <cstdint>

namespace atsgate::downstream {

struct stats {
    using counter = std::atomic<std::uint64_t>;

    counter connections_accepted{0};
    counter connections_active{0};   // gauge
    counter handshakes{0};           // completed TLS handshakes
    counter resumed_handshakes{0};   // ... of which resumed (tickets)
    counter handshakes_aborted{0};   // connections that ended before a ClientHello (scans, TCP probes, timeouts)
    std::array<counter, tls::refusal_count> refused{};  // refused handshakes by tls::refusal (index 0 unused)
    counter requests{0};             // request heads received
    std::array<counter, 6> responses{};  // responses sent to clients by status class: [1] 1xx .. [5] 5xx
    counter bad_requests{0};         // requests refused by the codec (400/405/413/431/505)
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

    static void inc(counter& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    static void dec(counter& c) noexcept { c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed); }
    static std::uint64_t get(const counter& c) noexcept { return c.load(std::memory_order_relaxed); }
};

}  // namespace atsgate::downstream
