#pragma once
// config/: the configuration: these validated structs, the key descriptions (schema.hpp), the TOML
// reader with its diagnostics (FILE:LINE:COLUMN, key path, did-you-mean; reader.hpp, diagnostic.hpp),
// one reader per section (read_*.cpp) and the resolve pass after parsing (resolve.cpp). It only
// reads and checks; it builds nothing that serves. May use: std, toml++, util. Every other layer
// may use it.
//
// The validated, immutable configuration. Produced only by load_file()/load_string() (loader.hpp); every
// value here has been range- and type-checked, so downstream code never re-checks it.
// The README's "Configuration reference" documents the same keys and defaults: change both together.
// Every key is also described once in config/schema.hpp (kind, range, hint); that file says how to
// add one.
//
// Value syntax (checked by config/reader.cpp; anything else is an error, never coerced):
// - duration: a string "<digits><unit>", unit ms|s|m|h ("500ms", "30s", "2m", "1h"); a bare
//   integer is refused so that "10" cannot silently mean ms or s.
// - size: an integer number of bytes, or a string "<digits>[k|K|KiB|m|M|MiB|g|G|GiB]"; all
//   suffixes are binary (1k = 1024). Decimal "GB"/"kB" are refused rather than guessed.
// - relative file paths are resolved against the config file's directory and stored absolute.
// - unknown keys and tables are errors (with a "did you mean" suggestion).

#include "config/diagnostic.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::config {

using duration = std::chrono::milliseconds;

// Each enum's `*_names` table spells its values as written in the file, in enum order.

enum class tls_version { v1_2, v1_3 };
inline constexpr std::string_view tls_version_names[] = {"1.2", "1.3"};

// Versions toward a legacy backend (the internal hop may need TLS 1.0 / 1.1).
enum class tls_version_any { v1_0, v1_1, v1_2, v1_3 };
inline constexpr std::string_view tls_version_any_names[] = {"1.0", "1.1", "1.2", "1.3"};

enum class log_level { trace, debug, info, warn, error, off };
inline constexpr std::string_view log_level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

enum class log_format { text, json };
inline constexpr std::string_view log_format_names[] = {"text", "json"};

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
    // log_format = "text". "text" | "json": the event log (stderr) and the access log (stdout) as
    // text lines, or as one JSON object per line with the field names the README lists.
    log_format format = log_format::text;
    // watch = false. Reload (the same validated, audited, atomic path as SIGHUP) when the config
    // file or a file it names changes, debounced; Kubernetes' ..data swap of mounted Secrets and
    // ConfigMaps included. A refused reload keeps the running configuration (log, /status).
    bool watch = false;
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

// Where a key of a table was written and how diagnostics name it.
struct origin {
    source_pos where;      // the key's value; the table's position when the key was not written
    std::string key_path;  // "listener[1].trust"
};

// For the tables below that carry `where`, `key_path` and `key_pos` (listener, certificate, route,
// upstream): the origin of `key`, so later layers (tls/, snapshot) point their diagnostics at the
// file without knowing how the file is laid out.
template <class Table>
origin origin_of(const Table& t, std::string_view key) {
    const auto it = t.key_pos.find(std::string(key));
    return origin{it != t.key_pos.end() ? it->second : t.where, t.key_path + "." + std::string(key)};
}

enum class listener_kind {
    https,  // device-facing TLS listener (the ATS policy applies)
    scep,   // plaintext listener that forwards SCEP requests only (Apple exempts SCEP from ATS)
};
inline constexpr std::string_view listener_kind_names[] = {"https", "scep"};

enum class unknown_sni_mode {
    default_cert,  // an SNI matching no certificate (or no SNI) gets the listener's first certificate
    refuse,        // ... is refused with an unrecognized_name alert (no SNI still gets the default)
};
inline constexpr std::string_view unknown_sni_names[] = {"default", "refuse"};

enum class client_auth_mode {
    none,      // no client certificate is requested
    optional,  // requested; the handshake also succeeds without one
    require,   // a handshake without a client certificate is refused
};
inline constexpr std::string_view client_auth_names[] = {"none", "optional", "require"};

enum class enforcement_mode {
    strict,  // every handshake Apple's ATS forbids is refused (the default)
    report,  // legacy handshakes strict mode would refuse (TLS 1.0/1.1, suites without forward
             // secrecy, TLS 1.2 without EMS) are served, logged once and counted as would-refuse
};
inline constexpr std::string_view enforcement_names[] = {"strict", "report"};

enum class client_cert_format {
    escaped_pem,  // URL-escaped PEM (NanoMDM's -cert-header, nginx's $ssl_client_escaped_cert)
    rfc9440,      // RFC 9440 Client-Cert: a structured-field byte sequence of the DER (":base64:")
};
inline constexpr std::string_view client_cert_format_names[] = {"escaped-pem", "rfc9440"};

// [acme] — certificates ordered from an ACME CA (RFC 8555) instead of files. Optional; required as
// soon as a listener or certificate says acme = true.
enum class acme_challenge { tls_alpn_01, http_01 };
inline constexpr std::string_view acme_challenge_names[] = {"tls-alpn-01", "http-01"};
enum class acme_key_type { ecdsa_p256, rsa_2048 };
inline constexpr std::string_view acme_key_type_names[] = {"ecdsa-p256", "rsa-2048"};

struct acme_settings {
    // directory = "https://acme.example.net/directory": the CA's ACME directory URL (required,
    // https://; a public CA or a private ACME CA).
    std::string directory;
    std::string email;  // email = "": account contact (optional), sent as mailto:
    // ca = "": PEM bundle to trust for the ACME server's own HTTPS; empty = the system store.
    std::string ca;
    // storage = "/var/lib/atsgate/acme": account key, certificates and keys (0700 directory, 0600
    // files, atomic writes); created if missing; relative to the config file's directory. Several
    // replicas may share it: a lock lets one of them order while the others pick up the result.
    std::string storage = "/var/lib/atsgate/acme";
    // challenge = "tls-alpn-01": answered by the https listener itself (RFC 8737), or "http-01":
    // answered on the plaintext (kind = "scep") listeners, which the CA reaches on port 80.
    acme_challenge challenge = acme_challenge::tls_alpn_01;
    // key_type = "ecdsa-p256" | "rsa-2048": the certificate key (an entry's key_type overrides it).
    acme_key_type key_type = acme_key_type::ecdsa_p256;
    // order_timeout = "5m": one order (account, authorizations, validation, finalize, download) must
    // complete within this; then it counts as failed. Range 10s..1h.
    duration order_timeout{std::chrono::minutes(5)};
    // request_timeout = "30s": each HTTPS request to the CA (connect to last byte). Range 1s..5m.
    duration request_timeout{std::chrono::seconds(30)};
    // retry_min = "1m", retry_max = "1h": after a failed order, wait retry_min (half of it to all of
    // it, jittered), doubling per failure up to retry_max; never sooner than the CA's Retry-After.
    duration retry_min{std::chrono::minutes(1)};
    duration retry_max{std::chrono::hours(1)};
    source_pos where;
    std::map<std::string, source_pos> key_pos;
};

// [[listener.certificate]] — one certificate (chain + key) a listener can serve. A listener's
// `cert`/`key` shorthand is certificates[0]. Certificates are grouped by their names: one name may
// have an ECDSA and an RSA certificate (ECDSA preferred, RSA for clients that need it).
struct certificate {
    std::string cert;  // required unless acme; PEM: leaf first, then intermediates (absolute path)
    std::string key;   // required unless acme; PEM private key of the leaf (absolute path)
    // acme = false: true orders the certificate for `names` from [acme] instead of reading cert/key
    // (which must then be absent); names are required and exact (no wildcards: they need DNS-01).
    bool acme = false;
    // key_type = [acme].key_type: only with acme; one entry per key type for an ECDSA + RSA pair.
    acme_key_type key_type = acme_key_type::ecdsa_p256;
    // names = [...]: the SNI names it serves, exact ("mdm.example.com") or one-label wildcards
    // ("*.example.com"). Empty: the DNS names of the certificate's subjectAltName (decided by tls/).
    std::vector<positioned> names;
    bool shorthand = false;         // written as the listener's own cert/key keys
    source_pos where;
    std::string key_path;  // "listener[0].certificate[1]"; the listener's own ("listener[0]") for the shorthand
    std::map<std::string, source_pos> key_pos;
};

// A weighted target of a route: traffic share `weight` goes to upstream `upstream`.
struct split_target {
    std::string upstream;
    std::size_t upstream_index = 0;
    std::uint32_t weight = 1;  // 0..1000000; 0 = takes no new traffic (blue/green switch)
};

enum class sticky_kind {
    none,          // each request picks a target by weight
    client_cert,   // the SHA-256 fingerprint of the client certificate picks the target
    header,        // the value of request header `sticky_name` picks it
    path_segment,  // the path segment number `sticky_segment` (1-based) picks it
};

struct static_response {
    std::uint16_t status = 200;     // 200..599
    std::string content_type = "application/json";
    std::string body;               // at most 64 KiB (from static_body or static_file); empty
                                    // for 204 and 304, which have no body
};

// [[listener.route]] — host and path-prefix routing; the longest matching prefix wins (among
// routes whose host matches; exact host before wildcard host before any host).
struct route {
    std::string name;   // optional; [A-Za-z0-9_.-]{1,64}, unique in the listener; needed to
                        // switch weights through the admin endpoint
    std::string host;   // optional; exact ("enroll.example.com") or "*.example.com"; empty = any
    std::string path = "/";  // prefix, starts with "/"
    // Targets: `upstream = "x"` is one target of weight 1; `split = [{upstream, weight}, ...]`.
    // Empty when the route answers with static_reply.
    std::vector<split_target> targets;
    sticky_kind sticky = sticky_kind::none;
    std::string sticky_name;         // header name for sticky_kind::header
    std::uint32_t sticky_segment = 0;  // 1-based for sticky_kind::path_segment
    std::optional<static_response> static_reply;
    source_pos where;
    std::string key_path;  // "listener[0].route[2]"
    std::map<std::string, source_pos> key_pos;
};

// An address block ("10.0.0.0/8", "2001:db8::/32"; a single address is /32 or /128).
struct cidr {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // network order, host bits zero; IPv4 uses the first 4
    std::uint8_t prefix = 0;               // 0..32 / 0..128
    std::string text;                      // as written

    // Whether `addr` (network order; 4 bytes used when !addr_v6) is inside. An IPv4-mapped IPv6
    // address (::ffff:a.b.c.d) is compared as the IPv4 address.
    bool contains(bool addr_v6, const std::array<std::uint8_t, 16>& addr) const noexcept;
};

// [[listener]]
struct listener {
    std::string name;         // required; unique among listeners; [A-Za-z0-9_.-]{1,64}
    listener_kind kind = listener_kind::https;  // kind = "https" | "scep"
    std::string address;      // "0.0.0.0"; IPv4 or IPv6 literal ("::" for all IPv6), as written;
                              // no brackets, no zone ("%eth0"), no host names
    std::uint16_t port = 0;   // required; 1..65535; (address, port) unique across the file,
                              // admin included; a specific address may not share a port with the
                              // wildcard of its family (0.0.0.0 vs 10.0.0.1). 0.0.0.0 and :: may
                              // share one: the listener sets IPV6_V6ONLY on "::" sockets.
    // https: at least one certificate (`cert`/`key` shorthand, `acme = true`, and/or
    // [[listener.certificate]]); scep: none allowed.
    std::vector<certificate> certificates;
    // acme = false: true makes the default certificate (certificates[0], the shorthand) one ordered
    // from [acme] for server_name (required, a DNS name), instead of cert/key.
    bool acme = false;
    unknown_sni_mode unknown_sni = unknown_sni_mode::default_cert;  // unknown_sni = "default" | "refuse"
    std::string trust;        // optional; PEM roots the devices trust; empty = system store
                              // (cert, key, trust: checked readable at load time, nothing more)
    std::string server_name;  // optional; DNS name or IP devices use; audited against the SAN.
                              // LDH labels, no trailing dot, no wildcard ("*." refused: give the
                              // exact name devices connect to).
    // Default target: requests no [[listener.route]] matches go here. Optional when routes are
    // given (then unmatched requests get 404).
    std::string upstream;
    std::optional<std::size_t> upstream_index;  // index of that upstream in config::upstreams
    std::vector<route> routes;

    // min_version = "1.2". The string "1.2" or "1.3" (TLS 1.0/1.1 can never be enabled: ATS
    // blocks them). The three lists below, when present, must be non-empty arrays of distinct,
    // non-empty strings (an empty array is an error: omit the key for the default list); each
    // entry keeps its position for tls/'s diagnostics.
    tls_version min_version = tls_version::v1_2;
    // enforcement = "strict". "report": a staged rollout on a legacy port: the listener also
    // accepts TLS 1.0/1.1, non-forward-secret suites and TLS 1.2 without EMS, serves those clients
    // and counts each handshake strict mode would have refused (atsgate_handshake_would_refuse_total);
    // compliant clients negotiate exactly as in strict mode. Certificate rules are never relaxed.
    // The audit WARNs ("report-only: not enforcing TLS policy"). Needs min_version = "1.2".
    // Security: a report-mode listener is not ATS-compliant; it is meant for a rollout, not for good.
    enforcement_mode enforcement = enforcement_mode::strict;
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

    // Session resumption (stateless tickets; Apple devices resume with them).
    bool session_tickets = true;     // session_tickets = true
    std::uint32_t tls13_tickets = 1;  // tls13_tickets = 1: tickets sent after a TLS 1.3 handshake, 0..8
    // ticket_key_file = "": optional file of shared ticket keys (several replicas resume each
    // other's sessions; format in README); re-read on reload. Empty: random keys per process,
    // rotated every ticket_key_rotation.
    std::string ticket_key_file;
    duration ticket_key_rotation{std::chrono::hours(12)};  // "12h"; range 1m..7d
    std::uint32_t session_cache = 0;  // session_cache = 0: server-side session cache entries (0 = off)

    // Mutual TLS: device identity certificates for MDM servers that authenticate devices by them.
    client_auth_mode client_auth = client_auth_mode::none;  // "none" | "optional" | "require"
    // client_ca = "": PEM bundle client certificates must chain to. Empty with client_auth set:
    // accept any client certificate and leave verification to the MDM server (as NanoMDM does).
    std::string client_ca;
    // client_cert_header = "X-Client-Cert" (escaped-pem) / "Client-Cert" (rfc9440): the request
    // header carrying the client certificate to the upstream. Any copy sent by a client is removed
    // first, so a device can never forge another device's identity.
    std::string client_cert_header;
    client_cert_format cert_format = client_cert_format::escaped_pem;  // client_cert_format

    // kind = "scep" only:
    std::string scep_path = "/scep";  // scep_path = "/scep": prefix forwarded for GET/POST ?operation=
    // redirect = "": origin ("https://mdm.example.com") non-SCEP requests are redirected to (308,
    // path and query kept). Empty: they get 403.
    std::string redirect;

    // PROXY protocol (v1 and v2, detected): proxy_protocol = false. When true, every connection
    // must start with a PROXY header and come from an address in proxy_protocol_from (required
    // then); anything else is refused and counted, never served as plain TLS or HTTP. The address
    // in the header is the client's everywhere (X-Forwarded-For, logs, refusals).
    bool proxy_protocol = false;
    // proxy_protocol_from = ["10.0.0.0/8", "2001:db8::/32"]: the load balancers' addresses, as
    // CIDRs or single addresses; only with proxy_protocol = true.
    std::vector<cidr> proxy_protocol_from;

    source_pos where;  // position of this [[listener]] table header
    std::string key_path;  // "listener[1]": how diagnostics name this table
    // Positions of the keys that were present, by key name ("cert", "min_version", ...), so that
    // later layers can point their diagnostics at the file.
    std::map<std::string, source_pos> key_pos;
};

// One backend of an upstream pool.
struct member {
    std::string url;   // "http://host[:port]" or "https://host[:port]", as written
    std::string host;  // DNS name, IPv4 literal or IPv6 literal without brackets
    std::uint16_t port = 80;  // default 80 (http) / 443 (https)
    bool tls = false;         // https://
    std::uint32_t weight = 1;  // 1..1000
    source_pos where;
};

// [[upstream]] — a pool of members.
struct upstream {
    std::string name;  // required; unique among upstreams; [A-Za-z0-9_.-]{1,64}
    // url = "http://host[:port]" is the one-member shorthand; members = [{url, weight}, ...] lists
    // several. At least one member; no path other than "/", no query, fragment or userinfo.
    std::vector<member> members;
    // connect_timeout = "5s". TCP (and TLS) connect to a member. Over: 504. Range 100ms..10m.
    duration connect_timeout{std::chrono::seconds(5)};
    // response_timeout = "60s". Longest wait for each read from the backend once the request is
    // sent: the response head and every pause inside the body (like nginx proxy_read_timeout).
    // Over before the head: 504; during the body: the client connection is closed. Range 1s..24h.
    duration response_timeout{std::chrono::seconds(60)};
    // keepalive = 32. Idle keep-alive connections kept per worker thread and member. 0 = close
    // after each request. Integer, range 0..10000.
    std::uint32_t keepalive = 32;
    // keepalive_timeout = "30s". An idle pooled connection older than this is closed, not reused.
    // Range 1s..24h.
    duration keepalive_timeout{std::chrono::seconds(30)};
    // warm = 1. Connections each worker opens to each member in advance (at start and after a
    // reload), so even the first request after a start reuses a warm connection. 0..keepalive.
    std::uint32_t warm = 1;

    // TLS toward https:// members (the internal hop; legacy backends may need old settings).
    tls_version_any tls_min_version = tls_version_any::v1_2;  // "1.0" | "1.1" | "1.2" | "1.3"
    std::string tls_ciphers;  // OpenSSL cipher string for TLS <= 1.2; empty = OpenSSL default
    bool tls_verify = false;  // verify the member's certificate (against tls_ca, else system store)
    std::string tls_ca;       // PEM bundle for tls_verify (without tls_verify: a warning, no effect)
    std::string tls_sni;      // SNI and verification name; empty = the member's host when a DNS name

    // Active health checks: GET health_path every health_interval; health_fall consecutive failures
    // (connect error, timeout, status outside 200-399) mark a member down, health_rise successes up.
    std::string health_path;  // empty = no active checks
    duration health_interval{std::chrono::seconds(5)};  // 1s..1h
    duration health_timeout{std::chrono::seconds(2)};   // 100ms..1m
    std::uint32_t health_rise = 2;                      // 1..100
    std::uint32_t health_fall = 3;                      // 1..100
    // Passive ejection: max_fails connect failures within fail_timeout eject a member for
    // fail_timeout (nginx semantics). max_fails = 0 disables it.
    std::uint32_t max_fails = 3;                          // 0..1000
    duration fail_timeout{std::chrono::seconds(10)};      // 1s..1h

    source_pos where;
    std::string key_path;  // "upstream[0]"
    std::map<std::string, source_pos> key_pos;
};

// [admin] — optional plain-HTTP endpoint: GET /metrics (Prometheus text), /healthz, /readyz,
// /status (JSON), POST /reload, POST /routes/<listener>/<route>/weights. Absent = disabled.
struct admin_settings {
    // Loopback literal by default. A non-loopback address requires a token (it is still plain HTTP).
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  // required when [admin] is present
    // token = "" / token_file = "": bearer token required on every path except /healthz and
    // /readyz ("Authorization: Bearer <token>"). Empty: no authentication (loopback only).
    std::string token;
    source_pos where;
};

struct config {
    std::string path;  // the file it was read from, as given on the command line
    // Every file the configuration names (certificates, keys, CA bundles, ticket keys, static
    // files, the admin token file), absolute, in the order read: what server.watch watches.
    std::vector<std::string> files;
    server_settings server;
    timeout_settings timeouts;
    limit_settings limits;
    std::vector<listener> listeners;  // at least one
    std::vector<upstream> upstreams;  // at least one
    std::optional<admin_settings> admin;
    std::optional<acme_settings> acme;
};

}  // namespace atsgate::config
