#pragma once
// In-memory TLS handshakes: a client SSL and a server SSL connected by a BIO pair, driven in one
// thread until both finish or one fails. Used by unit tests (handshake gate, server context) and by
// bench/bench_handshake.cpp, so both exercise the real server context without sockets. Also the
// ClientHello a client context writes, for tests that send one by hand.

#include "tls/ossl.hpp"

#include <functional>
#include <stdexcept>
#include <string>

namespace atsgate::test {

struct handshake_outcome {
    bool client_ok = false;
    bool server_ok = false;
    int alert_received_by_client = -1;  // TLS alert description the client read, -1 if none
    std::string client_error;           // OpenSSL error text on failure
    std::string server_error;
    std::string version;                // negotiated protocol ("TLSv1.3"), "" on failure
    std::string cipher;                 // negotiated suite (OpenSSL name)
    bool ems = false;                   // extended master secret negotiated (TLS 1.2)
    bool resumed = false;
};

// Creates client/server SSL objects from the two contexts, connects them in memory and runs the
// handshake (plus, for TLS 1.3, one round of application data so session tickets are processed).
// `session`: optional session to resume on the client. `out_session`: receives the client's
// session afterwards when non-null. `prepare_server` runs on the server SSL before the handshake
// (e.g. to attach a tls::handshake_record); `inspect_server` runs on it after a successful
// handshake (e.g. to read what the session says about the peer). Never throws; drains OpenSSL
// errors into the outcome.
handshake_outcome run_handshake(SSL_CTX& client_ctx, SSL_CTX& server_ctx, SSL_SESSION* session = nullptr,
                                ossl::ptr<SSL_SESSION>* out_session = nullptr, const char* sni = "localhost",
                                const std::function<void(SSL& server)>& prepare_server = {},
                                const std::function<void(SSL& server)>& inspect_server = {});

// The bytes of the first flight (the ClientHello) a client made from `client_ctx` writes, with SNI
// `sni` (none when null), captured through memory BIOs: for tests that send a real ClientHello
// over a raw socket, or rewrite one. Throws std::runtime_error (with OpenSSL's error queue) if
// the client does not stop to wait for the ServerHello with its ClientHello written.
std::string client_hello(SSL_CTX& client_ctx, const char* sni = "localhost");

}  // namespace atsgate::test
