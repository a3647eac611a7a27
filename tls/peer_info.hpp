#pragma once
// What an established TLS session says about the peer: protocol version, cipher suite, key
// exchange group, whether it resumed, and the client certificate in the forms a backend wants it
// (the identity header: URL-escaped PEM or RFC 9440; the SHA-256 fingerprint for sticky routing).
// Read once per connection right after the handshake; a resumed session carries the certificate
// too. Plain value type: no OpenSSL object is kept. The encoders are pure functions of a
// certificate, so they are unit-tested without a socket.

#include "config/config.hpp"

#include <openssl/ssl.h>

#include <string>

namespace atsgate::tls {

// OpenSSL's spelling of a protocol version, as SSL_get_version() prints it and the logs show it:
// 0x0303 -> "TLSv1.2"; 0 -> "none"; anything else -> "unknown". Static strings.
const char* version_name(int version) noexcept;
// The spelling reports use: 0x0303 -> "TLS 1.2", 0x0300 -> "SSL 3.0", otherwise "0x%04x".
std::string version_label(int version);

// URL-escaped PEM of `cert`, as nginx's $ssl_client_escaped_cert and NanoMDM's -cert-header expect:
// every byte outside RFC 3986's unreserved set is %XX (so '+' survives QueryUnescape). "" when
// OpenSSL fails (its error queue is cleared).
std::string escaped_pem(X509& cert);
// RFC 9440 section 2: Client-Cert is a structured-field byte sequence ":" base64(DER) ":".
// "" when OpenSSL fails.
std::string rfc9440(X509& cert);
// Lower-case hex SHA-256 of the DER certificate (64 characters). "" when OpenSSL fails.
std::string sha256_fingerprint(X509& cert);

struct peer_info {
    const char* version = "plaintext";  // "TLSv1.3" (OpenSSL's static string) or "plaintext"
    const char* cipher = "-";           // OpenSSL suite name, "-" on plaintext
    const char* group = "-";            // key exchange group ("X25519"), "-" when none or unknown
    bool resumed = false;               // the handshake resumed a session
    std::string identity;     // client certificate in the listener's header format, "" when none
    std::string fingerprint;  // SHA-256 of the client certificate, "" when none

    // The facts of a completed server-side handshake on `ssl`. The client certificate is read only
    // when `read_client_cert` (the listener asks for one); `format` chooses the identity encoding.
    static peer_info of(SSL& ssl, bool read_client_cert, config::client_cert_format format);
};

}  // namespace atsgate::tls
