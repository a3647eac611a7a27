#pragma once
// The validated, immutable configuration. Produced only by load_file()/load_string() (loader.hpp); every
// value here has been range- and type-checked, so downstream code never re-checks it.
// The README's "Configuration reference" documents the same keys and defaults: change both together.
//
// Value syntax (checked by config/loader.cpp; anything else is an error, never coerced):
// - duration: a string "<digits><unit>", unit ms|s|m|h ("500ms", "30s", "2m", "1h"); a bare
//   integer is refused so that "10" cannot silently mean ms or s.
// - size: an integer number of bytes, or a string "<digits>[k|K|KiB|m|M|MiB|g|G|GiB]"; all
//   suffixes are binary (1k = 1024). Decimal "GB"/"kB" are refused rather than guessed.
// - relative file paths are resolved against the config file's directory and stored absolute.
// - unknown keys and tables are errors (with a "did you mean" suggestion).

#include "config/diagnostic.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::config {

using duration = std::chrono::milliseconds;

enum class tls_version { v1_2, v1_3 };

enum class log_level { trace, debug, info, warn, error, off };

// [server]
struct server_settings {
    // workers = 0. Number of worker threads, each with its own event loop, acceptors and upstream
    // pools. 0 = one per online CPU. Range 0..256.
    std::uint32_t workers = 0;
    // drain_timeout = "30s". On SIGTERM/SIGINT: stop accepting, let in-flight requests finish for at
    // most this long, then close whatever is left. Range 0s..1h.
    duration drain_timeout{std::chrono::seconds(30)};
    // log_level = "info". trace|debug|info|warn|error|off. Refused handshakes log at info.
    log_level level = log_level::info;
    // access_log = true. One line per request on stdout (client, method, path, status, bytes,
    // upstream time, TLS version and suite).
    bool access_log = true;
};

// [timeouts] — every wait on the data plane has a deadline.
struct timeout_settings {
    // handshake = "10s". TCP accept until the TLS handshake completes. Range 100ms..10m.
    duration handshake{std::chrono::seconds(10)};
    // request_header = "30s". Until a complete request head has arrived: counted from the end of the
    // handshake for the first request, from the first byte for later ones (slowloris bound).
    // Range 1s..24h.
    duration request_header{std::chrono::seconds(30)};
    // keepalive = "60s". Idle time allowed between requests on a client connection. Range 1s..24h.
    duration keepalive{std::chrono::seconds(60)};
    // body = "60s". Longest pause while reading a request body from the client or writing a response
    // to it (per read/write, like nginx client_body_timeout / send_timeout). Range 1s..24h.
    duration body{std::chrono::seconds(60)};
};

// [limits]
struct limit_settings {
    // max_connections = 10000. Client connections open at once across all workers (each worker gets
    // an equal share, rounded up). Over the limit, atsgate stops accepting until one closes.
    // Integer, range 1..1000000.
    std::uint32_t max_connections = 10000;
    // header_bytes = 32768. Largest request head (request line + headers). Over: 431 and close.
    // Size (integer or "32k"), range 1024..1048576 (1KiB..1MiB). Also sizes the per-connection
    // read buffer.
    std::uint32_t header_bytes = 32 * 1024;
    // header_count = 100. Most header fields in one request. Over: 431 and close. Integer, range
    // 1..1000.
    std::uint32_t header_count = 100;
    // body_bytes = "4GiB". Largest request body. Over: 413 and close (checked against Content-Length
    // before any byte is forwarded, and while streaming chunked bodies). 0 = no limit.
    // Size, range 0..1024GiB.
    std::uint64_t body_bytes = 4ull << 30;
    // response_header_bytes = 65536. Largest response head accepted from an upstream. Over: 502.
    // Size, range 1024..1048576 (1KiB..1MiB).
    std::uint32_t response_header_bytes = 64 * 1024;
    // requests_per_connection = 1000. Keep-alive requests served on one client connection before
    // atsgate answers with "Connection: close". 0 = no limit. Integer, range 0..1000000.
    std::uint32_t requests_per_connection = 1000;
};

// A string value plus where it came from, for values validated by later layers (tls/) that must
// still point at the config file in their diagnostics.
struct positioned {
    std::string value;
    source_pos where;
};

// [[listener]]
struct listener {
    std::string name;         // required; unique among listeners; [A-Za-z0-9_.-]{1,64}
    std::string address;      // "0.0.0.0"; IPv4 or IPv6 literal ("::" for all IPv6), as written;
                              // no brackets, no zone ("%eth0"), no host names
    std::uint16_t port = 0;   // required; 1..65535; (address, port) unique across the file,
                              // admin included; a specific address may not share a port with the
                              // wildcard of its family (0.0.0.0 vs 10.0.0.1). 0.0.0.0 and :: may
                              // share one: the listener must set IPV6_V6ONLY on "::" sockets.
    std::string cert;         // required; PEM: leaf first, then intermediates (absolute path)
    std::string key;          // required; PEM private key matching the leaf (absolute path)
    std::string trust;        // optional; PEM roots the devices trust; empty = system store
                              // (cert, key, trust: checked readable at load time, nothing more)
    std::string server_name;  // optional; DNS name or IP devices use; audited against the SAN.
                              // LDH labels, no trailing dot, no wildcard ("*." refused: give the
                              // exact name devices connect to).
    std::string upstream;     // required; name of an [[upstream]]
    std::size_t upstream_index = 0;  // index of that upstream in config::upstreams

    // min_version = "1.2". The string "1.2" or "1.3" (TLS 1.0/1.1 can never be enabled: ATS
    // blocks them). The three lists below, when present, must be non-empty arrays of distinct,
    // non-empty strings (an empty array is an error: omit the key for the default list); each
    // entry keeps its position for tls/'s diagnostics.
    tls_version min_version = tls_version::v1_2;
    // tls12_ciphers = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    //                  "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
    // OpenSSL or IANA names; only ECDHE suites from Apple's ATS list are accepted (checked in tls/).
    // Empty vector here = the default list.
    std::vector<positioned> tls12_ciphers;
    // tls13_ciphersuites = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
    //                       "TLS_CHACHA20_POLY1305_SHA256"]. Empty vector = the default list.
    std::vector<positioned> tls13_ciphersuites;
    // groups = ["X25519", "P-256", "P-384"]. Key-exchange groups, a subset of those three.
    std::vector<positioned> groups;

    source_pos where;  // position of this [[listener]] table header
    // Positions of the keys that were present, by key name ("cert", "min_version", ...), so that
    // later layers can point their diagnostics at the file.
    std::map<std::string, source_pos> key_pos;
};

// [[upstream]]
struct upstream {
    std::string name;  // required; unique among upstreams; [A-Za-z0-9_.-]{1,64}
    // required; "http://host[:port][/]" as written (no path other than "/", no query, fragment or
    // userinfo). host: DNS name, IPv4, or [IPv6]. https:// is refused for now (internal hop).
    std::string url;
    std::string host;  // parsed from url: DNS name, IPv4 literal or IPv6 literal without brackets
    std::uint16_t port = 80;  // parsed from url; default 80
    // connect_timeout = "5s". TCP connect to the backend. Over: 504. Range 100ms..10m.
    duration connect_timeout{std::chrono::seconds(5)};
    // response_timeout = "60s". Longest wait for each read from the backend once the request is
    // sent: the response head and every pause inside the body (like nginx proxy_read_timeout).
    // Over before the head: 504; during the body: the client connection is closed. Range 1s..24h.
    duration response_timeout{std::chrono::seconds(60)};
    // keepalive = 32. Idle keep-alive connections kept per worker thread. 0 = close after each
    // request. Integer, range 0..10000.
    std::uint32_t keepalive = 32;
    // keepalive_timeout = "30s". An idle pooled connection older than this is closed, not reused.
    // Range 1s..24h.
    duration keepalive_timeout{std::chrono::seconds(30)};

    source_pos where;
    std::map<std::string, source_pos> key_pos;
};

// [admin] — optional loopback-only plain-HTTP endpoint: GET /metrics (Prometheus text),
// GET /healthz. Absent = disabled.
struct admin_settings {
    // Must be a loopback literal (127.0.0.0/8 or ::1): the endpoint is plain HTTP and unauthenticated.
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;             // required when [admin] is present
    source_pos where;
};

struct config {
    std::string path;  // the file it was read from, as given on the command line
    server_settings server;
    timeout_settings timeouts;
    limit_settings limits;
    std::vector<listener> listeners;  // at least one
    std::vector<upstream> upstreams;  // at least one
    std::optional<admin_settings> admin;
};

}  // namespace atsgate::config
