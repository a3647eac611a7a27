#pragma once
// tls/: everything TLS that is not a socket: OpenSSL RAII (ossl.hpp), this ATS policy table, the
// server and upstream-client contexts and their builder (server_context.hpp, client_context.hpp),
// the ClientHello gate (handshake_gate.hpp), session ticket keys, certificate facts, what a session
// says about its peer (peer_info.hpp), fleet counters, and the audit with its report model
// (audit.hpp, check.hpp) and HTML pieces (html.hpp). May use: config, util, OpenSSL. No sockets,
// no Asio, no logging: callers log what it returns.
//
// The ATS policy as data. One table drives context building (tls/context_builder), the handshake
// gate (tls/handshake_gate), the self-audit (tls/audit) and `atsgate probe`.
//
// Source: Apple, "Preventing Insecure Network Connections" / NSAppTransportSecurity
// (https://developer.apple.com/documentation/security/preventing-insecure-network-connections)
// and support article 126655 (2026): from the OS 27 releases device management (MDM, DDM, ADE,
// profile install, app distribution, software update) requires ATS on every server it reaches,
// and the Info.plist ATS exceptions named below do not apply to it.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace atsgate::tls {

// ---- numeric thresholds ---------------------------------------------------------------------
inline constexpr int min_rsa_bits = 2048;
inline constexpr int min_ec_bits = 256;
inline constexpr int min_signature_hash_bits = 256;     // SHA-256 or stronger
inline constexpr int expiry_warning_days = 30;          // WARN when fewer days remain

// ---- certificate lifetime limits, by issuance date ---------------------------------------------
// Lifetime is counted as RFC 5280 4.1.2.5 and the CA/B Forum Baseline Requirements (1.6.1
// "Validity Period") say: notBefore through notAfter inclusive, so notAfter - notBefore + 1 s, in
// days of 86,400 seconds, any remainder counting as a further day. The issuance date is notBefore.
// Sources: Apple, "Requirements for trusted certificates in iOS 13 and macOS 10.15" (HT210176:
// 825 days for certificates issued after 2019-07-01, every TLS server certificate) and "About
// upcoming limits on trusted certificates" (HT211025: 398 days for certificates issued from
// 2020-09-01 by roots in Apple's trust store, i.e. publicly trusted); CA/Browser Forum ballot
// SC-081 (2025): 200 / 100 / 47 days for publicly trusted certificates issued from 2026-03-15 /
// 2027-03-15 / 2029-03-15. Apple clients do not enforce SC-081, but a certificate beyond it
// breaks the CA's rules and may be revoked, hence a WARN.
enum class lifetime_scope { every_certificate, publicly_trusted };
struct lifetime_limit {
    int year, month, day;      // first issuance date (UTC) the limit applies to
    int max_days;              // the longest lifetime allowed
    lifetime_scope scope;
    bool refused_by_devices;   // true: Apple clients refuse the certificate (FAIL); false: WARN
    std::string_view source;   // for evidence text
};
inline constexpr std::array<lifetime_limit, 5> lifetime_limits{{
    {2019, 7, 1, 825, lifetime_scope::every_certificate, true, "Apple"},
    {2020, 9, 1, 398, lifetime_scope::publicly_trusted, true, "Apple"},
    {2026, 3, 15, 200, lifetime_scope::publicly_trusted, false, "CA/B Forum SC-081"},
    {2027, 3, 15, 100, lifetime_scope::publicly_trusted, false, "CA/B Forum SC-081"},
    {2029, 3, 15, 47, lifetime_scope::publicly_trusted, false, "CA/B Forum SC-081"},
}};

// ---- cipher suites ---------------------------------------------------------------------------
enum class protocol { tls12, tls13 };
enum class auth { ecdsa, rsa, any };

struct suite {
    std::uint16_t code;            // IANA code point
    std::string_view iana;         // "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    std::string_view openssl;      // "ECDHE-ECDSA-AES128-GCM-SHA256"
    protocol proto;
    auth authentication;
    bool is_default;               // enabled when the config names no suites
    std::string_view warning;      // non-empty: allowed only when configured, audit WARNs with this text
};

// Every suite atsgate can ever enable: the TLS 1.3 suites and the ECDHE suites on Apple's ATS list.
// Order is preference order (server preference is on for TLS 1.2).
inline constexpr std::array<suite, 17> suites{{
    {0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", protocol::tls13, auth::any, true, ""},
    {0x1302, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", protocol::tls13, auth::any, true, ""},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", protocol::tls13, auth::any, true, ""},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", protocol::tls12, auth::ecdsa, true, ""},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", protocol::tls12, auth::ecdsa, true, ""},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", protocol::tls12, auth::rsa, true, ""},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", protocol::tls12, auth::rsa, true, ""},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", protocol::tls12, auth::ecdsa, false,
     "CHACHA20-POLY1305 on TLS 1.2 is not on the strictest reading of Apple's ATS list"},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", protocol::tls12, auth::rsa, false,
     "CHACHA20-POLY1305 on TLS 1.2 is not on the strictest reading of Apple's ATS list"},
    {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384", protocol::tls12, auth::ecdsa, false,
     "CBC mode suite: ATS-listed but legacy (MAC-then-encrypt)"},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", protocol::tls12, auth::ecdsa, false,
     "CBC mode suite: ATS-listed but legacy (MAC-then-encrypt)"},
    {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", protocol::tls12, auth::ecdsa, false,
     "CBC mode suite with SHA-1 MAC: ATS-listed but legacy"},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", protocol::tls12, auth::ecdsa, false,
     "CBC mode suite with SHA-1 MAC: ATS-listed but legacy"},
    {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384", protocol::tls12, auth::rsa, false,
     "CBC mode suite: ATS-listed but legacy (MAC-then-encrypt)"},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", protocol::tls12, auth::rsa, false,
     "CBC mode suite: ATS-listed but legacy (MAC-then-encrypt)"},
    {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", protocol::tls12, auth::rsa, false,
     "CBC mode suite with SHA-1 MAC: ATS-listed but legacy"},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", protocol::tls12, auth::rsa, false,
     "CBC mode suite with SHA-1 MAC: ATS-listed but legacy"},
}};

// Looks a suite up by OpenSSL or IANA name (exact, case-sensitive) or null.
const suite* find_suite(std::string_view name) noexcept;

// enforcement = "report": TLS 1.2-and-below suites a report-mode listener accepts after its
// configured (ATS) ones, so that what a legacy port served still connects: RSA key exchange
// (no forward secrecy) and the CBC-SHA suites TLS 1.0/1.1 clients need. Server preference keeps
// them last: a client that offers an ATS suite always gets it. No RC4, 3DES or export suites.
inline constexpr std::string_view report_mode_legacy_suites[] = {
    "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",      "AES256-GCM-SHA384",    "AES128-SHA256",          "AES256-SHA256",
    "AES128-SHA",             "AES256-SHA",
};
// Looks a suite up by IANA code point, or null.
const suite* find_suite(std::uint16_t code) noexcept;

// ---- key-exchange groups ---------------------------------------------------------------------
struct group {
    std::uint16_t code;          // IANA NamedGroup
    std::string_view name;       // config / OpenSSL list name: "X25519", "P-256", "P-384"
};
inline constexpr std::array<group, 3> groups{{
    {0x001D, "X25519"},
    {0x0017, "P-256"},
    {0x0018, "P-384"},
}};
const group* find_group(std::string_view name) noexcept;
const group* find_group(std::uint16_t code) noexcept;

// Signature algorithms offered / accepted: SHA-256 or stronger, no SHA-1, no PKCS#1 v1.5 with SHA-1.
inline constexpr std::string_view sigalgs =
    "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:"
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
    "RSA+SHA256:RSA+SHA384:RSA+SHA512";

// ---- audit rules -----------------------------------------------------------------------------
// Stable ids: scripts and dashboards key on them; never renumber or rename, only add.
enum class rule_id {
    tls_version,      // only TLS 1.2 / 1.3 enabled
    pfs_suites,       // only TLS 1.3 and ECDHE suites enabled
    ems,              // extended master secret required on TLS 1.2
    key_strength,     // RSA >= 2048, EC >= 256; Ed25519 / DSA refused by Apple clients
    signature_hash,   // SHA-256+ on every served certificate except the root
    validity,         // not expired, not yet valid; WARN close to expiry
    self_signed,      // leaf is not self-signed
    chain_trust,      // chain verifies to trust / system store with the served intermediates
    san,              // SAN present and matching server_name (CN ignored since iOS 13)
    eku,              // extended key usage contains serverAuth
    lifetime,         // Apple: <= 825 days; <= 398 when publicly trusted; WARN beyond SC-081 (see lifetime_limits)
    key_match,        // private key matches the leaf certificate
    https_only,       // no plaintext HTTP where a device can reach it
};

struct rule {
    rule_id id;
    std::string_view code;           // stable id, e.g. "tls.min_version"
    std::string_view title;          // short human title
    std::string_view requirement;    // what Apple requires, one line
    std::string_view ats_exception;  // the Info.plist key that would relax it for apps ("" = none)
    std::string_view remediation;    // default one-line fix
};

inline constexpr std::array<rule, 13> rules{{
    {rule_id::tls_version, "tls.version", "TLS version",
     "TLS 1.2 minimum, TLS 1.3 recommended; TLS 1.0/1.1 blocked",
     "NSExceptionMinimumTLSVersion", "enable only TLS 1.2 and 1.3"},
    {rule_id::pfs_suites, "tls.pfs_suites", "Forward-secret cipher suites",
     "TLS 1.3 suites or TLS 1.2 ECDHE suites from Apple's list only",
     "NSExceptionRequiresForwardSecrecy", "remove non-ECDHE suites from tls12_ciphers"},
    {rule_id::ems, "tls.ems", "Extended Master Secret",
     "TLS 1.2 connections must negotiate the EMS extension (RFC 7627)",
     "", "keep the EMS gate on (it cannot be disabled in atsgate)"},
    {rule_id::key_strength, "cert.key_strength", "Key strength",
     "RSA >= 2048 bits or ECDSA >= 256 bits",
     "NSExceptionAllowsInsecureHTTPLoads", "reissue the certificate with an ECDSA P-256 or RSA-2048+ key"},
    {rule_id::signature_hash, "cert.signature_hash", "Signature hash",
     "certificates signed with SHA-256 or stronger (the root's self-signature is exempt)",
     "NSExceptionAllowsInsecureHTTPLoads", "reissue the certificate with a SHA-256 (or stronger) signature"},
    {rule_id::validity, "cert.validity", "Validity period",
     "certificates must be within their validity period",
     "NSExceptionAllowsInsecureHTTPLoads", "renew the certificate"},
    {rule_id::self_signed, "cert.self_signed", "Not self-signed",
     "the server certificate must be issued by a CA, not self-signed",
     "NSExceptionAllowsInsecureHTTPLoads", "issue the server certificate from a CA the devices trust"},
    {rule_id::chain_trust, "cert.chain", "Trusted chain",
     "the served chain must verify to a root the devices trust",
     "NSExceptionAllowsInsecureHTTPLoads", "serve the intermediates after the leaf in `cert` and set `trust` to the devices' root"},
    {rule_id::san, "cert.san", "Subject Alternative Name",
     "the host name must be in the SAN (the CN is ignored since iOS 13)",
     "NSExceptionAllowsInsecureHTTPLoads", "reissue the certificate with the host name in subjectAltName"},
    {rule_id::eku, "cert.eku", "Extended Key Usage",
     "EKU must contain serverAuth (id-kp-serverAuth)",
     "NSExceptionAllowsInsecureHTTPLoads", "reissue the certificate with extendedKeyUsage = serverAuth"},
    {rule_id::lifetime, "cert.lifetime", "Certificate lifetime",
     "at most 825 days (issued from 2019-07-01); at most 398 days for publicly trusted certificates (issued from 2020-09-01)",
     "NSExceptionAllowsInsecureHTTPLoads", "reissue with a validity of 398 days or less"},
    {rule_id::key_match, "cert.key_match", "Private key matches",
     "the private key must belong to the served certificate",
     "", "point `key` at the private key of the leaf in `cert`"},
    {rule_id::https_only, "http.https_only", "HTTPS only",
     "no plaintext HTTP on any device-facing hop (SCEP exempt)",
     "NSAllowsArbitraryLoads", "serve this endpoint over HTTPS"},
}};

const rule& rule_for(rule_id id) noexcept;

}  // namespace atsgate::tls
