#pragma once
// Facts gathered about one probe target: plain data, filled by gather.cpp (the only part that
// touches sockets and OpenSSL) and judged by judge.cpp (pure). Tests build them by hand.

#include "proxy/probe/target.hpp"
#include "tls/audit.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::probe {

// One TLS handshake attempt with one client configuration.
struct handshake_facts {
    bool attempted = false;      // false: skipped, see `skipped`
    std::string skipped;         // why it was not attempted ("" when attempted)
    bool ok = false;             // the handshake completed
    bool timed_out = false;      // the deadline passed (connect or handshake)
    int version = 0;             // negotiated version (TLS1_2_VERSION, ...) when ok
    std::string cipher;          // OpenSSL name of the negotiated suite when ok
    std::string group;           // key-exchange group when ok ("X25519"), "" if none/unknown
    std::string alpn;            // negotiated ALPN protocol, "" if none
    bool ems = false;            // TLS 1.2 and below: extended master secret negotiated
    int alert = -1;              // TLS alert description received from the server, -1 none
    std::string error;           // why it failed (OpenSSL reason, alert, socket error), "" when ok
};

// One cipher suite tried on its own (suite enumeration).
struct suite_result {
    std::string name;            // OpenSSL name (tls::suite::openssl)
    bool tls13 = false;
    handshake_facts hs;          // ok: the server accepted it
};

// The plain-HTTP port of the same host (default 80).
struct plaintext_facts {
    bool checked = false;
    std::uint16_t port = 80;
    bool open = false;           // a TCP connection was accepted
    std::string connect_error;   // "connection refused", "timed out", ...
    bool responded = false;      // an HTTP response head was received
    int status = 0;
    std::string location;        // Location header, "" if none
    std::string error;           // open but no valid HTTP response: why
};

// The HTTPS request to the target URL and any redirects followed.
struct redirect_hop {
    std::string url;             // requested
    int status = 0;              // response status, 0 if no response
    std::string location;        // resolved Location, "" if none
    std::string error;           // no response: why
};
struct redirect_facts {
    bool checked = false;        // a request was sent (a TLS connection existed)
    std::string not_checked;     // why not
    std::vector<redirect_hop> hops;
    bool limit_reached = false;  // stopped after the maximum number of hops
    bool loop = false;           // a URL repeated
};

struct target_facts {
    target tgt;
    std::string input;           // as given (URL, host:port, profile URL)
    std::string source;          // where it came from: "command line", "FILE:LINE", "PROFILE: key path"
    std::string sni;             // server_name sent ("" = none, IP literal without --sni)
    std::string hostname;        // name checked against the SAN (SNI, or the IP literal)

    // Reachability
    std::vector<std::string> resolved;  // addresses DNS returned, textual
    std::string resolve_error;          // non-empty: name resolution failed
    std::string address;                // "127.0.0.1:443" a TCP connection succeeded to; "" if none
    std::string connect_error;
    std::int64_t connect_ms = -1;

    // Protocol versions, each probed on its own with a permissive client (any suite, security level 0).
    handshake_facts tls10, tls11, tls12, tls13;
    // The ATS default connection (TLS 1.2-1.3, Apple's suites, groups and signature algorithms,
    // EMS, SNI, ALPN http/1.1) and the nscurl-style variants.
    handshake_facts ats_default;
    handshake_facts ats_tls13;     // ATS settings, TLS 1.3 only
    handshake_facts ats_tls12;     // ATS settings, TLS 1.2 only
    handshake_facts tls12_no_pfs;  // TLS 1.2 with the ATS suites plus static-RSA suites
    // Every ATS suite on its own (tls::suites order); empty when enumeration was skipped.
    std::vector<suite_result> suites;
    std::string suites_skipped;
    // Non-forward-secret TLS 1.2 suites the server accepted (enumerated by exclusion).
    bool non_pfs_checked = false;
    std::string non_pfs_skipped;
    std::vector<std::string> non_pfs_accepted;

    // The served chain as tls::audit consumes it (kind "probe", no key); nullopt: no chain at all.
    std::optional<tls::endpoint_facts> endpoint;
    std::string chain_source;    // "" = the ATS default connection; else "TLS 1.0 connection", ...

    plaintext_facts plaintext;
    redirect_facts redirect;
};

}  // namespace atsgate::probe
