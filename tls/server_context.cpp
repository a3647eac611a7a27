#include "tls/server_context.hpp"

#include "tls/cert_facts.hpp"
#include "tls/policy.hpp"

#include <openssl/tls1.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace atsgate::tls {

namespace {

using config::diagnostic;
using config::diagnostics;
using config::severity;

std::string key_path_of(std::size_t index, std::string_view key) {
    std::string s = "listener[" + std::to_string(index) + "]";
    if (!key.empty()) {
        s += '.';
        s += key;
    }
    return s;
}

config::source_pos pos_of(const config::listener& l, const std::string& key) {
    auto it = l.key_pos.find(key);
    return it != l.key_pos.end() ? it->second : l.where;
}

void error(diagnostics& d, config::source_pos where, std::string key_path, std::string message, std::string hint = {}) {
    d.push_back(diagnostic{severity::error, std::move(where), std::move(key_path), std::move(message), std::move(hint)});
}

std::string join(const std::vector<std::string_view>& v, std::string_view sep) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

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

resolved_suites resolve(const config::listener& l, std::size_t index, diagnostics& diags) {
    resolved_suites r;
    if (l.tls12_ciphers.empty()) {
        for (const auto& s : suites)
            if (s.proto == protocol::tls12 && s.is_default) r.tls12.push_back(&s);
    }
    for (std::size_t i = 0; i < l.tls12_ciphers.size(); ++i) {
        const auto& [name, where] = l.tls12_ciphers[i];
        const std::string kp = key_path_of(index, "tls12_ciphers[" + std::to_string(i) + "]");
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
        const auto& [name, where] = l.tls13_ciphersuites[i];
        const std::string kp = key_path_of(index, "tls13_ciphersuites[" + std::to_string(i) + "]");
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
        const auto& [name, where] = l.groups[i];
        const group* g = find_group(name);
        if (g != nullptr) {
            r.groups.push_back(g);
        } else {
            const std::string kp = key_path_of(index, "groups[" + std::to_string(i) + "]");
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

// ALPN: atsgate speaks HTTP/1.1 only. Select it when offered; otherwise negotiate no ALPN (a client
// offering only h2 then falls back to HTTP/1.1 or gives up, its choice).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned int i = 0;
    while (i < inlen) {
        const unsigned int n = in[i];
        if (i + 1 + n > inlen) break;
        if (n == sizeof http11 && std::memcmp(in + i + 1, http11, n) == 0) {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(n);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
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
    f.ems_disabled = (opts & SSL_OP_NO_EXTENDED_MASTER_SECRET) != 0;
    f.compression_disabled = (opts & SSL_OP_NO_COMPRESSION) != 0;
    f.renegotiation_disabled = (opts & SSL_OP_NO_RENEGOTIATION) != 0;
    return f;
}

listener_tls build_listener_tls(const config::listener& l, std::size_t index, diagnostics& diags) {
    listener_tls out;
    endpoint_facts& facts = out.facts;
    facts.name = l.name;
    facts.address = (l.address.find(':') != std::string::npos ? "[" + l.address + "]" : l.address) + ":" +
                    std::to_string(l.port);
    facts.server_name = l.server_name;
    facts.cert_path = l.cert;
    facts.key_path = l.key;
    facts.trust_path = l.trust;

    const std::size_t errors_before = diags.size();
    const resolved_suites names = resolve(l, index, diags);

    // Files. Unparsable content is a config error pointing at the key.
    load_error lerr;
    auto chain = load_cert_chain(l.cert, lerr);
    if (!chain) {
        error(diags, pos_of(l, "cert"), key_path_of(index, "cert"), key_path_of(index, "cert") + ": " + lerr.message);
        facts.chain_error = lerr.message;
    }
    auto key = load_private_key(l.key, lerr);
    if (!key) {
        error(diags, pos_of(l, "key"), key_path_of(index, "key"), key_path_of(index, "key") + ": " + lerr.message);
        if (facts.chain_error.empty()) facts.chain_error = lerr.message;
    }
    ossl::ptr<X509_STORE> trust;
    if (!l.trust.empty()) {
        trust = load_trust_store(l.trust, lerr);
        if (!trust) {
            error(diags, pos_of(l, "trust"), key_path_of(index, "trust"), key_path_of(index, "trust") + ": " + lerr.message);
            if (facts.chain_error.empty()) facts.chain_error = lerr.message;
        }
    }

    // Chain facts for the audit (independent of whether OpenSSL will accept the certificate).
    if (chain && key && (l.trust.empty() || trust)) {
        verify_inputs in;
        in.trust = trust.get();
        in.hostname = l.server_name;
        in.key = key.get();
        in.check_public_trust = true;
        facts.chain = inspect_chain(*chain, in);
    }

    // The context.
    auto ctx = ossl::own(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
        facts.context_error = "SSL_CTX_new failed: " + ossl::drain_errors();
        return out;
    }
    SSL_CTX* c = ctx.get();
    std::string why;  // first OpenSSL refusal while configuring
    auto check = [&](int ok, std::string_view what) {
        if (ok != 1 && why.empty()) why = std::string(what) + ": " + ossl::drain_reason();
        ERR_clear_error();
    };

    // Versions: TLS 1.2 (or 1.3) up to 1.3, never lower (ATS blocks TLS 1.0/1.1).
    check(SSL_CTX_set_min_proto_version(c, l.min_version == config::tls_version::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION),
          "min version");
    check(SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION), "max version");

    std::vector<std::string_view> list12, list13, glist;
    for (const suite* s : names.tls12) list12.push_back(s->openssl);
    for (const suite* s : names.tls13) list13.push_back(s->openssl);
    for (const group* g : names.groups) glist.push_back(g->name);
    // An empty TLS 1.2 list would make OpenSSL fail; "" is only possible after config errors.
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
    // Stateless resumption: tickets only, no server-side session cache; one TLS 1.3 ticket.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 1);
    static constexpr unsigned char sid_ctx[] = "atsgate";
    SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);

    // Gate policy: versions, suites usable with this key, groups.
    gate_policy policy;
    policy.allow_tls12 = l.min_version == config::tls_version::v1_2;
    policy.allow_tls13 = true;
    const auth key_auth = key ? auth_of(key.get()) : auth::any;
    for (const suite* s : names.tls12)
        if ((s->authentication == key_auth) && policy.tls12_suite_count < policy.tls12_suites.size())
            policy.tls12_suites[policy.tls12_suite_count++] = s->code;
    for (const suite* s : names.tls13)
        if (policy.tls13_suite_count < policy.tls13_suites.size()) policy.tls13_suites[policy.tls13_suite_count++] = s->code;
    for (const group* g : names.groups)
        if (policy.group_count < policy.groups.size()) policy.groups[policy.group_count++] = g->code;
    if (!install_gate(c, policy) && why.empty()) why = "could not install the handshake gate";

    if (key && policy.allow_tls12 && policy.tls12_suite_count == 0 && key_auth != auth::any && diags.size() == errors_before) {
        const std::string kp = key_path_of(index, "tls12_ciphers");
        error(diags, pos_of(l, "tls12_ciphers"), kp,
              kp + " has no suite usable with the " + std::string(key_auth == auth::ecdsa ? "ECDSA" : "RSA") +
                  " certificate key",
              key_auth == auth::ecdsa ? "add ECDHE-ECDSA-* suites" : "add ECDHE-RSA-* suites");
    }

    facts.context = inspect_context(*c);

    // Certificate and key last: OpenSSL's security level may refuse them (weak key, SHA-1 ...).
    if (chain && key) {
        bool ok = true;
        auto use = [&](int r, std::string_view what) {
            if (r != 1) {
                ok = false;
                if (why.empty()) why = std::string(what) + ": " + ossl::drain_reason();
            }
            ERR_clear_error();
        };
        use(SSL_CTX_use_certificate(c, (*chain)[0].get()), "certificate");
        for (std::size_t i = 1; ok && i < chain->size(); ++i)
            use(SSL_CTX_add1_chain_cert(c, (*chain)[i].get()), "intermediate certificate");
        if (ok) use(SSL_CTX_use_PrivateKey(c, key.get()), "private key");
        if (ok) use(SSL_CTX_check_private_key(c), "private key does not match the certificate");
        if (ok && why.empty()) {
            out.context = server_context{std::move(ctx), {}};
            if (facts.chain && !facts.chain->served.empty())
                out.context->key_description = facts.chain->served.front().key_description;
        }
    }
    if (!why.empty()) facts.context_error = why;
    else if (!out.context && facts.context_error.empty())
        facts.context_error = "certificate or key could not be loaded";
    return out;
}

}  // namespace atsgate::tls
