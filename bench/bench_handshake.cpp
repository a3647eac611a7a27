// In-memory TLS handshakes against atsgate's own server context (tls::build_listener_tls: the
// exact SSL_CTX `atsgate run` serves, with the ATS ClientHello gate installed), client and server
// joined by a BIO pair in one thread. No sockets, no kernel: this isolates the TLS work.
//
// Reported per iteration (= one handshake):
//   CPU time        client + server together (both run in this thread)
//   server_us       CPU time spent inside the server's SSL_do_handshake calls only
//                   (CLOCK_THREAD_CPUTIME_ID around each call), the number that matters for a proxy.
// Arguments: none; each case is one scenario named after what it measures.
// Run: build/release/bench/bench_handshake --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include "tests/support/cert_factory.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/ticket_keys.hpp"
#include "tls/server_context.hpp"

#include <benchmark/benchmark.h>

#include <openssl/tls1.h>

#include <ctime>
#include <memory>
#include <stdexcept>

using namespace atsgate;

namespace {

double thread_cpu_us() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct server_setup {
    test::temp_dir dir;
    tls::ticket_keys keys;
    tls::listener_tls built;

    // `auto_chain`: serve the leaf only and let OpenSSL build the chain from its store on every
    // handshake (what atsgate avoids with SSL_MODE_NO_AUTO_CHAIN and a chain loaded once).
    explicit server_setup(test::key_type kt, bool auto_chain = false) {
        test::cert_factory f(static_cast<std::int64_t>(std::time(nullptr)));
        auto root = f.root_ca("bench root", kt);
        auto inter = f.intermediate(root, "bench intermediate", kt);
        auto leaf = f.leaf(inter, "localhost", kt);
        config::listener l;
        l.name = "bench";
        l.address = "127.0.0.1";
        l.port = 443;
        config::certificate c;
        c.shorthand = true;
        c.cert = dir.write_chain("cert.pem", {&leaf, &inter}).string();
        c.key = dir.write_key("key.pem", leaf).string();
        l.certificates.push_back(std::move(c));
        l.trust = dir.write_chain("trust.pem", {&root}).string();
        config::diagnostics diags;
        built = tls::build_listener_tls(l, diags, &keys);
        if (!built.context) throw std::runtime_error("bench: server context could not be built");
        if (auto_chain) {
            SSL_CTX* sc = built.context->ctx.get();
            SSL_CTX_clear_chain_certs(sc);
            SSL_CTX_clear_mode(sc, SSL_MODE_NO_AUTO_CHAIN);
            X509_STORE_add_cert(SSL_CTX_get_cert_store(sc), inter.cert.get());
            X509_STORE_add_cert(SSL_CTX_get_cert_store(sc), root.cert.get());
        }
    }
    SSL_CTX* ctx() const { return built.context->ctx.get(); }
};

server_setup& setup(test::key_type kt) {
    static server_setup ec(test::key_type::ec_p256);
    static server_setup rsa(test::key_type::rsa_2048);
    return kt == test::key_type::rsa_2048 ? rsa : ec;
}

server_setup& auto_chain_setup() {
    static server_setup s(test::key_type::ec_p256, true);
    return s;
}

ossl::ptr<SSL_CTX> client_ctx(int max_version, const char* groups = "X25519:P-256") {
    auto c = ossl::own(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(c.get(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c.get(), max_version);
    SSL_CTX_set_verify(c.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set1_groups_list(c.get(), groups);
    return c;
}

// One handshake; returns server CPU µs, or a negative value on failure. Keeps the client's session
// in `out` when given (for resumption scenarios). Reuses nothing between iterations but the contexts.
double one_handshake(SSL_CTX& client_ctx, SSL_CTX& server_ctx, SSL_SESSION* resume, ossl::ptr<SSL_SESSION>* out) {
    auto client = ossl::own(SSL_new(&client_ctx));
    auto server = ossl::own(SSL_new(&server_ctx));
    BIO *cb = nullptr, *sb = nullptr;
    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(client.get(), cb, cb);
    SSL_set_bio(server.get(), sb, sb);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    SSL_set_tlsext_host_name(client.get(), "localhost");
    if (resume != nullptr) SSL_set_session(client.get(), resume);
    double server_us = 0;
    bool cdone = false, sdone = false;
    for (int i = 0; i < 16 && !(cdone && sdone); ++i) {
        if (!cdone) {
            const int r = SSL_do_handshake(client.get());
            if (r == 1) cdone = true;
            else if (SSL_get_error(client.get(), r) != SSL_ERROR_WANT_READ) return -1;
        }
        if (!sdone) {
            const double t = thread_cpu_us();
            const int r = SSL_do_handshake(server.get());
            server_us += thread_cpu_us() - t;
            if (r == 1) sdone = true;
            else if (SSL_get_error(server.get(), r) != SSL_ERROR_WANT_READ) return -1;
        }
    }
    if (!(cdone && sdone)) return -1;
    // Let the client read the TLS 1.3 ticket, then close cleanly as real clients do (OpenSSL marks the
    // session of a connection freed without close_notify as not resumable).
    char byte = 0;
    std::size_t n = 0;
    SSL_write_ex(server.get(), "x", 1, &n);
    SSL_read_ex(client.get(), &byte, 1, &n);
    SSL_shutdown(client.get());
    SSL_shutdown(server.get());
    if (out != nullptr) *out = ossl::own(SSL_get1_session(client.get()));
    ERR_clear_error();
    return server_us;
}

void run(benchmark::State& state, test::key_type kt, int max_version, bool resumed, server_setup* custom = nullptr,
         const char* groups = "X25519:P-256") {
    server_setup& s = custom != nullptr ? *custom : setup(kt);
    auto c = client_ctx(max_version, groups);
    ossl::ptr<SSL_SESSION> session;
    if (resumed && one_handshake(*c, *s.ctx(), nullptr, &session) < 0) {
        state.SkipWithError("initial handshake failed");
        return;
    }
    double server_total = 0;
    for (auto _ : state) {
        const double us = one_handshake(*c, *s.ctx(), resumed ? session.get() : nullptr, nullptr);
        if (resumed && us >= 0 && SSL_SESSION_is_resumable(session.get()) != 1) {
            state.SkipWithError("session stopped being resumable");
            break;
        }
        if (us < 0) {
            state.SkipWithError("handshake failed");
            break;
        }
        server_total += us;
    }
    state.counters["server_us"] = benchmark::Counter(server_total, benchmark::Counter::kAvgIterations);
}

}  // namespace

/// Full TLS 1.3 handshake, ECDSA P-256 certificate, X25519.
static void BM_full_tls13_ecdsa(benchmark::State& s) { run(s, test::key_type::ec_p256, TLS1_3_VERSION, false); }
BENCHMARK(BM_full_tls13_ecdsa)->Unit(benchmark::kMicrosecond);

/// Full TLS 1.2 handshake (ECDHE-ECDSA-AES128-GCM-SHA256 + EMS), ECDSA P-256, X25519.
static void BM_full_tls12_ecdsa(benchmark::State& s) { run(s, test::key_type::ec_p256, TLS1_2_VERSION, false); }
BENCHMARK(BM_full_tls12_ecdsa)->Unit(benchmark::kMicrosecond);

/// Full TLS 1.3 handshake, RSA-2048 certificate (RSA-PSS signature dominates).
static void BM_full_tls13_rsa2048(benchmark::State& s) { run(s, test::key_type::rsa_2048, TLS1_3_VERSION, false); }
BENCHMARK(BM_full_tls13_rsa2048)->Unit(benchmark::kMicrosecond);

/// Full TLS 1.2 handshake (ECDHE-RSA-AES128-GCM-SHA256 + EMS), RSA-2048.
static void BM_full_tls12_rsa2048(benchmark::State& s) { run(s, test::key_type::rsa_2048, TLS1_2_VERSION, false); }
BENCHMARK(BM_full_tls12_rsa2048)->Unit(benchmark::kMicrosecond);

/// Resumed TLS 1.3 handshake (PSK with (EC)DHE), ECDSA P-256.
static void BM_resumed_tls13_ecdsa(benchmark::State& s) { run(s, test::key_type::ec_p256, TLS1_3_VERSION, true); }
BENCHMARK(BM_resumed_tls13_ecdsa)->Unit(benchmark::kMicrosecond);

/// Resumed TLS 1.2 handshake (session ticket, EMS), ECDSA P-256.
static void BM_resumed_tls12_ecdsa(benchmark::State& s) { run(s, test::key_type::ec_p256, TLS1_2_VERSION, true); }
BENCHMARK(BM_resumed_tls12_ecdsa)->Unit(benchmark::kMicrosecond);

/// The gate's pure decision for a modern ClientHello (what runs inside every handshake's callback).
static void BM_gate_decide(benchmark::State& state) {
    tls::gate_policy p;
    p.tls12_suites[0] = 0xC02B;
    p.tls12_suite_count = 1;
    p.tls13_suites[0] = 0x1301;
    p.tls13_suite_count = 1;
    p.groups[0] = 0x001D;
    p.group_count = 1;
    tls::client_hello_facts f;
    f.offers_tls12 = f.offers_tls13 = true;
    f.shared_tls12_suite = f.shared_tls13_suite = true;
    f.groups_ext = f.shared_group = f.ems = true;
    for (auto _ : state) {
        benchmark::DoNotOptimize(f);
        auto d = tls::decide(f, p);
        benchmark::DoNotOptimize(d);
    }
}
BENCHMARK(BM_gate_decide);

// ---- Options atsgate chose, measured against the alternatives (issue 4) -------------------------

/// Full TLS 1.3 handshake (ECDSA P-256, X25519) by number of session tickets sent afterwards:
/// argument = tls13_tickets (atsgate's default is 1; OpenSSL's and nginx's is 2). Each ticket is a
/// session serialisation plus an AES-CBC/HMAC encryption on the server.
static void BM_full_tls13_tickets(benchmark::State& state) {
    server_setup& s = setup(test::key_type::ec_p256);
    SSL_CTX_set_num_tickets(s.ctx(), static_cast<std::size_t>(state.range(0)));
    run(state, test::key_type::ec_p256, TLS1_3_VERSION, false);
    SSL_CTX_set_num_tickets(s.ctx(), 1);
}
BENCHMARK(BM_full_tls13_tickets)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

/// Full TLS 1.3 handshake with a leaf + intermediate chain: argument 0 = the chain loaded once and
/// served as is (atsgate: SSL_MODE_NO_AUTO_CHAIN), 1 = only the leaf configured and OpenSSL building
/// the chain from its certificate store on every handshake.
static void BM_full_tls13_chain(benchmark::State& state) {
    if (state.range(0) == 0)
        run(state, test::key_type::ec_p256, TLS1_3_VERSION, false);
    else
        run(state, test::key_type::ec_p256, TLS1_3_VERSION, false, &auto_chain_setup());
}
BENCHMARK(BM_full_tls13_chain)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

/// Full TLS 1.3 handshake by key-exchange group: argument 0 = X25519, 1 = P-256 (secp256r1), 2 = P-384.
static void BM_full_tls13_group(benchmark::State& state) {
    static const char* names[] = {"X25519", "P-256", "P-384"};
    run(state, test::key_type::ec_p256, TLS1_3_VERSION, false, nullptr, names[state.range(0)]);
}
BENCHMARK(BM_full_tls13_group)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
