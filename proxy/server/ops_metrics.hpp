#pragma once
// The /metrics series an operator pages on, besides the workers' counters (metrics.hpp): reloads
// and the configuration generation, what is deployed (build info), when certificates expire,
// whether the last reload was applied, which upstream members can take traffic, the drain, and how
// close the process is to its connection and descriptor limits. Rendered from the live snapshot at
// scrape time.

#include "proxy/snapshot/snapshot.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace atsgate::server {

struct ops_facts {
    std::uint64_t reloads_ok = 0;
    std::uint64_t reloads_refused = 0;
    std::uint64_t generation = 0;           // of the live configuration snapshot
    std::int64_t now = 0;                   // unix seconds
    std::chrono::steady_clock::time_point mono;  // for member ejections
    std::int64_t started = 0;               // unix seconds
    bool draining = false;
    bool last_reload_ok = true;             // true when there was none
    std::int64_t last_good_config = 0;      // unix seconds of the start or of the last applied reload
};

// Prometheus text. Reads the snapshot and the members' health (atomics); control thread.
std::string render_ops_metrics(const snapshot::snapshot& snap, const ops_facts& facts);

// The running OpenSSL library's version ("3.0.19"), not the headers'.
std::string openssl_runtime_version();

}  // namespace atsgate::server
