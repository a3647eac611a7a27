#pragma once
// hsload's command line: what to run, against what, and the bounds of the run.

#include <cstdint>
#include <optional>
#include <string>

namespace atsgate::bench {

// What one operation is (see usage_text() for the exact definitions).
enum class scenario {
    full13,     // full TLS 1.3 handshake, then close
    full12,     // full TLS 1.2 handshake (ECDHE suites, EMS offered), then close
    resumed13,  // TLS 1.3 resumption (psk_dhe_ke) with the slot's newest ticket, then close
    resumed12,  // TLS 1.2 ticket resumption, then close
    request,    // new TLS connection + one GET + close
    keepalive,  // one GET; requests_per_conn of them share a connection
    idle,       // a TLS connection established and held open
    checkin,       // MDM check-in: TLS 1.3 resumption + one PUT of a ~1 KiB plist + close
    checkin_full,  // the same with a full TLS 1.3 handshake (a device's first check-in)
};

struct options {
    std::string connect;              // --connect HOST:PORT (IPv4 or [IPv6] literal)
    std::string address;              // parsed from connect
    std::uint16_t port = 0;           // parsed from connect
    scenario what = scenario::full13; // --scenario
    std::uint64_t count = 0;          // --count: operations to run (required)
    unsigned concurrency = 1;         // --concurrency: operations in flight at once
    unsigned requests_per_conn = 100; // --requests-per-conn (keepalive)
    std::string path;                 // --path: request target (default / ; checkin*: /mdm/server)
    std::string host = "localhost";   // --host: SNI (unless an IP literal) and Host header
    std::string ca;                   // --ca: verify the server chain and name against this bundle
    double duration_limit_s = 60;     // --duration-limit: hard bound on the run (hold excluded)
    double hold_s = 10;               // --hold: idle: how long to hold the connections
    double timeout_s = 10;            // --timeout: per-operation deadline
    int tls_version = 0;              // --tls 1.2|1.3: request/keepalive/idle (default 1.3)
    std::string groups;               // --groups: client key-exchange groups (OpenSSL list)
    bool json = false;                // --json: one JSON object on stdout instead of text
    bool wait_signal = false;         // --wait-signal: setup, print "hsload: ready", wait for SIGUSR1
    double rate = 0;                  // --rate: operations started per second (open loop); 0 = closed loop
    std::size_t body_size = 1024;     // --body-size: checkin*: bytes of the PUT's plist body
};

const char* scenario_name(scenario s) noexcept;
bool uses_requests(scenario s) noexcept;  // request, keepalive, checkin, checkin_full
bool resumes(scenario s) noexcept;        // resumed13, resumed12, checkin
// TLS version the scenario negotiates (TLS1_2_VERSION / TLS1_3_VERSION) under `o`.
int tls_version_of(const options& o) noexcept;

// Parses argv. On error returns nullopt after printing the message (exit 2); on --help prints the
// usage and sets `help`.
std::optional<options> parse_options(int argc, char** argv, bool& help);
const char* usage_text() noexcept;

}  // namespace atsgate::bench
