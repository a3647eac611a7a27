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
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
    static constexpr unsigned char http10[] = {'h', 't', 't', 'p', '/', '1', '.', '0'};
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

listener_tls build_listener_tls(const config::listener& l, diagnostics& diags, ticket_keys* tickets) {
    listener_tls out;
    const std::size_t errors_before = diags.size();
    const resolved_suites names = resolve(l, diags);
    const std::string address = util::host_port(l.address, l.port);

    load_error lerr;
    ossl::ptr<X509_STORE> trust;
    std::string trust_error;
    if (!l.trust.empty()) {
        trust = load_trust_store(l.trust, lerr);
        if (!trust) {
            trust_error = lerr.message;
            const auto [where, kp] = at(l, "trust");
            error(diags, where, kp, kp + ": " + lerr.message);
        }
    }

    // Load every certificate and gather its audit facts.
    std::vector<loaded_cert> certs;
    for (std::size_t ci = 0; ci < l.certificates.size(); ++ci) {
        const config::certificate& cc = l.certificates[ci];
        endpoint_facts facts;
        facts.name = l.certificates.size() == 1 ? l.name : l.name + "#" + std::to_string(ci);
        facts.address = address;
        facts.server_name = l.server_name;
        facts.cert_path = cc.cert;
        facts.key_path = cc.key;
        facts.trust_path = l.trust;

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
        if (!trust_error.empty() && facts.chain_error.empty()) facts.chain_error = trust_error;

        if (ok) {
            lc.key_auth = auth_of(lc.key.get());
            // Names: configured, else the leaf's DNS SANs (and IP SANs, which some clients send as SNI-less).
            const cert_facts leaf = inspect_certificate(*lc.chain.front());
            if (!cc.names.empty()) {
                for (const auto& n : cc.names) lc.names.push_back(lower_ascii(n.value));
            } else {
                for (const auto& n : leaf.san_dns) lc.names.push_back(lower_ascii(n));
            }
            if (trust_error.empty()) {
                verify_inputs in;
                in.trust = trust.get();
                // The default certificate, and a twin serving the same names with the other key type,
                // are checked against server_name; the others against the first exact name they
                // serve (none for a wildcard-only certificate: its SAN is the name).
                const bool default_group = ci == 0 || (!certs.empty() && certs.front().index == 0 &&
                                                       same_names(certs.front().names, lc.names));
                if (default_group) {
                    in.hostname = l.server_name;
                } else {
                    for (const auto& n : lc.names)
                        if (n.rfind("*.", 0) != 0) {
                            in.hostname = n;
                            break;
                        }
                }
                in.key = lc.key.get();
                in.check_public_trust = true;
                facts.chain = inspect_chain(lc.chain, in);
                facts.server_name = in.hostname;
            }
            certs.push_back(std::move(lc));
        }
        out.facts.push_back(std::move(facts));
    }

    // Group certificates by the exact set of names they serve; a group holds at most one key per
    // type. A name may belong to one group only.
    struct group_build {
        std::vector<std::string> names;  // sorted
        std::vector<std::size_t> certs;  // indexes into `certs`
    };
    std::vector<group_build> groups_built;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        auto sorted = certs[i].names;
        std::sort(sorted.begin(), sorted.end());
        sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
        auto it = std::find_if(groups_built.begin(), groups_built.end(), [&](const group_build& g) { return g.names == sorted; });
        const config::certificate& cc = l.certificates[certs[i].index];
        if (it != groups_built.end()) {
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
            certs[i].group = static_cast<std::size_t>(it - groups_built.begin());
        } else {
            for (const auto& n : sorted) {
                for (std::size_t g = 0; g < groups_built.size(); ++g) {
                    if (std::binary_search(groups_built[g].names.begin(), groups_built[g].names.end(), n)) {
                        const auto [where, kp] = at(l, cc, "names");
                        error(diags, where, kp,
                              kp + ": name \"" + n + "\" is also served by " +
                                  at(l, l.certificates[certs[groups_built[g].certs.front()].index], "cert").key_path,
                              "give each name one certificate, plus at most one of the other key type");
                    }
                }
            }
            certs[i].group = groups_built.size();
            groups_built.push_back(group_build{std::move(sorted), {i}});
        }
    }

    // Build one context per group.
    gate_config gate;
    gate.refuse_unknown_sni = l.unknown_sni == config::unknown_sni_mode::refuse;
    gate.report_only = l.enforcement == config::enforcement_mode::report;
    std::vector<ossl::ptr<SSL_CTX>> contexts;
    std::string key_description;
    bool all_ok = !certs.empty() && certs.size() == l.certificates.size();
    for (std::size_t g = 0; g < groups_built.size(); ++g) {
        auto ctx = ossl::own(SSL_CTX_new(TLS_server_method()));
        if (!ctx) {
            for (std::size_t i : groups_built[g].certs)
                out.facts[certs[i].index].context_error = "SSL_CTX_new failed: " + ossl::drain_errors();
            all_ok = false;
            contexts.emplace_back();
            continue;
        }
        SSL_CTX* c = ctx.get();
        const std::string common_error = configure_common(c, l, names, tickets);

        gate_policy policy;
        policy.allow_tls12 = l.min_version == config::tls_version::v1_2;
        policy.allow_tls13 = true;
        bool has_ecdsa = false, has_rsa = false;
        for (std::size_t i : groups_built[g].certs) {
            has_ecdsa = has_ecdsa || certs[i].key_auth == auth::ecdsa;
            has_rsa = has_rsa || certs[i].key_auth == auth::rsa;
        }
        for (const suite* s : names.tls12) {
            const bool usable = (s->authentication == auth::ecdsa && has_ecdsa) || (s->authentication == auth::rsa && has_rsa);
            if (usable && policy.tls12_suite_count < policy.tls12_suites.size())
                policy.tls12_suites[policy.tls12_suite_count++] = s->code;
        }
        for (const suite* s : names.tls13)
            if (policy.tls13_suite_count < policy.tls13_suites.size()) policy.tls13_suites[policy.tls13_suite_count++] = s->code;
        for (const group* gr : names.groups)
            if (policy.group_count < policy.groups.size()) policy.groups[policy.group_count++] = gr->code;
        if (policy.allow_tls12 && policy.tls12_suite_count == 0 && (has_ecdsa || has_rsa) &&
            diags.size() == errors_before) {
            const auto [where, kp] = at(l, "tls12_ciphers");
            error(diags, where, kp,
                  kp + " has no suite usable with the " + std::string(has_ecdsa ? "ECDSA" : "RSA") + " certificate key",
                  has_ecdsa ? "add ECDHE-ECDSA-* suites" : "add ECDHE-RSA-* suites");
        }

        // The audit inspects the live context; for group 0 the gate must already be in place, so
        // facts are taken after installing it (below) for that group.
        std::string why = common_error;
        std::string description;
        for (std::size_t i : groups_built[g].certs) {
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
            if (!ok) all_ok = false;
            auto& f = out.facts[lc.index];
            if (f.chain && !f.chain->served.empty()) {
                if (!description.empty()) description += " + ";
                description += f.chain->served.front().key_description;
            }
        }
        if (!why.empty()) {
            all_ok = false;
            for (std::size_t i : groups_built[g].certs) out.facts[certs[i].index].context_error = why;
        }
        if (g == 0) key_description = description;
        sni_group sg;
        sg.policy = policy;
        if (g != 0) sg.ctx = ossl::up_ref(c);  // group 0 is the context itself: no self-reference
        gate.groups.push_back(std::move(sg));
        for (const auto& n : groups_built[g].names) {
            if (n.rfind("*.", 0) == 0)
                gate.wildcard.push_back(sni_name{n.substr(2), g});
            else
                gate.exact.push_back(sni_name{n, g});
        }
        contexts.push_back(std::move(ctx));
    }
    auto by_name = [](const sni_name& a, const sni_name& b) { return a.name < b.name; };
    std::sort(gate.exact.begin(), gate.exact.end(), by_name);
    std::sort(gate.wildcard.begin(), gate.wildcard.end(), by_name);

    if (contexts.empty() || !contexts.front()) {
        for (auto& f : out.facts)
            if (f.context_error.empty()) f.context_error = "no usable certificate";
        return out;
    }
    SSL_CTX* primary = contexts.front().get();
    if (!install_gate(primary, std::move(gate))) {
        all_ok = false;
        for (auto& f : out.facts)
            if (f.context_error.empty()) f.context_error = "could not install the handshake gate";
    }
    // Context facts: the policy settings are identical in every group, and the gate lives on the
    // primary context (the one every handshake starts with), so all certificates report it.
    const context_facts cf = inspect_context(*primary);
    for (auto& f : out.facts) f.context = cf;

    const bool new_errors = std::any_of(diags.begin() + static_cast<std::ptrdiff_t>(errors_before), diags.end(),
                                        [](const config::diagnostic& d) { return d.level == config::severity::error; });
    if (all_ok && !new_errors) {
        out.context = server_context{std::move(contexts.front()), key_description};
    }
    return out;
}

}  // namespace atsgate::tls
