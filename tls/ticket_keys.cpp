// The legacy (HMAC_CTX) ticket callback is deprecated in OpenSSL 3.0; this file uses it on
// purpose (ticket_keys.hpp says why), so its deprecation warnings are off here only.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/tls1.h>

#include <cstdio>
#include <cstring>

namespace atsgate::tls {

namespace {

int ex_index() noexcept {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

// Fetched once. With the legacy EVP_aes_256_cbc() handle, OpenSSL 3 fetches the implementation
// again (provider lookup, locks, name compares) in every EVP_{En,De}cryptInit_ex, i.e. per ticket.
const EVP_CIPHER* ticket_cipher() noexcept {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);  // process lifetime
    return cipher;
}

bool random_key(ticket_keys::key& k) {
    return RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) == 1 &&
           RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) == 1 &&
           RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) == 1;
}

// Fetched once, like the cipher: keying a template with it involves no name lookup.
const EVP_MD* ticket_digest() noexcept {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // process lifetime
    return md;
}

}  // namespace

std::shared_ptr<const ticket_keys::prepared> ticket_keys::prepare(const key& k) {
    auto p = std::make_shared<prepared>();
    p->k = k;
    p->mac = ossl::own(HMAC_CTX_new());
    const EVP_MD* md = ticket_digest();
    if (!p->mac || md == nullptr ||
        HMAC_Init_ex(p->mac.get(), k.hmac.data(), static_cast<int>(k.hmac.size()), md, nullptr) != 1) {
        ERR_clear_error();
        p->mac.reset();
    }
    return p;
}

ticket_keys::ticket_keys() {
    key k;
    if (!random_key(k)) ERR_clear_error();  // RAND failing is fatal elsewhere long before this
    keys_.store(std::make_shared<const keyset>(keyset{prepare(k)}));
    created_.store(std::chrono::steady_clock::now());
}

bool ticket_keys::load_file(const std::string& path, std::string& why) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        why = "cannot read " + path;
        return false;
    }
    std::vector<unsigned char> data;
    unsigned char buf[512];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() <= 80 * 64) data.insert(data.end(), buf, buf + n);
    std::fclose(f);
    if (data.empty() || data.size() % 80 != 0 || data.size() > 80 * 64) {
        why = path + ": must hold one or more 80-byte keys (" + std::to_string(data.size()) +
              " bytes read); create one with: openssl rand 80 > " + path;
        return false;
    }
    keyset ks;
    for (std::size_t off = 0; off < data.size(); off += 80) {
        key k;  // nginx order: name, HMAC secret, AES key
        std::memcpy(k.name.data(), data.data() + off, 16);
        std::memcpy(k.hmac.data(), data.data() + off + 16, 32);
        std::memcpy(k.aes.data(), data.data() + off + 48, 32);
        ks.push_back(prepare(k));
        OPENSSL_cleanse(&k, sizeof k);
    }
    OPENSSL_cleanse(data.data(), data.size());
    keys_.store(std::make_shared<const keyset>(std::move(ks)));
    from_file_.store(true);
    created_.store(std::chrono::steady_clock::now());
    return true;
}

void ticket_keys::rotate() {
    const auto old = keys_.load();
    keyset ks;
    key k;
    if (!random_key(k)) {
        ERR_clear_error();
        return;
    }
    ks.push_back(prepare(k));
    OPENSSL_cleanse(&k, sizeof k);
    for (std::size_t i = 0; i < old->size() && ks.size() < max_keys; ++i) ks.push_back((*old)[i]);
    keys_.store(std::make_shared<const keyset>(std::move(ks)));
    created_.store(std::chrono::steady_clock::now());
}

void ticket_keys::install(SSL_CTX* ctx) {
    SSL_CTX_set_ex_data(ctx, ex_index(), this);
    SSL_CTX_set_tlsext_ticket_key_cb(ctx, &ticket_keys::callback);
}

int ticket_keys::callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                          HMAC_CTX* mac, int enc) {
    // Tickets are handled by the context the connection started with (SSL_CTX of SSL_new), whose
    // ex-data points here; SNI may have switched the certificate context since, with the same keys.
    auto* self = static_cast<ticket_keys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
    if (self == nullptr) return -1;
    const auto ks = self->keys_.load();
    const EVP_CIPHER* aes = ticket_cipher();
    if (ks->empty() || aes == nullptr) return -1;
    // (HMAC_CTX_copy only reads the template, so workers may copy the same one at once.)
    if (enc == 1) {
        const prepared& p = *ks->front();
        const key& k = p.k;
        if (!p.mac || RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1) return -1;
        std::memcpy(key_name, k.name.data(), k.name.size());
        if (EVP_EncryptInit_ex(cipher, aes, nullptr, k.aes.data(), iv) != 1) return -1;
        return HMAC_CTX_copy(mac, p.mac.get()) == 1 ? 1 : -1;
    }
    for (std::size_t i = 0; i < ks->size(); ++i) {
        const prepared& p = *(*ks)[i];
        const key& k = p.k;
        if (std::memcmp(key_name, k.name.data(), k.name.size()) != 0) continue;
        if (!p.mac || EVP_DecryptInit_ex(cipher, aes, nullptr, k.aes.data(), iv) != 1) return -1;
        if (HMAC_CTX_copy(mac, p.mac.get()) != 1) return -1;
        // An older key: accept and issue a ticket under the current one. TLS 1.3: always renew, since
        // clients use a ticket once (RFC 8446 appendix C.4) and would otherwise fall back to a full
        // handshake every other time; OpenSSL sends no ticket after a resumption unless asked.
        return (i == 0 && SSL_version(ssl) != TLS1_3_VERSION) ? 1 : 2;
    }
    return 0;  // unknown key: full handshake
}

}  // namespace atsgate::tls
