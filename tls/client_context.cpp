#include "tls/client_context.hpp"

#include <openssl/tls1.h>

#include <string>

namespace atsgate::tls {

ossl::ptr<SSL_CTX> build_upstream_tls(const config::upstream& u, config::diagnostics& diags) {
    auto fail = [&](const char* key, std::string message) {
        auto [where, kp] = config::origin_of(u, key);
        diags.push_back(config::diagnostic{config::severity::error, std::move(where), kp, kp + ": " + std::move(message), {}});
        return ossl::ptr<SSL_CTX>{};
    };
    auto ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return fail("url", "cannot create a TLS context: " + ossl::drain_errors());
    SSL_CTX* c = ctx.get();

    int min = TLS1_2_VERSION;
    switch (u.tls_min_version) {
        case config::tls_version_any::v1_0: min = TLS1_VERSION; break;
        case config::tls_version_any::v1_1: min = TLS1_1_VERSION; break;
        case config::tls_version_any::v1_2: min = TLS1_2_VERSION; break;
        case config::tls_version_any::v1_3: min = TLS1_3_VERSION; break;
    }
    // TLS 1.0/1.1 need security level 0 in OpenSSL 3 (SHA-1 handshake signatures).
    if (min < TLS1_2_VERSION) SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_min_proto_version(c, min);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    if (!u.tls_ciphers.empty()) {
        const std::string list = min < TLS1_2_VERSION ? u.tls_ciphers + ":@SECLEVEL=0" : u.tls_ciphers;
        if (SSL_CTX_set_cipher_list(c, list.c_str()) != 1)
            return fail("tls_ciphers", "OpenSSL refuses \"" + u.tls_ciphers + "\": " + ossl::drain_reason());
    } else if (min < TLS1_2_VERSION) {
        SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0");
    }
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_read_ahead(c, 1);

    if (u.tls_verify) {
        if (!u.tls_ca.empty()) {
            if (SSL_CTX_load_verify_file(c, u.tls_ca.c_str()) != 1)
                return fail("tls_ca", "cannot load \"" + u.tls_ca + "\": " + ossl::drain_reason());
        } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
            return fail("tls_verify", "cannot load the system trust store: " + ossl::drain_reason());
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    }
    ERR_clear_error();
    return ctx;
}

}  // namespace atsgate::tls
