#pragma once
// The handshake gate: decides, right after the ClientHello and before any server flight, whether a
// client will get an ATS-compliant session, and refuses it otherwise with the right alert.
//
// Why a gate at all: OpenSSL offers no "require Extended Master Secret" switch for servers — a TLS
// 1.2 client without EMS would otherwise complete a handshake that Apple's ATS forbids (RFC 7627
// section 5.2 lets the server abort; OpenSSL never does). The gate runs in OpenSSL's ClientHello
// callback (SSL_CTX_set_client_hello_cb), which sees the raw offer before version negotiation, so it
// also classifies every other refusal precisely (protocol_version, no_pfs_suite, no_shared_group).
//
// decide() is pure and allocation-free; extract_client_hello() is the only part touching OpenSSL.

#include <openssl/ssl.h>

#include "tls/ossl.hpp"

#include <array>
#include <memory>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::tls {

// Why atsgate refused a handshake: its ATS policy (the gate or OpenSSL's settings built from the same
// table), its certificate selection, its ALPN policy or the listener's client_auth. Stable names
// (logs, the atsgate_handshake_refused_total{reason} label). Handshakes that broke for other
// reasons are a handshake_failure, and timeouts are neither (see proxy/downstream/connection.cpp).
enum class refusal : std::uint8_t {
    none = 0,                 // accepted by the gate
    protocol_version,         // no TLS 1.2 / 1.3 in common (TLS 1.0/1.1, SSLv3 clients)
    no_pfs_suite,             // no forward-secret suite in common (RSA kx, DHE, CBC-only on 1.3 ...)
    no_ems,                   // TLS 1.2 ClientHello without the extended_master_secret extension
    no_shared_group,          // no X25519 / P-256 / P-384 in common
    no_shared_sigalg,         // no SHA-256+ signature algorithm in common with the certificate's key
    unknown_sni,              // SNI names no certificate of a listener with unknown_sni = "refuse"
    no_application_protocol,  // ALPN offered, but neither http/1.1 nor http/1.0 (RFC 7301 section 3.2)
    no_client_certificate,    // client_auth = "require" and the client sent no certificate
    bad_client_certificate,   // the client certificate failed verification against client_ca
    certificate_pending,      // the name's ACME certificate has not been issued (and audited) yet
};
inline constexpr std::size_t refusal_count = 11;
std::string_view to_string(refusal r) noexcept;

// Why a handshake that got past its ClientHello failed without atsgate refusing it. Stable names
// (logs, the atsgate_handshake_failures_total{reason} label).
enum class handshake_failure : std::uint8_t {
    none = 0,        // not a failure (a refusal, or no failure at all)
    client_alert,    // the client aborted with a TLS alert (unknown_ca: it does not trust atsgate's chain)
    protocol_error,  // the client sent malformed or unexpected TLS (decode_error, unexpected_message ...)
    client_closed,   // the client closed or reset the connection without an alert
    other,           // anything else: internal errors, resource exhaustion (OpenSSL's text is logged)
};
inline constexpr std::size_t handshake_failure_count = 5;
std::string_view to_string(handshake_failure f) noexcept;
// The RFC 8446 section 6 name of TLS alert description `alert` ("unknown_ca"), "alert_N" for
// numbers without a name there.
std::string alert_name(int alert);

// What the listener allows, as IANA code points. Built once per context (see server_context).
struct gate_policy {
    bool allow_tls12 = true;
    bool allow_tls13 = true;
    // Suites usable with this listener's certificate key (TLS 1.2 suites filtered by key type).
    std::array<std::uint16_t, 24> tls12_suites{};
    std::uint8_t tls12_suite_count = 0;
    std::array<std::uint16_t, 4> tls13_suites{};
    std::uint8_t tls13_suite_count = 0;
    std::array<std::uint16_t, 4> groups{};
    std::uint8_t group_count = 0;
};

// The parts of a ClientHello the gate needs. Fixed size; filled without allocation.
struct client_hello_facts {
    std::uint16_t legacy_version = 0;     // ClientHello.legacy_version (0x0303 for TLS 1.2+)
    std::uint16_t max_version = 0;        // highest version offered (supported_versions, else legacy), GREASE ignored
    bool supported_versions_ext = false;  // supported_versions extension present
    bool offers_tls12 = false;
    bool offers_tls13 = false;
    std::uint16_t suite_count = 0;        // cipher suites offered (GREASE and SCSVs included)
    bool shared_tls12_suite = false;      // at least one offered suite is in policy.tls12_suites
    bool shared_tls13_suite = false;
    bool groups_ext = false;              // supported_groups present
    bool shared_group = false;            // ... and at least one offered group is in policy.groups
    bool ems = false;                     // extended_master_secret extension present
    std::array<char, 64> sni{};           // server_name host (truncated, NUL-terminated), "" if absent
    static constexpr std::size_t max_groups = 8;
    std::array<std::uint16_t, max_groups> groups{};  // the first groups offered, GREASE skipped
    std::uint8_t group_count = 0;         // entries used in `groups`
    bool mlkem = false;                   // X25519MLKEM768 (0x11EC) offered, anywhere in the list
};

struct gate_decision {
    refusal reason = refusal::none;
    std::uint8_t alert = 0;  // TLS alert to send when refused: protocol_version(70) or handshake_failure(40)
};

// Pure: which version would be negotiated and whether the offer meets ATS. Checks in order:
// protocol_version, no_pfs_suite, no_shared_group, no_ems (TLS 1.2 only).
gate_decision decide(const client_hello_facts& hello, const gate_policy& policy) noexcept;

// Reads the facts from the ClientHello being processed (only valid inside the ClientHello callback).
client_hello_facts extract_client_hello(SSL* ssl, const gate_policy& policy) noexcept;

// Per-connection record the gate fills in; the connection owns it and registers it with
// set_handshake_record() before the handshake. Optional: without it the gate still refuses.
struct handshake_record {
    client_hello_facts hello;
    bool hello_seen = false;
    refusal reason = refusal::none;  // gate refusal, or none if the gate accepted / did not run
    // Report mode (gate_config::report_only): the refusal strict mode would have made, which the
    // gate let through; none otherwise. Never set together with `reason`.
    refusal would_refuse = refusal::none;
    bool acme_challenge = false;     // a TLS-ALPN-01 validation (RFC 8737): close after the handshake
};

// TLS-ALPN-01 validation certificates (RFC 8737), looked up by the gate when a ClientHello offers
// only the "acme-tls/1" protocol. Implemented by the ACME layer (proxy/acme/challenge_board);
// find() is called from handshakes on any worker thread.
class acme_challenges {
public:
    virtual ~acme_challenges() = default;
    // New references to the validation certificate and key for `sni`; false when none is published.
    virtual bool find(std::string_view sni, ossl::ptr<X509>& cert, ossl::ptr<EVP_PKEY>& key) const = 0;
};

// True while `ssl` is a TLS-ALPN-01 validation handshake (set by the gate; read by ALPN selection).
bool is_acme_challenge(SSL* ssl) noexcept;

// Attaches `rec` (owned by the caller, must outlive the handshake) to `ssl`.
void set_handshake_record(SSL* ssl, handshake_record* rec) noexcept;

// Certificate selection by SNI. Group 0 is the listener's default certificate set (the context
// SSL_new() uses); other groups are switched to with SSL_set_SSL_CTX() from the ClientHello
// callback, before any certificate is chosen. Each group has its own policy (which TLS 1.2 suites
// its keys can sign: ECDSA, RSA or both).
struct sni_group {
    ossl::ptr<SSL_CTX> ctx;  // null for group 0 (the context the gate is installed on)
    gate_policy policy;
};
struct sni_name {
    std::string name;  // lower case; for wildcards the suffix after "*." ("example.com")
    std::size_t group = 0;
};
struct gate_config {
    std::vector<sni_group> groups;   // at least one: groups[0] is the default
    std::vector<sni_name> exact;     // sorted by name
    std::vector<sni_name> wildcard;  // "*.suffix" entries, sorted by suffix; match exactly one label
    bool refuse_unknown_sni = false; // an SNI matching no name is refused (no SNI: default group)
    // enforcement = "report": the refusals relaxable_in_report_mode() names are recorded as
    // would_refuse and the handshake goes on (the contexts accept TLS 1.0/1.1, non-forward-secret
    // suites and TLS 1.2 without EMS); a client offering less than TLS 1.2 gets security level 0
    // on its connection only (OpenSSL 3 refuses TLS 1.0/1.1 above it). Every other refusal stays.
    bool report_only = false;
    // ACME: exact names (lower case, sorted) whose certificate is not issued yet, refused with
    // certificate_pending; no_certificate: the listener has none at all yet (every handshake but a
    // validation is refused so); challenges: TLS-ALPN-01 certificates, null = not answered here.
    std::vector<std::string> pending;
    bool no_certificate = false;
    std::shared_ptr<const acme_challenges> challenges;
};

// The refusals report mode lets through: exactly what a legacy port accepted (TLS 1.0/1.1,
// suites without forward secrecy, TLS 1.2 without EMS). Groups, SNI, ALPN, signature algorithms
// and client certificates are enforced in both modes.
constexpr bool relaxable_in_report_mode(refusal r) noexcept {
    return r == refusal::protocol_version || r == refusal::no_pfs_suite || r == refusal::no_ems;
}

// Pure: the group serving `sni` (lower- or mixed-case host name, "" when the client sent none), or
// nullopt when the name matches nothing and the config refuses unknown names.
std::optional<std::size_t> select_group(const gate_config& cfg, std::string_view sni) noexcept;

// Installs the gate on `ctx` (the listener's default context), taking ownership of `cfg`
// (freed with the context). Returns false (OpenSSL errors drained) if ex-data could not be set.
bool install_gate(SSL_CTX* ctx, gate_config&& cfg) noexcept;
// Single-certificate convenience: one group with `policy`.
bool install_gate(SSL_CTX* ctx, const gate_policy& policy) noexcept;
// The default group's policy installed on ctx, or null when no gate is installed (used by the audit).
const gate_policy* installed_gate(const SSL_CTX* ctx) noexcept;
// True when the gate installed on ctx is in report mode (gate_config::report_only).
bool installed_gate_reports_only(const SSL_CTX* ctx) noexcept;

// How a failed handshake (after its ClientHello, not a timeout) is accounted: exactly one of
// `reason` (a refusal) and `failure` is set; `alert` is the client's alert for client_alert, else -1.
struct failure_class {
    refusal reason = refusal::none;
    handshake_failure failure = handshake_failure::none;
    int alert = -1;
};

// Classifies a failed handshake from the gate's record and OpenSSL's error reason code
// (ERR_GET_REASON of the first queued error; 0 when the socket ended without an OpenSSL error,
// i.e. the client closed or reset). The gate's refusal wins; then OpenSSL's reason decides.
failure_class classify_failure(const handshake_record& rec, int openssl_reason) noexcept;

}  // namespace atsgate::tls
