#pragma once
// The probe's TLS client: one connection per attempt, configured like a device would be
// (ats_config) or as permissively as OpenSSL allows (permissive_config), its records moved through
// memory BIOs over the blocking sockets (blocking_io.hpp) so that every step keeps the caller's
// deadline. What the handshake showed goes into handshake_facts (facts.hpp).

#include "proxy/probe/blocking_io.hpp"
#include "proxy/probe/facts.hpp"
#include "tls/ossl.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace atsgate::probe::blocking {

// One attempt's client configuration.
struct client_config {
    std::string label;            // for messages
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string cipher_list;      // TLS 1.2 and below, OpenSSL syntax
    std::string ciphersuites;     // TLS 1.3
    std::string groups;           // "" = OpenSSL's default list
    std::string sigalgs;          // "" = OpenSSL's default list
    bool alpn = false;            // offer ALPN http/1.1
    bool legacy_server = false;   // SSL_OP_LEGACY_SERVER_CONNECT (old servers without RFC 5746)
};

// What an Apple device offers by default: TLS 1.2-1.3, the ATS suites, groups X25519/P-256/P-384,
// SHA-256+ signature algorithms, EMS (OpenSSL clients always offer it), SNI and ALPN http/1.1.
client_config ats_config(int min_v = TLS1_2_VERSION, int max_v = TLS1_3_VERSION);

// Anything the client library can do, for "does the server speak version V at all".
client_config permissive_config(int version);

// A TLS client connection whose records go through memory BIOs; all socket I/O happens here with
// the caller's deadline. Not thread-safe; one per attempt.
class tls_connection {
public:
    // Connects to `a` and handshakes with `c`. Fills `out` (attempted, ok, version, ...).
    // `chain`, when non-null, receives the peer's chain (leaf first) on success.
    bool open(const address& a, const std::string& sni, const client_config& c, clock::time_point deadline,
              handshake_facts& out, std::vector<ossl::ptr<X509>>* chain);

    io write_all(std::string_view data, clock::time_point deadline, std::string& error);

    io read_some(std::string& out, clock::time_point deadline, std::string& error);

    ~tls_connection();

private:
    bool build(const std::string& sni, const client_config& c, std::string& error);

    // Moves whatever OpenSSL produced from the write BIO to the socket.
    io flush(clock::time_point deadline, std::string& error);

    // Moves bytes from the socket into the read BIO (marks EOF there when the server closed).
    io fill(clock::time_point deadline, std::string& error);

    bool handshake(clock::time_point deadline, handshake_facts& out);

    fd_guard fd_;
    ossl::ptr<SSL> ssl_;
    BIO* rbio_ = nullptr;  // owned by ssl_
    BIO* wbio_ = nullptr;  // owned by ssl_
    int alert_ = -1;
    bool eof_ = false;
};

}  // namespace atsgate::probe::blocking
