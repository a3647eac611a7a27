#include "bench/hsload/options.hpp"

#include <openssl/tls1.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace atsgate::bench {

namespace {

struct scenario_row {
    const char* name;
    scenario value;
};
constexpr scenario_row scenarios[] = {
    {"full13", scenario::full13},       {"full12", scenario::full12},   {"resumed13", scenario::resumed13},
    {"resumed12", scenario::resumed12}, {"request", scenario::request}, {"keepalive", scenario::keepalive},
    {"idle", scenario::idle},           {"checkin", scenario::checkin}, {"checkin-full", scenario::checkin_full},
};

template <typename T>
bool parse_number(std::string_view s, T& out) {
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc{} && p == end;
}

bool parse_seconds(std::string_view s, double& out) {
    // from_chars for double is in GCC 11+; accept a trailing "s" for readability.
    if (!s.empty() && s.back() == 's') s.remove_suffix(1);
    return parse_number(s, out) && out >= 0;
}

bool split_host_port(const std::string& in, std::string& host, std::uint16_t& port) {
    std::string_view s(in);
    std::string_view h, p;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
        h = s.substr(1, close - 1);
        p = s.substr(close + 2);
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string_view::npos) return false;
        h = s.substr(0, colon);
        p = s.substr(colon + 1);
    }
    unsigned v = 0;
    if (h.empty() || !parse_number(p, v) || v == 0 || v > 65535) return false;
    host.assign(h);
    port = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace

const char* scenario_name(scenario s) noexcept {
    for (const auto& r : scenarios)
        if (r.value == s) return r.name;
    return "?";
}

bool uses_requests(scenario s) noexcept {
    return s == scenario::request || s == scenario::keepalive || s == scenario::checkin || s == scenario::checkin_full;
}
bool resumes(scenario s) noexcept { return s == scenario::resumed13 || s == scenario::resumed12 || s == scenario::checkin; }

int tls_version_of(const options& o) noexcept {
    switch (o.what) {
    case scenario::full12:
    case scenario::resumed12: return TLS1_2_VERSION;
    case scenario::full13:
    case scenario::resumed13:
    case scenario::checkin:
    case scenario::checkin_full: return TLS1_3_VERSION;
    default: return o.tls_version != 0 ? o.tls_version : TLS1_3_VERSION;
    }
}

const char* usage_text() noexcept {
    return R"(usage: hsload --connect HOST:PORT --scenario NAME --count N [options]

TLS load generator for atsgate's end-to-end benchmarks (bench/README.md). One thread, one client
SSL_CTX; N operations with C in flight; every run is bounded by --count and --duration-limit.

scenarios (one operation is ...):
  full13      a full TLS 1.3 handshake (X25519 key share), then close_notify and wait for the server's close
  full12      a full TLS 1.2 handshake offering only ECDHE AES-GCM/CHACHA20 suites and EMS, then close
  resumed13   a TLS 1.3 resumption (psk_dhe_ke) with the newest ticket of that slot, then close
              (each slot first makes one unmeasured full handshake to get a ticket). OpenSSL's
              client uses a TLS 1.3 ticket once (RFC 8446 C.4): a server that issues no new ticket
              on resumption gets a full handshake every other time, visible as the resumption rate
  resumed12   a TLS 1.2 session-ticket resumption, then close (same priming)
  request     a new TLS connection + one GET + close (the client closes after the response)
  keepalive   one GET; --requests-per-conn of them on each connection (count = requests)
  idle        a TLS connection opened and held: after all N are up, "hsload: holding N" is printed
              on stderr; they are held --hold seconds (or until SIGUSR1), then closed
  checkin     an MDM check-in as a managed device makes it after a push: TLS 1.3 resumption
              (psk_dhe_ke, priming as resumed13), one PUT of a plist (--body-size bytes, Content-Type
              application/x-apple-aspen-mdm) to --path (default /mdm/server), the response read,
              then close_notify and wait for the server's close
  checkin-full  the same with a full TLS 1.3 handshake (a device's first check-in)

options:
  --connect HOST:PORT        server address (IPv4 or [IPv6] literal)            (required)
  --scenario NAME            one of the above                                    (required)
  --count N                  operations                                          (required)
  --concurrency C            operations in flight at once                        (default 1)
  --requests-per-conn K      keepalive: requests per connection                  (default 100)
  --path /x                  request target                          (default /; checkin*: /mdm/server)
  --host NAME                SNI (unless an IP literal) and Host header          (default localhost)
  --ca FILE                  verify the chain and the name against FILE         (default: no verification)
  --tls 1.2|1.3              protocol for request, keepalive, idle               (default 1.3)
  --groups LIST              client groups, e.g. X25519:P-256                    (default: OpenSSL's)
  --timeout S                deadline of one operation                           (default 10)
  --duration-limit S         stop starting operations after S seconds           (default 60)
  --hold S                   idle: hold time                                     (default 10)
  --rate R                   open loop: start R operations per second (at most --concurrency in
                             flight); latency counts from each operation's scheduled start, so a
                             server that falls behind shows it (keepalive: not supported) (default: closed loop)
  --body-size N              checkin*: bytes of the PUT body, >= 200                (default 1024)
  --wait-signal              after setup print "hsload: ready" on stderr, start on SIGUSR1
  --json                     print one JSON object instead of text
SIGINT/SIGTERM stop the run early and still print the report.
exit: 0 every operation succeeded; 1 a failure or an unfinished run; 2 usage error
)";
}

std::optional<options> parse_options(int argc, char** argv, bool& help) {
    options o;
    help = false;
    bool have_scenario = false;
    auto fail = [](const std::string& msg) {
        std::fprintf(stderr, "hsload: %s (see hsload --help)\n", msg.c_str());
        return std::nullopt;
    };
    for (int i = 1; i < argc; ++i) {
        std::string_view arg(argv[i]);
        std::string value;
        bool have_value = false;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            value.assign(arg.substr(eq + 1));
            arg = arg.substr(0, eq);
            have_value = true;
        }
        auto next = [&]() -> bool {
            if (have_value) return true;
            if (i + 1 >= argc) return false;
            value = argv[++i];
            return true;
        };
        const std::string name(arg);
        if (arg == "--help" || arg == "-h") {
            help = true;
            std::fputs(usage_text(), stdout);
            return o;
        } else if (arg == "--json") {
            o.json = true;
        } else if (arg == "--wait-signal") {
            o.wait_signal = true;
        } else if (!next()) {
            return fail(arg.starts_with("--") ? name + " needs a value" : "unexpected argument " + name);
        } else if (arg == "--connect") {
            o.connect = value;
            if (!split_host_port(value, o.address, o.port)) return fail("--connect " + value + ": expected HOST:PORT");
        } else if (arg == "--scenario") {
            bool found = false;
            for (const auto& r : scenarios)
                if (value == r.name) o.what = r.value, found = true;
            if (!found)
                return fail("--scenario " + value +
                            ": expected full13|full12|resumed13|resumed12|request|keepalive|idle|checkin|checkin-full");
            have_scenario = true;
        } else if (arg == "--count") {
            if (!parse_number(value, o.count) || o.count == 0) return fail("--count " + value + ": expected a positive integer");
        } else if (arg == "--concurrency") {
            if (!parse_number(value, o.concurrency) || o.concurrency == 0 || o.concurrency > 100000)
                return fail("--concurrency " + value + ": expected 1..100000");
        } else if (arg == "--requests-per-conn") {
            if (!parse_number(value, o.requests_per_conn) || o.requests_per_conn == 0)
                return fail("--requests-per-conn " + value + ": expected a positive integer");
        } else if (arg == "--path") {
            if (value.empty() || value.front() != '/' || value.find_first_of(" \r\n") != std::string::npos)
                return fail("--path " + value + ": expected an origin-form target like /x");
            o.path = value;
        } else if (arg == "--host") {
            if (value.empty() || value.find_first_of(" \r\n") != std::string::npos) return fail("--host: expected a host name");
            o.host = value;
        } else if (arg == "--ca") {
            o.ca = value;
        } else if (arg == "--tls") {
            if (value == "1.2") o.tls_version = TLS1_2_VERSION;
            else if (value == "1.3") o.tls_version = TLS1_3_VERSION;
            else return fail("--tls " + value + ": expected 1.2 or 1.3");
        } else if (arg == "--groups") {
            o.groups = value;
        } else if (arg == "--timeout") {
            if (!parse_seconds(value, o.timeout_s) || o.timeout_s <= 0) return fail("--timeout " + value + ": expected seconds > 0");
        } else if (arg == "--duration-limit") {
            if (!parse_seconds(value, o.duration_limit_s) || o.duration_limit_s <= 0)
                return fail("--duration-limit " + value + ": expected seconds > 0");
        } else if (arg == "--rate") {
            if (!parse_number(value, o.rate) || !(o.rate > 0)) return fail("--rate " + value + ": expected operations per second > 0");
        } else if (arg == "--body-size") {
            if (!parse_number(value, o.body_size) || o.body_size < 200 || o.body_size > 1024 * 1024)
                return fail("--body-size " + value + ": expected 200..1048576");
        } else if (arg == "--hold") {
            if (!parse_seconds(value, o.hold_s)) return fail("--hold " + value + ": expected seconds");
        } else {
            return fail("unknown option " + name);
        }
    }
    if (o.connect.empty()) return fail("--connect is required");
    if (!have_scenario) return fail("--scenario is required");
    if (o.count == 0) return fail("--count is required");
    if (o.rate > 0 && (o.what == scenario::keepalive || o.what == scenario::idle))
        return fail("--rate: not supported with --scenario keepalive or idle");
    if (o.path.empty()) o.path = (o.what == scenario::checkin || o.what == scenario::checkin_full) ? "/mdm/server" : "/";
    return o;
}

}  // namespace atsgate::bench
