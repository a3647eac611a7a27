#pragma once
// The validated, immutable configuration. Produced only by config::load() (loader.hpp); every
// value here has been range- and type-checked, so downstream code never re-checks it.
// The README's "Configuration reference" documents the same keys and defaults: change both together.

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
    // handshake = "10s". TCP accept until the TLS handshake completes.
    duration handshake{std::chrono::seconds(10)};
    // request_header = "30s". Until a complete request head has arrived: counted from the end of the
    // handshake for the first request, from the first byte for later ones (slowloris bound).
    duration request_header{std::chrono::seconds(30)};
    // keepalive = "60s". Idle time allowed between requests on a client connection.
    duration keepalive{std::chrono::seconds(60)};
    // body = "60s". Longest pause while reading a request body from the client or writing a response
    // to it (per read/write, like nginx client_body_timeout / send_timeout).
    duration body{std::chrono::seconds(60)};
};

// [limits]
struct limit_settings {
    // max_connections = 10000. Client connections open at once across all workers (each worker gets
    // an equal share, rounded up). Over the limit, atsgate stops accepting until one closes.
    std::uint32_t max_connections = 10000;
    // header_bytes = 32768. Largest request head (request line + headers). Over: 431 and close.
    // Range 1024..1048576. Also sizes the per-connection read buffer.
    std::uint32_t header_bytes = 32 * 1024;
    // header_count = 100. Most header fields in one request. Over: 431 and close. Range 1..1000.
    std::uint32_t header_count = 100;
    // body_bytes = "4GiB". Largest request body. Over: 413 and close (checked against Content-Length
    // before any byte is forwarded, and while streaming chunked bodies). 0 = no limit.
    std::uint64_t body_bytes = 4ull << 30;
    // response_header_bytes = 65536. Largest response head accepted from an upstream. Over: 502.
    std::uint32_t response_header_bytes = 64 * 1024;
    // requests_per_connection = 1000. Keep-alive requests served on one client connection before
    // atsgate answers with "Connection: close". 0 = no limit.
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
    std::string address;      // "0.0.0.0"; IPv4 or IPv6 literal ("::" for all IPv6)
    std::uint16_t port = 0;   // required; 1..65535; (address, port) unique across the file
    std::string cert;         // required; PEM: leaf first, then intermediates (absolute path)
    std::string key;          // required; PEM private key matching the leaf (absolute path)
    std::string trust;        // optional; PEM roots the devices trust; empty = system store
    std::string server_name;  // optional; DNS name or IP devices use; audited against the SAN
    std::string upstream;     // required; name of an [[upstream]]
    std::size_t upstream_index = 0;  // index of that upstream in config::upstreams

    // min_version = "1.2". "1.2" or "1.3" (TLS 1.0/1.1 can never be enabled: ATS blocks them).
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
    std::string url;   // required; "http://host:port" as written (no path, query or userinfo)
    std::string host;  // parsed from url: DNS name, IPv4 literal or IPv6 literal without brackets
    std::uint16_t port = 80;  // parsed from url; default 80
    // connect_timeout = "5s". TCP connect to the backend. Over: 504.
    duration connect_timeout{std::chrono::seconds(5)};
    // response_timeout = "60s". Longest wait for each read from the backend once the request is
    // sent: the response head and every pause inside the body (like nginx proxy_read_timeout).
    // Over before the head: 504; during the body: the client connection is closed.
    duration response_timeout{std::chrono::seconds(60)};
    // keepalive = 32. Idle keep-alive connections kept per worker thread. 0 = close after each request.
    std::uint32_t keepalive = 32;
    // keepalive_timeout = "30s". An idle pooled connection older than this is closed, not reused.
    duration keepalive_timeout{std::chrono::seconds(30)};

    source_pos where;
    std::map<std::string, source_pos> key_pos;
};

// [admin] — optional loopback-only plain-HTTP endpoint: GET /metrics (Prometheus text),
// GET /healthz. Absent = disabled.
struct admin_settings {
    std::string address = "127.0.0.1";  // must be a loopback address
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
