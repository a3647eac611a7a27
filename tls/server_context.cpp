#include "tls/server_context.hpp"

#include "tls/cert_facts.hpp"
#include "tls/policy.hpp"
#include "util/host_port.hpp"
#include "util/text.hpp"

#include <openssl/tls1.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>
#include <vector>

namespace atsgate::tls {

namespace {

using config::diagnostic;
using config::diagnostics;
using config::severity;

// Where a key was written and how diagnostics name it: the config knows its own layout.
config::origin at(const config::listener& l, std::string_view key) { return config::origin_of(l, key); }

// Entry `i` of a list key (tls12_ciphers, ...): its own position, the list's key path plus "[i]".
config::origin at(const config::listener& l, std::string_view key, std::size_t i, const config::positioned& entry) {
    return config::origin{entry.where, at(l, key).key_path + "[" + std::to_string(i) + "]"};
}

void error(diagnostics& d, config::source_pos where, std::string key_path, std::string message, std::string hint = {}) {
    d.push_back(diagnostic{severity::error, std::move(where), std::move(key_path), std::move(message), std::move(hint)});
}

using util::join;

// Allowed names of one protocol, for hints.
std::string allowed_names(protocol p) {
    std::vector<std::string_view> names;
    for (const auto& s : suites)
        if (s.proto == p) names.push_back(s.openssl);
    return join(names, ", ");
}

// True if OpenSSL knows `name` as a TLS 1.2-and-below cipher (to tell "not forward-secret" from "unknown").
bool openssl_knows_cipher(std::string_view name) {
    auto scratch = ossl::own(SSL_CTX_new(TLS_server_method()));
    if (!scratch) {
        ERR_clear_error();
        return false;
    }
    const std::string n(name);
    const bool ok = SSL_CTX_set_cipher_list(scratch.get(), n.c_str()) == 1;
    ERR_clear_error();
    return ok;
}

struct resolved_suites {
    std::vector<const suite*> tls12;
    std::vector<const suite*> tls13;
    std::vector<const group*> groups;
};

resolved_suites resolve(const config::listener& l, diagnostics& diags) {
    resolved_suites r;
    if (l.tls12_ciphers.empty()) {
        for (const auto& s : suites)
            if (s.proto == protocol::tls12 && s.is_default) r.tls12.push_back(&s);
    }
    for (std::size_t i = 0; i < l.tls12_ciphers.size(); ++i) {
        const auto& name = l.tls12_ciphers[i].value;
        const auto [where, kp] = at(l, "tls12_ciphers", i, l.tls12_ciphers[i]);
        const suite* s = find_suite(name);
        if (s != nullptr && s->proto == protocol::tls12) {
            r.tls12.push_back(s);
        } else if (s != nullptr) {
            error(diags, where, kp, kp + " is \"" + name + "\", a TLS 1.3 suite",
                  "put TLS 1.3 suites in tls13_ciphersuites");
        } else if (openssl_knows_cipher(name)) {
            error(diags, where, kp, kp + " is \"" + name + "\", not an ECDHE suite on Apple's ATS list",
                  "ATS requires forward secrecy; allowed: " + allowed_names(protocol::tls12));
        } else {
            error(diags, where, kp, kp + " is \"" + name + "\", an unknown cipher suite",
                  "allowed: " + allowed_names(protocol::tls12));
        }
    }
    if (l.tls13_ciphersuites.empty()) {
        for (const auto& s : suites)
            if (s.proto == protocol::tls13 && s.is_default) r.tls13.push_back(&s);
    }
    for (std::size_t i = 0; i < l.tls13_ciphersuites.size(); ++i) {
        const auto& name = l.tls13_ciphersuites[i].value;
        const auto [where, kp] = at(l, "tls13_ciphersuites", i, l.tls13_ciphersuites[i]);
        const suite* s = find_suite(name);
        if (s != nullptr && s->proto == protocol::tls13) {
            r.tls13.push_back(s);
        } else {
            error(diags, where, kp, kp + " is \"" + name + "\", not a TLS 1.3 cipher suite",
                  "allowed: " + allowed_names(protocol::tls13));
        }
    }
    if (l.groups.empty()) {
        for (const auto& g : groups) r.groups.push_back(&g);
    }
    for (std::size_t i = 0; i < l.groups.size(); ++i) {
        const auto& name = l.groups[i].value;
        const group* g = find_group(name);
        if (g != nullptr) {
            r.groups.push_back(g);
        } else {
            const auto [where, kp] = at(l, "groups", i, l.groups[i]);
            error(diags, where, kp, kp + " is \"" + name + "\", not an allowed key-exchange group",
                  "allowed: X25519, P-256, P-384");
        }
    }
    return r;
}

// Which TLS 1.2 authentication the leaf key supports.
auth auth_of(EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_EC: return auth::ecdsa;
        case EVP_PKEY_RSA:
        case EVP_PKEY_RSA_PSS: return auth::rsa;
        default: return auth::any;  // Ed25519 & co.: no TLS 1.2 suite will be usable; the audit FAILs it
    }
}

// ALPN (RFC 7301): atsgate speaks HTTP/1.1 (and answers HTTP/1.0 requests as such). It selects
// "http/1.1" when offered, else "http/1.0". A client that offers ALPN but neither of them (only
// "h2", say) gets a fatal no_application_protocol alert, as section 3.2 says the server SHALL:
// completing the handshake without ALPN would let it speak a protocol atsgate does not, and a strict
// answer now keeps the door open for offering h2 later without surprising anyone. Counted as
// refused{reason="no_application_protocol"}. A client that offers no ALPN at all is served
// (this callback is not called then). A malformed list is refused like an unknown one.
// A TLS-ALPN-01 validation (the gate served the challenge certificate) negotiates "acme-tls/1"
// instead (RFC 8737 4: the server must).
int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
    static constexpr unsigned char http10[] = {'h', 't', 't', 'p', '/', '1', '.', '0'};
    static constexpr unsigned char acme_tls[] = {'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
    if (is_acme_challenge(ssl)) {
        if (inlen == sizeof acme_tls + 1 && in[0] == sizeof acme_tls && std::memcmp(in + 1, acme_tls, sizeof acme_tls) == 0) {
            *out = in + 1;
            *outlen = sizeof acme_tls;
            return SSL_TLSEXT_ERR_OK;
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    const unsigned char* found10 = nullptr;
    unsigned int i = 0;
    while (i < inlen) {
        const unsigned int n = in[i];
        if (i + 1 + n > inlen) break;
        if (n == sizeof http11 && std::memcmp(in + i + 1, http11, n) == 0) {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(n);
            return SSL_TLSEXT_ERR_OK;
        }
        if (n == sizeof http10 && std::memcmp(in + i + 1, http10, n) == 0 && found10 == nullptr) found10 = in + i + 1;
        i += 1 + n;
    }
    if (found10 != nullptr) {
        *out = found10;
        *outlen = sizeof http10;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

context_facts inspect_context(const SSL_CTX& ctx_ref) {
    auto* ctx = const_cast<SSL_CTX*>(&ctx_ref);  // OpenSSL getters take non-const
    context_facts f;
    f.min_version = static_cast<int>(SSL_CTX_get_min_proto_version(ctx));
    f.max_version = static_cast<int>(SSL_CTX_get_max_proto_version(ctx));
    if (STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx)) {
        for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
            const SSL_CIPHER* c = sk_SSL_CIPHER_value(list, i);
            std::string name = SSL_CIPHER_get_name(c);
            if ((SSL_CIPHER_get_protocol_id(c) >> 8) == 0x13)  // TLS 1.3 suites are 0x13xx
                f.tls13_suites.push_back(std::move(name));
            else
                f.tls12_suites.push_back(std::move(name));
        }
    }
    const std::uint64_t opts = SSL_CTX_get_options(ctx);
    f.ems_gate = installed_gate(ctx) != nullptr;
    f.report_only = installed_gate_reports_only(ctx);
    f.ems_disabled = (opts & SSL_OP_NO_EXTENDED_MASTER_SECRET) != 0;
    f.compression_disabled = (opts & SSL_OP_NO_COMPRESSION) != 0;
    f.renegotiation_disabled = (opts & SSL_OP_NO_RENEGOTIATION) != 0;
    return f;
}

namespace {

// One configured certificate after loading.
struct loaded_cert {
    std::size_t index = 0;  // in l.certificates
    std::vector<ossl::ptr<X509>> chain;
    ossl::ptr<EVP_PKEY> key;
    auth key_auth = auth::any;
    std::vector<std::string> names;  // lower case; "*.x" for wildcards
    std::size_t group = 0;
};

// Whether two name lists serve the same set of names (order and repeats ignored).
bool same_names(std::vector<std::string> a, std::vector<std::string> b) {
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    return a == b;
}

std::string lower_ascii(std::string_view in) {
    std::string out(in);
    for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return out;
}

// A certificate's key; a certificate without a position of its own points at its listener.
config::origin at(const config::listener& l, const config::certificate& c, std::string_view key) {
    config::origin o = config::origin_of(c, key);
    if (o.where.line == 0) o.where = l.where;
    return o;
}

// Settings every group context of a listener shares: versions, suites, groups, signature
// algorithms, options, session handling, client authentication. Returns the first OpenSSL refusal.
std::string configure_common(SSL_CTX* c, const config::listener& l, const resolved_suites& names, ticket_keys* tickets) {
    std::string why;
    auto check = [&](int ok, std::string_view what) {
        if (ok != 1 && why.empty()) why = std::string(what) + ": " + ossl::drain_reason();
        ERR_clear_error();
    };
    // Versions: TLS 1.2 (or 1.3) up to 1.3, never lower (ATS blocks TLS 1.0/1.1).
    // Report mode (enforcement = "report") also accepts TLS 1.0/1.1; the gate counts them as would-refuse.
    const bool report = l.enforcement == config::enforcement_mode::report;
    check(SSL_CTX_set_min_proto_version(c, l.min_version == config::tls_version::v1_3 ? TLS1_3_VERSION
                                           : report                                   ? TLS1_VERSION
                                                                                      : TLS1_2_VERSION),
          "min version");
    check(SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION), "max version");
    std::vector<std::string_view> list12, list13, glist;
    for (const suite* s : names.tls12) list12.push_back(s->openssl);
    if (report)  // after the configured suites: server preference gives compliant clients the same suite
        for (std::string_view s : report_mode_legacy_suites)
            if (std::find(list12.begin(), list12.end(), s) == list12.end()) list12.push_back(s);
    for (const suite* s : names.tls13) list13.push_back(s->openssl);
    for (const group* g : names.groups) glist.push_back(g->name);
    // An empty list would make OpenSSL fail; it is only possible after config errors.
    if (!list12.empty()) check(SSL_CTX_set_cipher_list(c, join(list12, ":").c_str()), "tls12_ciphers");
    if (!list13.empty()) check(SSL_CTX_set_ciphersuites(c, join(list13, ":").c_str()), "tls13_ciphersuites");
    if (!glist.empty()) check(SSL_CTX_set1_groups_list(c, join(glist, ":").c_str()), "groups");
    check(SSL_CTX_set1_sigalgs_list(c, std::string(sigalgs).c_str()), "signature algorithms");
    // Level 2 (Debian's default, made explicit): refuses RSA < 2048 and SHA-1 certificate signatures.
    SSL_CTX_set_security_level(c, 2);

    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_clear_options(c, SSL_OP_NO_EXTENDED_MASTER_SECRET | SSL_OP_LEGACY_SERVER_CONNECT);
    // RELEASE_BUFFERS: free OpenSSL's record buffers while a connection is idle (keep-alive memory).
    // NO_AUTO_CHAIN: serve exactly the configured chain; no per-handshake chain building.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Resumption: stateless tickets (unless turned off); a server-side cache only when configured.
    if (!l.session_tickets) SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(c, l.session_tickets ? l.tls13_tickets : 0);
    if (l.session_tickets && tickets != nullptr) {
        tickets->install(c);
        // A ticket stays decryptable for a few rotations; tell clients to use it within one period
        // (at most 7 days, RFC 8446 section 4.6.1).
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(l.ticket_key_rotation).count();
        SSL_CTX_set_timeout(c, static_cast<long>(std::min<long long>(secs, 7 * 24 * 3600)));
    }
    if (l.session_cache > 0) {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(c, l.session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    }
    static constexpr unsigned char sid_ctx[] = "atsgate";
    SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);

    // Device identity (mutual TLS).
    if (l.client_auth != config::client_auth_mode::none) {
        int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
        if (l.client_auth == config::client_auth_mode::require) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        if (!l.client_ca.empty()) {
            check(SSL_CTX_load_verify_file(c, l.client_ca.c_str()), "client_ca");
            if (STACK_OF(X509_NAME)* ca_names = SSL_load_client_CA_file(l.client_ca.c_str()))
                SSL_CTX_set_client_CA_list(c, ca_names);  // takes ownership
            ERR_clear_error();
            SSL_CTX_set_verify(c, mode, nullptr);
        } else {
            // No CA configured: take any client certificate and let the MDM server verify it (as
            // NanoMDM and MicroMDM do with the forwarded certificate).
            SSL_CTX_set_verify(c, mode, [](int, X509_STORE_CTX*) { return 1; });
        }
        SSL_CTX_set_verify_depth(c, 8);
    }
    return why;
}

}  // namespace

namespace {

// ---- Phase 1: load --------------------------------------------------------------------------

struct trust_store {
    ossl::ptr<X509_STORE> store;  // null: the system store (or it could not be loaded)
    std::string error;            // why the configured trust file could not be loaded
};

trust_store load_trust(const config::listener& l, diagnostics& diags) {
    trust_store t;
    if (l.trust.empty()) return t;
    load_error lerr;
    t.store = load_trust_store(l.trust, lerr);
    if (!t.store) {
        t.error = lerr.message;
        const auto [where, kp] = at(l, "trust");
        error(diags, where, kp, kp + ": " + lerr.message);
    }
    return t;
}

// The name certificate `lc` is verified against: the default certificate, and a twin serving the
// same names with the other key type, against server_name; the others against the first exact
// name they serve (none for a wildcard-only certificate: its SAN is the name).
std::string verify_name(const config::listener& l, const loaded_cert& lc, const std::vector<loaded_cert>& earlier) {
    const bool default_group = lc.index == 0 || (!earlier.empty() && earlier.front().index == 0 &&
                                                 same_names(earlier.front().names, lc.names));
    if (default_group) return l.server_name;
    for (const auto& n : lc.names)
        if (n.rfind("*.", 0) != 0) return n;
    return {};
}

// Loads certificate `ci` of `l` (chain, key, the names it serves) and fills `facts` for the
// audit. Nullopt when the chain or the key could not be loaded (reported).
std::optional<loaded_cert> load_certificate(const config::listener& l, std::size_t ci, const trust_store& trust,
                                            const std::vector<loaded_cert>& earlier, endpoint_facts& facts,
                                            diagnostics& diags) {
    const config::certificate& cc = l.certificates[ci];
    facts.name = l.certificates.size() == 1 ? l.name : l.name + "#" + std::to_string(ci);
    facts.address = util::host_port(l.address, l.port);
    facts.server_name = l.server_name;
    facts.cert_path = cc.cert;
    facts.key_path = cc.key;
    facts.trust_path = l.trust;

    load_error lerr;
    loaded_cert lc;
    lc.index = ci;
    bool ok = true;
    if (auto chain = load_cert_chain(cc.cert, lerr)) {
        lc.chain = std::move(*chain);
    } else {
        ok = false;
        const auto [where, kp] = at(l, cc, "cert");
        error(diags, where, kp, kp + ": " + lerr.message);
        facts.chain_error = lerr.message;
    }
    lc.key = load_private_key(cc.key, lerr);
    if (!lc.key) {
        ok = false;
        const auto [where, kp] = at(l, cc, "key");
        error(diags, where, kp, kp + ": " + lerr.message);
        if (facts.chain_error.empty()) facts.chain_error = lerr.message;
    }
    if (!trust.error.empty() && facts.chain_error.empty()) facts.chain_error = trust.error;
    if (!ok) return std::nullopt;

    lc.key_auth = auth_of(lc.key.get());
    // Names: configured, else the leaf's DNS SANs.
    if (!cc.names.empty()) {
        for (const auto& n : cc.names) lc.names.push_back(lower_ascii(n.value));
    } else {
        for (const auto& n : inspect_certificate(*lc.chain.front()).san_dns) lc.names.push_back(lower_ascii(n));
    }
    if (trust.error.empty()) {
        verify_inputs in;
        in.trust = trust.store.get();
        in.hostname = verify_name(l, lc, earlier);
        in.key = lc.key.get();
        in.check_public_trust = true;
        facts.chain = inspect_chain(lc.chain, in);
        facts.server_name = in.hostname;
    }
    return lc;
}

// ---- Phase 2: group -------------------------------------------------------------------------

// Certificates serving exactly the same names: one SSL_CTX, at most one key per type.
struct cert_group {
    std::vector<std::string> names;  // sorted, unique
    std::vector<std::size_t> certs;  // indexes into the loaded certificates
};

// Groups certificates by the exact set of names they serve; a group holds at most one key per
// type, and a name may belong to one group only (both reported).
std::vector<cert_group> group_certificates(const config::listener& l, std::vector<loaded_cert>& certs,
                                           diagnostics& diags) {
    std::vector<cert_group> grouped;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        auto sorted = certs[i].names;
        std::sort(sorted.begin(), sorted.end());
        sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
        auto it = std::find_if(grouped.begin(), grouped.end(), [&](const cert_group& g) { return g.names == sorted; });
        const config::certificate& cc = l.certificates[certs[i].index];
        if (it != grouped.end()) {
            const auto clash = std::find_if(it->certs.begin(), it->certs.end(),
                                            [&](std::size_t j) { return certs[j].key_auth == certs[i].key_auth; });
            if (clash != it->certs.end()) {
                const auto [where, kp] = at(l, cc, "cert");
                error(diags, where, kp,
                      kp + " serves the same names with the same key type as " +
                          at(l, l.certificates[certs[*clash].index], "cert").key_path,
                      "one name can have one ECDSA and one RSA certificate");
                continue;
            }
            it->certs.push_back(i);
            certs[i].group = static_cast<std::size_t>(it - grouped.begin());
            continue;
        }
        for (const auto& n : sorted) {
            for (const auto& g : grouped) {
                if (!std::binary_search(g.names.begin(), g.names.end(), n)) continue;
                const auto [where, kp] = at(l, cc, "names");
                error(diags, where, kp,
                      kp + ": name \"" + n + "\" is also served by " +
                          at(l, l.certificates[certs[g.certs.front()].index], "cert").key_path,
                      "give each name one certificate, plus at most one of the other key type");
            }
        }
        certs[i].group = grouped.size();
        grouped.push_back(cert_group{std::move(sorted), {i}});
    }
    return grouped;
}

// ---- Phase 3: build -------------------------------------------------------------------------

// The handshake gate's policy for one group: the configured suites its keys can use.
gate_policy policy_for(const config::listener& l, const resolved_suites& names, bool has_ecdsa, bool has_rsa) {
    gate_policy policy;
    policy.allow_tls12 = l.min_version == config::tls_version::v1_2;
    policy.allow_tls13 = true;
    for (const suite* s : names.tls12) {
        const bool usable = (s->authentication == auth::ecdsa && has_ecdsa) || (s->authentication == auth::rsa && has_rsa);
        if (usable && policy.tls12_suite_count < policy.tls12_suites.size())
            policy.tls12_suites[policy.tls12_suite_count++] = s->code;
    }
    for (const suite* s : names.tls13)
        if (policy.tls13_suite_count < policy.tls13_suites.size()) policy.tls13_suites[policy.tls13_suite_count++] = s->code;
    for (const group* gr : names.groups)
        if (policy.group_count < policy.groups.size()) policy.groups[policy.group_count++] = gr->code;
    return policy;
}

struct built_group {
    ossl::ptr<SSL_CTX> ctx;   // null when SSL_CTX_new failed
    gate_policy policy;
    std::string description;  // "EC P-256 + RSA 2048"
    bool ok = false;          // every certificate and key accepted, every setting applied
};

// One SSL_CTX for group `g`: the common settings, then its certificates and keys. OpenSSL's
// refusals land in the facts of the group's certificates (context_error), not in `diags`; a TLS
// 1.2 suite list no key of the group can use is a config error (when nothing else was wrong).
built_group build_group(const config::listener& l, const resolved_suites& names, const cert_group& g,
                        std::vector<loaded_cert>& certs, ticket_keys* tickets, std::vector<endpoint_facts>& facts,
                        diagnostics& diags, bool report_unusable_suites) {
    built_group out;
    out.ctx = ossl::own(SSL_CTX_new(TLS_server_method()));
    if (!out.ctx) {
        for (std::size_t i : g.certs) facts[certs[i].index].context_error = "SSL_CTX_new failed: " + ossl::drain_errors();
        return out;
    }
    SSL_CTX* c = out.ctx.get();
    std::string why = configure_common(c, l, names, tickets);

    bool has_ecdsa = false, has_rsa = false;
    for (std::size_t i : g.certs) {
        has_ecdsa = has_ecdsa || certs[i].key_auth == auth::ecdsa;
        has_rsa = has_rsa || certs[i].key_auth == auth::rsa;
    }
    out.policy = policy_for(l, names, has_ecdsa, has_rsa);
    if (out.policy.allow_tls12 && out.policy.tls12_suite_count == 0 && (has_ecdsa || has_rsa) && report_unusable_suites) {
        const auto [where, kp] = at(l, "tls12_ciphers");
        error(diags, where, kp,
              kp + " has no suite usable with the " + std::string(has_ecdsa ? "ECDSA" : "RSA") + " certificate key",
              has_ecdsa ? "add ECDHE-ECDSA-* suites" : "add ECDHE-RSA-* suites");
    }

    out.ok = true;
    for (std::size_t i : g.certs) {
        loaded_cert& lc = certs[i];
        bool ok = true;
        auto use = [&](int r, std::string_view what) {
            if (r != 1) {
                ok = false;
                if (why.empty()) why = std::string(what) + ": " + ossl::drain_reason();
            }
            ERR_clear_error();
        };
        use(SSL_CTX_use_certificate(c, lc.chain[0].get()), "certificate");
        for (std::size_t k = 1; ok && k < lc.chain.size(); ++k)
            use(SSL_CTX_add1_chain_cert(c, lc.chain[k].get()), "intermediate certificate");
        if (ok) use(SSL_CTX_use_PrivateKey(c, lc.key.get()), "private key");
        if (ok) use(SSL_CTX_check_private_key(c), "private key does not match the certificate");
        if (!ok) out.ok = false;
        const auto& f = facts[lc.index];
        if (f.chain && !f.chain->served.empty()) {
            if (!out.description.empty()) out.description += " + ";
            out.description += f.chain->served.front().key_description;
        }
    }
    if (!why.empty()) {
        out.ok = false;
        for (std::size_t i : g.certs) facts[certs[i].index].context_error = why;
    }
    return out;
}

// ---- Phase 4: gate and audit facts ----------------------------------------------------------

// The SNI table of the gate: which group serves which exact and wildcard name.
gate_config gate_for(const config::listener& l, const std::vector<cert_group>& grouped, std::vector<built_group>& built) {
    gate_config gate;
    gate.refuse_unknown_sni = l.unknown_sni == config::unknown_sni_mode::refuse;
    gate.report_only = l.enforcement == config::enforcement_mode::report;
    for (std::size_t g = 0; g < grouped.size(); ++g) {
        sni_group sg;
        sg.policy = built[g].policy;
        // Group 0 is the context the gate is installed on: no self-reference.
        if (g != 0 && built[g].ctx) sg.ctx = ossl::up_ref(built[g].ctx.get());
        gate.groups.push_back(std::move(sg));
        for (const auto& n : grouped[g].names) {
            if (n.rfind("*.", 0) == 0)
                gate.wildcard.push_back(sni_name{n.substr(2), g});
            else
                gate.exact.push_back(sni_name{n, g});
        }
    }
    auto by_name = [](const sni_name& a, const sni_name& b) { return a.name < b.name; };
    std::sort(gate.exact.begin(), gate.exact.end(), by_name);
    std::sort(gate.wildcard.begin(), gate.wildcard.end(), by_name);
    return gate;
}

void set_context_error(std::vector<endpoint_facts>& facts, std::string_view why) {
    for (auto& f : facts)
        if (f.context_error.empty()) f.context_error = std::string(why);
}

}  // namespace

listener_tls build_listener_tls(const config::listener& l, diagnostics& diags, ticket_keys* tickets,
                                const listener_acme* acme) {
    listener_tls out;
    const std::size_t errors_before = diags.size();
    const resolved_suites names = resolve(l, diags);

    // Load every certificate and gather its audit facts. An ACME certificate not issued yet has
    // nothing to load or audit: its names are pending.
    const trust_store trust = load_trust(l, diags);
    std::vector<loaded_cert> certs;
    std::vector<bool> pending(l.certificates.size(), false);
    std::size_t pending_count = 0;
    for (std::size_t ci = 0; ci < l.certificates.size(); ++ci) {
        const config::certificate& cc = l.certificates[ci];
        if (cc.acme && cc.cert.empty()) {
            pending[ci] = true;
            ++pending_count;
            for (const auto& n : cc.names) out.pending_names.push_back(lower_ascii(n.value));
            out.facts.emplace_back();  // keeps facts indexed by certificate; removed below
            continue;
        }
        if (auto lc = load_certificate(l, ci, trust, certs, out.facts.emplace_back(), diags)) certs.push_back(std::move(*lc));
    }
    std::sort(out.pending_names.begin(), out.pending_names.end());
    out.pending_names.erase(std::unique(out.pending_names.begin(), out.pending_names.end()), out.pending_names.end());
    auto drop_pending_facts = [&] {
        std::vector<endpoint_facts> kept;
        for (std::size_t i = 0; i < out.facts.size(); ++i)
            if (i >= pending.size() || !pending[i]) kept.push_back(std::move(out.facts[i]));
        out.facts = std::move(kept);
    };

    // Group them by the names they serve and build one context per group.
    const std::vector<cert_group> grouped = group_certificates(l, certs, diags);
    bool all_ok = (!certs.empty() || pending_count > 0) && certs.size() + pending_count == l.certificates.size();
    std::vector<built_group> built;
    for (const auto& g : grouped) {
        built.push_back(build_group(l, names, g, certs, tickets, out.facts, diags, diags.size() == errors_before));
        all_ok = all_ok && built.back().ok;
    }
    // Only pending ACME certificates: a context without any, whose gate answers TLS-ALPN-01
    // validations and refuses everything else (certificate_pending) until the first one arrives.
    bool no_certificate = false;
    if (built.empty() && pending_count > 0 && all_ok) {
        built_group b;
        b.ctx = ossl::own(SSL_CTX_new(TLS_server_method()));
        const std::string why = b.ctx ? configure_common(b.ctx.get(), l, names, tickets) : ossl::drain_errors();
        if (!b.ctx || !why.empty()) {
            const auto [where, kp] = at(l, "acme");
            error(diags, where, kp, kp + ": cannot build a context: " + why);
            all_ok = false;
        } else {
            b.policy = policy_for(l, names, false, false);
            b.description = "none yet (ACME pending)";
            b.ok = true;
            built.push_back(std::move(b));
            no_certificate = true;
        }
    }
    if (built.empty() || !built.front().ctx) {
        set_context_error(out.facts, "no usable certificate");
        drop_pending_facts();
        return out;
    }

    SSL_CTX* primary = built.front().ctx.get();
    gate_config gate = gate_for(l, grouped, built);
    if (no_certificate) {
        sni_group sg;
        sg.policy = built.front().policy;
        gate.groups.push_back(std::move(sg));
        gate.no_certificate = true;
    }
    gate.pending = out.pending_names;
    if (acme != nullptr) gate.challenges = acme->challenges;
    if (!install_gate(primary, std::move(gate))) {
        all_ok = false;
        set_context_error(out.facts, "could not install the handshake gate");
    }
    const context_facts cf = inspect_context(*primary);
    for (auto& f : out.facts) f.context = cf;
    drop_pending_facts();

    const bool new_errors = std::any_of(diags.begin() + static_cast<std::ptrdiff_t>(errors_before), diags.end(),
                                        [](const config::diagnostic& d) { return d.level == config::severity::error; });
    if (all_ok && !new_errors) out.context = server_context{std::move(built.front().ctx), built.front().description};
    return out;
}

}  // namespace atsgate::tls
