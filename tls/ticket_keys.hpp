#pragma once
// Session ticket keys for stateless resumption (RFC 5077 / RFC 8446 section 4.6.1), shared by all
// workers of a listener. The newest key encrypts new tickets; older keys still decrypt (and ask for
// a fresh ticket), so a rotation never invalidates the tickets devices hold right now.
//
// Keys are either random (generated here, rotated every ticket_key_rotation on the control
// thread) or read from a file that several replicas share (nginx's ssl_session_ticket_key format:
// 80 bytes per key = 16-byte name + 32-byte HMAC secret + 32-byte AES-256 key; several keys
// concatenated, the first encrypts; create one with `openssl rand 80 > ticket.key`), re-read on
// reload. Tickets are AES-256-CBC + HMAC-SHA256, as OpenSSL's own.
//
// Cost per ticket (issue 15, callgrind): each key carries an HMAC context keyed once when the key
// is made, which the callback copies into OpenSSL's (HMAC_CTX_copy). OpenSSL 3.0's EVP_MAC
// callback would instead fetch the HMAC and the SHA-256 implementations by name and key the MAC
// again on every ticket issued or decrypted; hence the (deprecated, still supported) HMAC_CTX
// callback, SSL_CTX_set_tlsext_ticket_key_cb.
//
// Thread-safety: the key set is published atomically (std::atomic<std::shared_ptr>); handshakes on
// any worker read it, only the control thread replaces it.

#include "tls/ossl.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace atsgate::tls {

class ticket_keys {
public:
    struct key {
        std::array<unsigned char, 16> name{};
        std::array<unsigned char, 32> hmac{};
        std::array<unsigned char, 32> aes{};
    };
    static constexpr std::size_t max_keys = 4;  // random keys kept: current + 3 previous

    // Random keys, one generated now.
    ticket_keys();

    // Replaces the keys with those in `path` (control thread). Returns false with `why` (the file is
    // unreadable, empty or not a multiple of 80 bytes); the current keys stay then.
    bool load_file(const std::string& path, std::string& why);
    // Adds a new random current key, keeping up to max_keys - 1 previous ones (control thread).
    void rotate();
    // When the current random key was made (for the rotation schedule).
    std::chrono::steady_clock::time_point created() const noexcept { return created_.load(); }
    bool from_file() const noexcept { return from_file_.load(); }

    // Installs the ticket callback on `ctx` (each context of a listener), referencing this object
    // (the caller keeps it alive at least as long as the context: the snapshot owns both).
    void install(SSL_CTX* ctx);

    // The OpenSSL callback (SSL_CTX_set_tlsext_ticket_key_cb). Returns 1 ok, 2 ok + renew,
    // 0 unknown key (full handshake), -1 error.
    static int callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        HMAC_CTX* mac, int enc);

private:
    // A key with its HMAC-SHA256 context keyed once (read-only afterwards: copied per ticket).
    struct prepared {
        key k;
        ossl::ptr<HMAC_CTX> mac;
    };
    using keyset = std::vector<std::shared_ptr<const prepared>>;
    // Null when OpenSSL cannot allocate or key the context (the callback then refuses tickets).
    static std::shared_ptr<const prepared> prepare(const key& k);
    std::atomic<std::shared_ptr<const keyset>> keys_;
    std::atomic<std::chrono::steady_clock::time_point> created_;
    std::atomic<bool> from_file_{false};
};

}  // namespace atsgate::tls
