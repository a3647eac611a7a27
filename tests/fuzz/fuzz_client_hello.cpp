// Fuzz target: the handshake gate inside OpenSSL: raw client bytes (TLS records carrying a
// ClientHello) go to SSL_accept() on a context with the gate installed, so extract_client_hello()
// and the SNI lookup parse the extensions a hostile client wrote (supported_versions,
// supported_groups, server_name, extended_master_secret).
//
// Input: the bytes a client sends first (seeds: ClientHellos of openssl s_client, TLS 1.0 to 1.3,
// with and without SNI / EMS).
// The context has two SNI groups ("mdm.example.com" -> group 0, "*.example.net" -> group 1 with a
// TLS 1.3-only policy) and refuses unknown names. Checks, when the gate saw a ClientHello:
// - the recorded refusal is what decide() says for the recorded facts under one of the two
//   policies, or unknown_sni;
// - the recorded SNI is NUL-terminated and printable; version facts are consistent
//   (offers_tls13 => max_version is TLS 1.3);
// and in every case the OpenSSL error queue is left for the caller to clear (no crash, no leak).

#include "fuzz_check.hpp"

#include "tls/handshake_gate.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

namespace tls = atsgate::tls;

namespace {

tls::gate_policy make_policy(bool tls12) {
    tls::gate_policy p;
    p.allow_tls12 = tls12;
    p.allow_tls13 = true;
    const std::uint16_t s12[] = {0xC02B, 0xC02C, 0xC02F, 0xC030};  // ECDHE-{ECDSA,RSA}-AES{128,256}-GCM
    for (std::uint16_t s : s12) p.tls12_suites[p.tls12_suite_count++] = s;
    const std::uint16_t s13[] = {0x1301, 0x1302, 0x1303};
    for (std::uint16_t s : s13) p.tls13_suites[p.tls13_suite_count++] = s;
    const std::uint16_t groups[] = {0x001D, 0x0017, 0x0018};  // X25519, P-256, P-384
    for (std::uint16_t g : groups) p.groups[p.group_count++] = g;
    return p;
}

const tls::gate_policy policy0 = make_policy(true);
const tls::gate_policy policy1 = make_policy(false);

SSL_CTX* make_context() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    FUZZ_CHECK(ctx != nullptr, "SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    tls::gate_config cfg;
    cfg.groups.push_back(tls::sni_group{{}, policy0});
    atsgate::ossl::ptr<SSL_CTX> second(SSL_CTX_new(TLS_server_method()));
    FUZZ_CHECK(second != nullptr, "SSL_CTX_new");
    cfg.groups.push_back(tls::sni_group{std::move(second), policy1});
    cfg.exact.push_back(tls::sni_name{"mdm.example.com", 0});
    cfg.wildcard.push_back(tls::sni_name{"example.net", 1});
    cfg.refuse_unknown_sni = true;
    FUZZ_CHECK(tls::install_gate(ctx, std::move(cfg)), "install_gate");
    return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static SSL_CTX* const ctx = make_context();
    if (size > 64 * 1024) return 0;

    SSL* ssl = SSL_new(ctx);
    FUZZ_CHECK(ssl != nullptr, "SSL_new");
    BIO* in = BIO_new_mem_buf(data, static_cast<int>(size));
    BIO* out = BIO_new(BIO_s_mem());
    FUZZ_CHECK(in != nullptr && out != nullptr, "BIO_new");
    BIO_set_mem_eof_return(in, -1);  // like a socket with nothing more to read: want-read, not EOF
    SSL_set_bio(ssl, in, out);       // ssl owns both
    tls::handshake_record rec;
    tls::set_handshake_record(ssl, &rec);
    SSL_set_accept_state(ssl);
    for (int i = 0; i < 4; ++i) {
        const int r = SSL_do_handshake(ssl);
        if (r == 1) break;
        const int e = SSL_get_error(ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) break;
    }

    if (rec.hello_seen) {
        const auto& h = rec.hello;
        FUZZ_CHECK(std::memchr(h.sni.data(), '\0', h.sni.size()) != nullptr, "SNI not NUL-terminated");
        for (std::size_t i = 0; i < h.sni.size() && h.sni[i] != '\0'; ++i)
            FUZZ_CHECK(h.sni[i] >= 0x21 && h.sni[i] < 0x7f, "unprintable SNI byte 0x%02x",
                       static_cast<unsigned char>(h.sni[i]));
        if (h.offers_tls13) FUZZ_CHECK(h.max_version == TLS1_3_VERSION, "offers 1.3 but max_version %04x", h.max_version);
        if (!h.supported_versions_ext)
            FUZZ_CHECK(!h.offers_tls13 && h.max_version == h.legacy_version, "version facts without the extension");
        const auto d0 = tls::decide(h, policy0);
        const auto d1 = tls::decide(h, policy1);
        FUZZ_CHECK(rec.reason == d0.reason || rec.reason == d1.reason ||
                       (rec.reason == tls::refusal::unknown_sni && (d0.reason == tls::refusal::none)),
                   "recorded refusal %d, decide() says %d / %d", static_cast<int>(rec.reason),
                   static_cast<int>(d0.reason), static_cast<int>(d1.reason));
    }
    SSL_free(ssl);
    ERR_clear_error();
    return 0;
}
