// hsload: TLS handshake and proxy load generator for atsgate's end-to-end benchmarks
// (bench/README.md; bench/compare drives it against atsgate, nginx and HAProxy).
// Usage: hsload --help. Asio + OpenSSL only; one io_context thread (the load is pinned to one CPU).

#include "bench/hsload/engine.hpp"
#include "bench/hsload/options.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>

#include <openssl/ssl.h>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>

using namespace atsgate::bench;

namespace {

// ATS-compliant offers, in the order Apple clients send them (AES-128-GCM first).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* tls13_suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// Builds the one client context of the run. Returns null after printing why.
atsgate::ossl::ptr<SSL_CTX> make_client_ctx(const options& o) {
    auto ctx = atsgate::ossl::own(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        std::fprintf(stderr, "hsload: SSL_CTX_new: %s\n", atsgate::ossl::drain_errors().c_str());
        return nullptr;
    }
    SSL_CTX* c = ctx.get();
    const int v = tls_version_of(o);
    SSL_CTX_set_min_proto_version(c, v);
    SSL_CTX_set_max_proto_version(c, v);
    // EMS is offered by default; make sure nothing turned it off (ATS requires it on TLS 1.2).
    SSL_CTX_clear_options(c, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    // A TCP EOF ends a close-delimited body like a close_notify would.
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(c, 1);  // one read() per flight instead of header + body
    bool ok = SSL_CTX_set_cipher_list(c, tls12_ciphers) == 1 && SSL_CTX_set_ciphersuites(c, tls13_suites) == 1;
    if (ok && !o.groups.empty()) ok = SSL_CTX_set1_groups_list(c, o.groups.c_str()) == 1;
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    if (ok) ok = SSL_CTX_set_alpn_protos(c, alpn, sizeof alpn) == 0;  // 0 = success here
    if (!ok) {
        std::fprintf(stderr, "hsload: client TLS settings refused (--groups %s?): %s\n", o.groups.c_str(),
                     atsgate::ossl::drain_errors().c_str());
        return nullptr;
    }
    if (!o.ca.empty()) {
        if (SSL_CTX_load_verify_locations(c, o.ca.c_str(), nullptr) != 1) {
            std::fprintf(stderr, "hsload: --ca %s: %s\n", o.ca.c_str(), atsgate::ossl::drain_errors().c_str());
            return nullptr;
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    }
    // Sessions reach us through the callback only (no internal client cache).
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, &engine::on_new_session);
    return ctx;
}

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

struct percentiles {
    double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

percentiles compute(std::vector<std::uint64_t>& v) {
    percentiles p;
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        // nearest rank
        const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
        return static_cast<double>(v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)]) / 1e3;
    };
    p.p50 = at(0.50);
    p.p90 = at(0.90);
    p.p99 = at(0.99);
    p.max = static_cast<double>(v.back()) / 1e3;
    long double sum = 0;
    for (auto x : v) sum += static_cast<long double>(x);
    p.mean = static_cast<double>(sum / static_cast<long double>(v.size())) / 1e3;
    return p;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            out += buf;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out + "\"";
}

constexpr const char* failure_names[failure_kinds] = {"connect", "handshake", "http_status", "timeout", "io"};

void print_json(const options& o, results& r, const percentiles& p) {
    const double ops_s = r.wall_s > 0 ? static_cast<double>(r.ok) / r.wall_s : 0;
    std::string j = "{\"tool\":\"hsload\",\"version\":1";
    j += ",\"scenario\":" + json_string(scenario_name(o.what));
    j += ",\"target\":" + json_string(o.connect);
    j += ",\"host\":" + json_string(o.host);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  ",\"count\":%llu,\"concurrency\":%u,\"requests_per_conn\":%u,\"rate\":%.1f,\"started\":%llu,\"ok\":%llu,"
                  "\"failed\":%llu,\"stopped\":%llu,\"not_started\":%llu",
                  static_cast<unsigned long long>(o.count), o.concurrency, o.requests_per_conn, o.rate,
                  static_cast<unsigned long long>(r.started), static_cast<unsigned long long>(r.ok),
                  static_cast<unsigned long long>(r.failed()), static_cast<unsigned long long>(r.stopped),
                  static_cast<unsigned long long>(o.count - std::min(o.count, r.started)));
    j += buf;
    j += ",\"failures\":{";
    for (std::size_t i = 0; i < failure_kinds; ++i) {
        std::snprintf(buf, sizeof buf, "%s\"%s\":%llu", i ? "," : "", failure_names[i],
                      static_cast<unsigned long long>(r.failures[i]));
        j += buf;
    }
    j += "}";
    std::snprintf(buf, sizeof buf,
                  ",\"wall_s\":%.6f,\"ops_per_s\":%.1f,\"client_cpu_s\":%.6f,"
                  "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"mean\":%.1f}",
                  r.wall_s, ops_s, r.client_cpu_s, p.p50, p.p90, p.p99, p.max, p.mean);
    j += buf;
    std::snprintf(buf, sizeof buf,
                  ",\"handshakes\":%llu,\"resumed\":%llu,\"resumption_rate\":%s,\"primed\":%llu,\"prime_failures\":%llu,"
                  "\"connections_closed\":%llu,\"tickets_per_connection\":%s,\"close_timeouts\":%llu,\"held\":%llu,"
                  "\"duration_limit_hit\":%s,\"interrupted\":%s,\"complete\":%s",
                  static_cast<unsigned long long>(r.handshakes), static_cast<unsigned long long>(r.resumed),
                  r.handshakes ? std::to_string(static_cast<double>(r.resumed) / static_cast<double>(r.handshakes)).c_str() : "null",
                  static_cast<unsigned long long>(r.primed), static_cast<unsigned long long>(r.prime_failures),
                  static_cast<unsigned long long>(r.connections_closed),
                  r.connections_closed ? std::to_string(static_cast<double>(r.tickets) / static_cast<double>(r.connections_closed)).c_str() : "null",
                  static_cast<unsigned long long>(r.close_timeouts), static_cast<unsigned long long>(r.held),
                  r.duration_limit_hit ? "true" : "false", r.interrupted ? "true" : "false", r.ok == o.count ? "true" : "false");
    j += buf;
    j += ",\"negotiated\":";
    if (r.neg.captured) {
        j += "{\"version\":" + json_string(r.neg.version) + ",\"cipher\":" + json_string(r.neg.cipher) +
             ",\"group\":" + json_string(r.neg.group) + ",\"alpn\":" + json_string(r.neg.alpn) +
             ",\"ems\":" + (r.neg.ems < 0 ? "null" : r.neg.ems ? "true" : "false") + "}";
    } else {
        j += "null";
    }
    j += ",\"first_error\":" + (r.first_error.empty() ? std::string("null") : json_string(r.first_error));
    j += "}\n";
    std::fputs(j.c_str(), stdout);
}

void print_text(const options& o, results& r, const percentiles& p) {
    const double ops_s = r.wall_s > 0 ? static_cast<double>(r.ok) / r.wall_s : 0;
    std::printf("hsload %s -> %s (host %s), concurrency %u", scenario_name(o.what), o.connect.c_str(), o.host.c_str(),
                o.concurrency);
    if (o.what == scenario::keepalive) std::printf(", %u requests per connection", o.requests_per_conn);
    if (o.rate > 0) std::printf(", open loop at %.1f operations/s", o.rate);
    std::printf("\n");
    std::printf("  operations   %llu ok of %llu; failed %llu (", static_cast<unsigned long long>(r.ok),
                static_cast<unsigned long long>(o.count), static_cast<unsigned long long>(r.failed()));
    for (std::size_t i = 0; i < failure_kinds; ++i)
        std::printf("%s%s %llu", i ? ", " : "", failure_names[i], static_cast<unsigned long long>(r.failures[i]));
    std::printf("); stopped %llu; not started %llu\n", static_cast<unsigned long long>(r.stopped),
                static_cast<unsigned long long>(o.count - std::min(o.count, r.started)));
    std::printf("  wall         %.3f s, %.1f ops/s\n", r.wall_s, ops_s);
    std::printf("  client cpu   %.3f s (%.1f us/op)\n", r.client_cpu_s,
                r.ok ? r.client_cpu_s * 1e6 / static_cast<double>(r.ok) : 0.0);
    std::printf("  latency us   p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  mean %.1f\n", p.p50, p.p90, p.p99, p.max, p.mean);
    if (r.neg.captured)
        std::printf("  negotiated   %s %s %s alpn=%s ems=%s\n", r.neg.version.c_str(), r.neg.cipher.c_str(),
                    r.neg.group.c_str(), r.neg.alpn.empty() ? "-" : r.neg.alpn.c_str(),
                    r.neg.ems < 0 ? "n/a" : r.neg.ems ? "yes" : "NO");
    if (resumes(o.what))
        std::printf("  resumption   %llu of %llu handshakes resumed (%.1f%%); %llu priming handshakes, %llu without a session\n",
                    static_cast<unsigned long long>(r.resumed), static_cast<unsigned long long>(r.handshakes),
                    r.handshakes ? 100.0 * static_cast<double>(r.resumed) / static_cast<double>(r.handshakes) : 0.0,
                    static_cast<unsigned long long>(r.primed), static_cast<unsigned long long>(r.prime_failures));
    if (r.connections_closed)
        std::printf("  tickets      %.2f per connection; %llu closes timed out\n",
                    static_cast<double>(r.tickets) / static_cast<double>(r.connections_closed),
                    static_cast<unsigned long long>(r.close_timeouts));
    if (o.what == scenario::idle) std::printf("  held         %llu connections\n", static_cast<unsigned long long>(r.held));
    if (r.duration_limit_hit) std::printf("  stopped at the duration limit (%.0f s)\n", o.duration_limit_s);
    if (r.interrupted) std::printf("  interrupted by a signal\n");
    if (!r.first_error.empty()) std::printf("  first error  %s\n", r.first_error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    bool help = false;
    auto parsed = parse_options(argc, argv, help);
    if (help) return 0;
    if (!parsed) return 2;
    const options& o = *parsed;

    std::signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2): a reset peer must not kill us
    raise_fd_limit();

    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(o.address, ec);
    if (ec) {
        std::fprintf(stderr, "hsload: --connect %s: %s is not an IP address literal\n", o.connect.c_str(), o.address.c_str());
        return 2;
    }
    auto ctx = make_client_ctx(o);
    if (!ctx) return 2;

    boost::asio::io_context io(1);
    engine e(io, o, *ctx, tcp::endpoint(address, o.port));
    bool crashed = false;
    boost::asio::co_spawn(io, e.run(), [&crashed](std::exception_ptr p) {
        if (!p) return;
        crashed = true;
        try {
            std::rethrow_exception(p);
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "hsload: run failed: %s\n", ex.what());
        } catch (...) {
            std::fprintf(stderr, "hsload: run failed\n");
        }
    });
    io.run();

    results& r = e.result();
    const auto p = compute(r.latency_ns);
    if (o.json) print_json(o, r, p);
    else print_text(o, r, p);
    std::fflush(stdout);
    return (!crashed && r.ok == o.count) ? 0 : 1;
}
