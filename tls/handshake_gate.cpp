#include "tls/handshake_gate.hpp"

#include <openssl/err.h>
#include <openssl/tls1.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace atsgate::tls {

namespace {

constexpr std::uint8_t alert_handshake_failure = 40;  // RFC 8446 section 6.2
constexpr std::uint8_t alert_protocol_version = 70;

constexpr unsigned ext_server_name = 0;
constexpr unsigned ext_supported_groups = 10;
constexpr unsigned ext_extended_master_secret = 23;  // RFC 7627
constexpr unsigned ext_supported_versions = 43;      // RFC 8446 section 4.2.1

// GREASE values (RFC 8701) look like 0x?A?A with equal bytes.
constexpr bool is_grease(std::uint16_t v) noexcept {
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

constexpr std::uint16_t be16(const unsigned char* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

template <std::size_t N>
bool contains(const std::array<std::uint16_t, N>& a, std::uint8_t n, std::uint16_t v) noexcept {
    for (std::uint8_t i = 0; i < n; ++i)
        if (a[i] == v) return true;
    return false;
}

// Ex-data indexes, created once per process on first use (thread-safe static init).
void free_config(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<gate_config*>(ptr);
}

int ctx_policy_index() noexcept {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_config);
    return idx;
}

int ssl_record_index() noexcept {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

constexpr std::uint8_t alert_unrecognized_name = 112;  // RFC 6066 section 3
constexpr std::uint8_t alert_no_application_protocol = 120;  // RFC 7301 section 3.2
constexpr std::uint16_t ext_alpn = 16;

int acme_index() noexcept {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

// RFC 8737 4: a validation ClientHello offers the single protocol "acme-tls/1".
bool offers_only_acme_tls(SSL* ssl) noexcept {
    const unsigned char* p = nullptr;
    std::size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, ext_alpn, &p, &len) != 1 || len < 3) return false;
    static constexpr std::string_view proto = "acme-tls/1";
    const std::size_t list = be16(p);
    return list == len - 2 && p[2] == proto.size() && list == proto.size() + 1 &&
           std::string_view(reinterpret_cast<const char*>(p + 3), proto.size()) == proto;
}

// The raw SNI host name of the ClientHello being processed, "" if absent or malformed.
std::string_view raw_sni(SSL* ssl) noexcept {
    const unsigned char* p = nullptr;
    std::size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, ext_server_name, &p, &len) != 1 || len < 5 || p[2] != 0) return {};
    std::size_t n = be16(p + 3);
    if (n > len - 5) return {};
    return {reinterpret_cast<const char*>(p + 5), n};
}

// A TLS-ALPN-01 validation: serve the challenge certificate for the SNI name and nothing else.
// These handshakes carry no device traffic (the connection is closed once it completes), so the ATS
// offer checks do not apply to them; a validation for a name nothing is being validated for is
// refused with no_application_protocol (RFC 8737 4), counted so.
int acme_hello(const gate_config& cfg, SSL* ssl, int* alert, handshake_record* rec) {
    ossl::ptr<X509> cert;
    ossl::ptr<EVP_PKEY> key;
    if (rec != nullptr) {
        rec->hello = extract_client_hello(ssl, cfg.groups.front().policy);
        rec->hello_seen = true;
    }
    if (!cfg.challenges->find(raw_sni(ssl), cert, key) || SSL_use_certificate(ssl, cert.get()) != 1 ||
        SSL_use_PrivateKey(ssl, key.get()) != 1) {
        ERR_clear_error();
        if (rec != nullptr) rec->reason = refusal::no_application_protocol;
        *alert = alert_no_application_protocol;
        return SSL_CLIENT_HELLO_ERROR;
    }
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);  // a client_auth listener must not ask the CA for a certificate
    SSL_set_ex_data(ssl, acme_index(), ssl);
    if (rec != nullptr) rec->acme_challenge = true;
    return SSL_CLIENT_HELLO_SUCCESS;
}

int client_hello_cb(SSL* ssl, int* alert, void* arg) {
    const auto& cfg = *static_cast<const gate_config*>(arg);
    auto* rec = static_cast<handshake_record*>(SSL_get_ex_data(ssl, ssl_record_index()));

    if (cfg.challenges && offers_only_acme_tls(ssl)) return acme_hello(cfg, ssl, alert, rec);

    const std::string_view sni = raw_sni(ssl);
    // A name whose ACME certificate is still being ordered: no other certificate may stand in.
    bool pending = cfg.no_certificate;
    if (!pending && !sni.empty() && !cfg.pending.empty()) {
        std::string lower_sni(sni);
        for (char& ch : lower_sni) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + 32) : ch;
        pending = std::binary_search(cfg.pending.begin(), cfg.pending.end(), lower_sni);
    }
    if (pending) {
        if (rec != nullptr) {
            rec->hello = extract_client_hello(ssl, cfg.groups.front().policy);
            rec->hello_seen = true;
            rec->reason = refusal::certificate_pending;
        }
        *alert = alert_unrecognized_name;
        return SSL_CLIENT_HELLO_ERROR;
    }

    const auto group = select_group(cfg, sni);
    const gate_policy& policy = cfg.groups[group.value_or(0)].policy;
    client_hello_facts facts = extract_client_hello(ssl, policy);
    gate_decision d = decide(facts, policy);
    refusal relaxed = refusal::none;
    if (cfg.report_only && relaxable_in_report_mode(d.reason)) {
        relaxed = d.reason;
        d = {};
    }
    if (d.reason == refusal::none && !group) d = {refusal::unknown_sni, alert_unrecognized_name};
    if (rec != nullptr) {
        rec->hello = facts;
        rec->hello_seen = true;
        rec->reason = d.reason;
        rec->would_refuse = d.reason == refusal::none ? relaxed : refusal::none;
    }
    if (d.reason != refusal::none) {
        *alert = d.alert;
        return SSL_CLIENT_HELLO_ERROR;
    }
    if (*group != 0 && SSL_set_SSL_CTX(ssl, cfg.groups[*group].ctx.get()) == nullptr) {
        ERR_clear_error();
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    // Report mode, a client below TLS 1.2: OpenSSL 3 signs TLS 1.0/1.1 key exchanges with
    // MD5+SHA-1 / SHA-1, which security levels >= 1 forbid. Lowered for this connection only (after
    // the SNI switch, which copies the group context's settings), so every compliant client keeps
    // level 2 exactly as in strict mode.
    if (relaxed == refusal::protocol_version) SSL_set_security_level(ssl, 0);
    return SSL_CLIENT_HELLO_SUCCESS;
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Case-insensitive three-way compare of `a` with an already lower-case `b`. Bytes compare as
// unsigned char: the tables are sorted with std::string's operator< (char_traits<char>::lt is
// unsigned), and a signed compare would misorder names with bytes >= 0x80 (a certificate's raw
// dNSName can hold them), making the binary search miss other, valid names.
int compare_lower(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = static_cast<unsigned char>(lower(a[i]));
        const auto y = static_cast<unsigned char>(b[i]);
        if (x != y) return x < y ? -1 : 1;
    }
    return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

const sni_name* find_name(const std::vector<sni_name>& v, std::string_view key) noexcept {
    std::size_t lo = 0, hi = v.size();
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        const int c = compare_lower(key, v[mid].name);
        if (c == 0) return &v[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return nullptr;
}

}  // namespace

std::string_view to_string(refusal r) noexcept {
    switch (r) {
        case refusal::none: return "none";
        case refusal::protocol_version: return "protocol_version";
        case refusal::no_pfs_suite: return "no_pfs_suite";
        case refusal::no_ems: return "no_ems";
        case refusal::no_shared_group: return "no_shared_group";
        case refusal::no_shared_sigalg: return "no_shared_sigalg";
        case refusal::unknown_sni: return "unknown_sni";
        case refusal::no_application_protocol: return "no_application_protocol";
        case refusal::no_client_certificate: return "no_client_certificate";
        case refusal::bad_client_certificate: return "bad_client_certificate";
        case refusal::certificate_pending: return "certificate_pending";
    }
    return "none";
}

std::string_view to_string(handshake_failure f) noexcept {
    switch (f) {
        case handshake_failure::none: return "none";
        case handshake_failure::client_alert: return "client_alert";
        case handshake_failure::protocol_error: return "protocol_error";
        case handshake_failure::client_closed: return "client_closed";
        case handshake_failure::other: return "other";
    }
    return "other";
}

std::string alert_name(int alert) {
    switch (alert) {
        case 0: return "close_notify";
        case 10: return "unexpected_message";
        case 20: return "bad_record_mac";
        case 22: return "record_overflow";
        case 40: return "handshake_failure";
        case 42: return "bad_certificate";
        case 43: return "unsupported_certificate";
        case 44: return "certificate_revoked";
        case 45: return "certificate_expired";
        case 46: return "certificate_unknown";
        case 47: return "illegal_parameter";
        case 48: return "unknown_ca";
        case 49: return "access_denied";
        case 50: return "decode_error";
        case 51: return "decrypt_error";
        case 70: return "protocol_version";
        case 71: return "insufficient_security";
        case 80: return "internal_error";
        case 86: return "inappropriate_fallback";
        case 90: return "user_canceled";
        case 109: return "missing_extension";
        case 110: return "unsupported_extension";
        case 112: return "unrecognized_name";
        case 113: return "bad_certificate_status_response";
        case 115: return "unknown_psk_identity";
        case 116: return "certificate_required";
        case 120: return "no_application_protocol";
        default: return "alert_" + std::to_string(alert);
    }
}

gate_decision decide(const client_hello_facts& hello, const gate_policy& policy) noexcept {
    // Version negotiation as OpenSSL does it: the highest version both sides allow.
    const bool tls13 = policy.allow_tls13 && hello.offers_tls13;
    const bool tls12 = !tls13 && policy.allow_tls12 && hello.offers_tls12;
    if (!tls13 && !tls12) return {refusal::protocol_version, alert_protocol_version};

    if (tls13) {
        if (!hello.shared_tls13_suite) return {refusal::no_pfs_suite, alert_handshake_failure};
        // TLS 1.3 requires supported_groups (RFC 8446 section 9.2); absent or disjoint: no key exchange.
        if (!hello.groups_ext || !hello.shared_group) return {refusal::no_shared_group, alert_handshake_failure};
        return {};
    }

    if (!hello.shared_tls12_suite) return {refusal::no_pfs_suite, alert_handshake_failure};
    // Without supported_groups a TLS 1.2 client accepts any curve (RFC 8422 section 4); with it, one must match.
    if (hello.groups_ext && !hello.shared_group) return {refusal::no_shared_group, alert_handshake_failure};
    // RFC 7627 section 5.2: a server that requires EMS aborts a handshake without it with handshake_failure.
    if (!hello.ems) return {refusal::no_ems, alert_handshake_failure};
    return {};
}

client_hello_facts extract_client_hello(SSL* ssl, const gate_policy& policy) noexcept {
    client_hello_facts f;
    if (SSL_client_hello_isv2(ssl) != 0) {
        // SSLv2-format hello: only ever sent by clients that also speak SSLv3/TLS 1.0.
        f.legacy_version = static_cast<std::uint16_t>(SSL_client_hello_get0_legacy_version(ssl));
        f.max_version = f.legacy_version;
        return f;
    }
    f.legacy_version = static_cast<std::uint16_t>(SSL_client_hello_get0_legacy_version(ssl));

    const unsigned char* p = nullptr;
    std::size_t len = 0;

    // Versions.
    if (SSL_client_hello_get0_ext(ssl, ext_supported_versions, &p, &len) == 1 && len >= 1) {
        f.supported_versions_ext = true;
        std::size_t n = p[0];  // uint8 length, then uint16 versions
        if (n > len - 1) n = len - 1;
        for (std::size_t i = 0; i + 1 < n; i += 2) {
            const std::uint16_t v = be16(p + 1 + i);
            if (is_grease(v)) continue;
            if (v == TLS1_3_VERSION) f.offers_tls13 = true;
            if (v == TLS1_2_VERSION) f.offers_tls12 = true;
            if (v > f.max_version && v <= TLS1_3_VERSION) f.max_version = v;
        }
    } else {
        f.max_version = f.legacy_version;
        f.offers_tls12 = f.legacy_version >= TLS1_2_VERSION;
    }

    // Cipher suites.
    len = SSL_client_hello_get0_ciphers(ssl, &p);
    f.suite_count = static_cast<std::uint16_t>(len / 2);
    for (std::size_t i = 0; i + 1 < len; i += 2) {
        const std::uint16_t s = be16(p + i);
        if (!f.shared_tls12_suite && contains(policy.tls12_suites, policy.tls12_suite_count, s))
            f.shared_tls12_suite = true;
        if (!f.shared_tls13_suite && contains(policy.tls13_suites, policy.tls13_suite_count, s))
            f.shared_tls13_suite = true;
    }

    // Groups: shared with the policy, the first few (for refusal records), post-quantum hybrid.
    if (SSL_client_hello_get0_ext(ssl, ext_supported_groups, &p, &len) == 1) {
        f.groups_ext = true;  // present; an empty or truncated list shares nothing
        std::size_t n = len >= 2 ? be16(p) : 0;  // uint16 length, then uint16 groups
        if (len < 2 || n > len - 2) n = len >= 2 ? len - 2 : 0;
        for (std::size_t i = 0; i + 1 < n; i += 2) {
            const std::uint16_t g = be16(p + 2 + i);
            if (is_grease(g)) continue;
            if (!f.shared_group && contains(policy.groups, policy.group_count, g)) f.shared_group = true;
            if (g == 0x11EC) f.mlkem = true;  // X25519MLKEM768
            if (f.group_count < f.groups.size()) f.groups[f.group_count++] = g;
        }
    }

    // Extended master secret: presence is all that matters (the extension is empty).
    f.ems = SSL_client_hello_get0_ext(ssl, ext_extended_master_secret, &p, &len) == 1;

    // SNI: server_name_list<2> { name_type<1> = host_name(0), HostName<2> }.
    if (SSL_client_hello_get0_ext(ssl, ext_server_name, &p, &len) == 1 && len >= 5 && p[2] == 0) {
        std::size_t n = be16(p + 3);
        if (n > len - 5) n = len - 5;
        if (n > f.sni.size() - 1) n = f.sni.size() - 1;
        for (std::size_t i = 0; i < n; ++i) {
            const unsigned char c = p[5 + i];
            // Keep it printable: this ends up in logs.
            f.sni[i] = (c >= 0x21 && c < 0x7f) ? static_cast<char>(c) : '?';
        }
        f.sni[n] = '\0';
    }
    return f;
}

bool is_acme_challenge(SSL* ssl) noexcept { return SSL_get_ex_data(ssl, acme_index()) != nullptr; }

void set_handshake_record(SSL* ssl, handshake_record* rec) noexcept {
    SSL_set_ex_data(ssl, ssl_record_index(), rec);
}

std::optional<std::size_t> select_group(const gate_config& cfg, std::string_view sni) noexcept {
    if (sni.empty() || (cfg.groups.size() == 1 && !cfg.refuse_unknown_sni)) return std::size_t{0};
    if (const sni_name* e = find_name(cfg.exact, sni)) return e->group;
    // One-label wildcard: "a.example.com" matches "*.example.com", "a.b.example.com" does not.
    const auto dot = sni.find('.');
    if (dot != std::string_view::npos && dot > 0) {
        if (const sni_name* e = find_name(cfg.wildcard, sni.substr(dot + 1))) return e->group;
    }
    if (cfg.refuse_unknown_sni) return std::nullopt;
    return std::size_t{0};
}

bool install_gate(SSL_CTX* ctx, gate_config&& cfg) noexcept {
    const int idx = ctx_policy_index();
    if (idx < 0 || cfg.groups.empty()) return false;
    auto* copy = new (std::nothrow) gate_config(std::move(cfg));
    if (copy == nullptr) return false;
    if (SSL_CTX_set_ex_data(ctx, idx, copy) != 1) {
        delete copy;
        ERR_clear_error();
        return false;
    }
    SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, copy);
    return true;
}

bool install_gate(SSL_CTX* ctx, const gate_policy& policy) noexcept {
    gate_config cfg;
    cfg.groups.push_back(sni_group{{}, policy});
    return install_gate(ctx, std::move(cfg));
}

const gate_policy* installed_gate(const SSL_CTX* ctx) noexcept {
    const auto* cfg = static_cast<const gate_config*>(SSL_CTX_get_ex_data(ctx, ctx_policy_index()));
    return cfg != nullptr ? &cfg->groups.front().policy : nullptr;
}

bool installed_gate_reports_only(const SSL_CTX* ctx) noexcept {
    const auto* cfg = static_cast<const gate_config*>(SSL_CTX_get_ex_data(ctx, ctx_policy_index()));
    return cfg != nullptr && cfg->report_only;
}

failure_class classify_failure(const handshake_record& rec, int openssl_reason) noexcept {
    if (rec.reason != refusal::none) return {rec.reason, handshake_failure::none, -1};
    auto refused = [](refusal r) { return failure_class{r, handshake_failure::none, -1}; };
    auto failed = [](handshake_failure f) { return failure_class{refusal::none, f, -1}; };
    switch (openssl_reason) {
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_WRONG_VERSION_NUMBER:
            return refused(refusal::protocol_version);
        case SSL_R_NO_SHARED_CIPHER:
            return refused(refusal::no_pfs_suite);
        case SSL_R_NO_SUITABLE_KEY_SHARE:
        case SSL_R_NO_SHARED_GROUPS:
            return refused(refusal::no_shared_group);
        case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
        case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
            return refused(refusal::no_shared_sigalg);
        case SSL_R_INCONSISTENT_EXTMS:
            return refused(refusal::no_ems);
        case SSL_R_NO_APPLICATION_PROTOCOL:  // our ALPN callback answered SSL_TLSEXT_ERR_ALERT_FATAL
            return refused(refusal::no_application_protocol);
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT
            return refused(refusal::no_client_certificate);
        case SSL_R_CERTIFICATE_VERIFY_FAILED:  // server side: only the client's certificate is verified
            return refused(refusal::bad_client_certificate);
        case 0:                                   // no OpenSSL error: the socket ended (FIN or RST)
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:  // the same, noticed by OpenSSL mid-record
        case SSL_AD_REASON_OFFSET:                // close_notify (alert 0): a polite close
            return failed(handshake_failure::client_closed);
        case SSL_R_CALLBACK_FAILED:  // a callback of ours failed without the gate refusing (internal)
            return failed(handshake_failure::other);
        default:
            break;
    }
    // OpenSSL reports a received alert as SSL_AD_REASON_OFFSET + its description.
    if (openssl_reason > SSL_AD_REASON_OFFSET && openssl_reason < SSL_AD_REASON_OFFSET + 256)
        return {refusal::none, handshake_failure::client_alert, openssl_reason - SSL_AD_REASON_OFFSET};
    // Library-wide reasons (malloc failure, internal error, passed a null ...) are ours, not the client's.
    if (openssl_reason < 0 || (openssl_reason & ERR_RFLAG_COMMON) != 0) return failed(handshake_failure::other);
    // Every other SSL reason is OpenSSL refusing what the client sent: a TLS protocol error.
    return failed(handshake_failure::protocol_error);
}

}  // namespace atsgate::tls
