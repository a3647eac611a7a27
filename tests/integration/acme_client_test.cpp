// The ACME client (proxy/acme) against a real CA: Debian's pebble, validating real challenge
// responses served from this process (HTTP-01 over plain TCP, TLS-ALPN-01 with the certificate
// proxy/acme builds, selected by ALPN "acme-tls/1" and SNI). The issued chain is verified against
// pebble's root. Phase 1 of issue 12: the listeners of atsgate itself answer the challenges in the
// tests of acme_test.cpp.

#include "fixture.hpp"
#include "pebble.hpp"

#include "proxy/acme/certificate_request.hpp"
#include "proxy/acme/client.hpp"
#include "proxy/acme/storage.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <random>
#include <thread>

using namespace atsgate;
using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

const std::string name = "mdm.atsgate.test";

// OpenSSL writes to the sockets directly (here and in net::tls_stream): a peer that left must give
// EPIPE, not kill the test, as `atsgate` itself ignores SIGPIPE in main.
const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

// Blocking loopback servers answering pebble's validation requests from a challenge_board, one
// thread each, until destroyed. Each connection is served to its end within 5 s.
class responder {
public:
    explicit responder(acme::challenge_board& board) : board_(board) {
        http_fd_ = listen_on(http_port_);
        tls_fd_ = listen_on(tls_port_);
        ctx_ = ossl::own(SSL_CTX_new(TLS_server_method()));
        SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
        SSL_CTX_set_alpn_select_cb(ctx_.get(), &responder::select_alpn, nullptr);
        SSL_CTX_set_cert_cb(ctx_.get(), &responder::select_cert, this);
        http_thread_ = std::thread([this] { serve(http_fd_, false); });
        tls_thread_ = std::thread([this] { serve(tls_fd_, true); });
    }
    ~responder() {
        stop_ = true;
        http_thread_.join();
        tls_thread_.join();
        ::close(http_fd_);
        ::close(tls_fd_);
    }
    std::uint16_t http_port() const { return http_port_; }
    std::uint16_t tls_port() const { return tls_port_; }
    int http_hits() const { return http_hits_; }
    int alpn_hits() const { return alpn_hits_; }

private:
    static int listen_on(std::uint16_t& port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("responder: cannot listen");
        port = ntohs(a.sin_port);
        return fd;
    }
    static int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                           unsigned int inlen, void*) {
        // Only acme-tls/1 is spoken here (RFC 8737 4: the server must negotiate it).
        for (unsigned i = 0; i < inlen;) {
            const unsigned n = in[i];
            if (i + 1 + n <= inlen && std::string_view(reinterpret_cast<const char*>(in + i + 1), n) == acme::alpn_protocol) {
                *out = in + i + 1;
                *outlen = static_cast<unsigned char>(n);
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + n;
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    static int select_cert(SSL* ssl, void* self) {
        auto* r = static_cast<responder*>(self);
        const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        auto c = r->board_.tls_alpn01(sni != nullptr ? sni : "");
        if (!c) return 0;
        ++r->alpn_hits_;
        return SSL_use_certificate(ssl, c->cert.get()) == 1 && SSL_use_PrivateKey(ssl, c->key.get()) == 1 ? 1 : 0;
    }
    void serve(int lfd, bool tls) {
        while (!stop_) {
            pollfd p{lfd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            timeval tv{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            if (tls) {
                auto ssl = ossl::own(SSL_new(ctx_.get()));
                SSL_set_fd(ssl.get(), fd);
                if (SSL_accept(ssl.get()) == 1) SSL_shutdown(ssl.get());
                ossl::drain_errors();
            } else {
                std::string req;
                char buf[2048];
                while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
                    const ssize_t n = ::read(fd, buf, sizeof buf);
                    if (n <= 0) break;
                    req.append(buf, static_cast<std::size_t>(n));
                }
                std::string resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                const std::string prefix = "GET " + std::string(acme::http01_prefix);
                if (req.starts_with(prefix)) {
                    const std::string token = req.substr(prefix.size(), req.find(' ', prefix.size()) - prefix.size());
                    if (auto ka = board_.http01(token)) {
                        ++http_hits_;
                        resp = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                               std::to_string(ka->size()) + "\r\nConnection: close\r\n\r\n" + *ka;
                    }
                }
                [[maybe_unused]] auto w = ::write(fd, resp.data(), resp.size());
            }
            ::close(fd);
        }
    }

    acme::challenge_board& board_;
    std::uint16_t http_port_ = 0, tls_port_ = 0;
    int http_fd_ = -1, tls_fd_ = -1;
    ossl::ptr<SSL_CTX> ctx_;
    std::atomic<bool> stop_{false};
    std::atomic<int> http_hits_{0}, alpn_hits_{0};
    std::thread http_thread_, tls_thread_;
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct issued {
    acme::order_outcome outcome;
    std::vector<std::string> log;
    std::string key_pem;
};

// One order through the real transport, bounded by a scaled deadline.
issued order_once(const test_env& env, const std::string& directory, acme::challenge_kind kind,
                  const std::vector<std::string>& names, acme::challenge_board& board, const acme::storage& store,
                  acme::key_type cert_key = acme::key_type::ecdsa_p256) {
    issued out;
    std::string err;
    auto account = acme::account_key::from_key(store.account_key_for(directory, acme::key_type::ecdsa_p256, err), err);
    REQUIRE(account);
    auto key = acme::generate_key(cert_key, err);
    REQUIRE(key);
    out.key_pem = acme::private_key_pem(*key, err);
    acme::order_params p;
    p.directory_url = directory;
    p.names = names;
    p.challenge = kind;
    p.contact = {"mailto:ops@atsgate.test"};
    p.csr_der = acme::make_csr_der(*key, names, err);
    p.deadline_ms = now_ms() + scaled(60s).count();
    acme::order_flow flow(*account, p);

    boost::asio::io_context io;
    auto ctx = acme::make_client_context(env.root_pem().string(), err);
    REQUIRE(ctx);
    acme::https_client client(io.get_executor(), std::move(ctx), "atsgate-test");
    std::mt19937_64 rng(42);
    boost::asio::co_spawn(
        io,
        acme::run_order(client, flow, board, std::chrono::milliseconds(scaled(10s)), now_ms,
                        [&] { return std::uniform_real_distribution<double>(0, 1)(rng); },
                        [&](const std::string& line) { out.log.push_back(line); }),
        [&](std::exception_ptr e, acme::order_outcome o) {
            REQUIRE(!e);
            out.outcome = std::move(o);
        });
    io.run_for(scaled(90s));
    return out;
}

// Verifies `chain_pem` (leaf first) against `root_pem`; returns the leaf.
ossl::ptr<X509> verify_chain(const std::string& chain_pem, const std::string& root_pem) {
    std::string err;
    auto chain = acme::parse_pem_chain(chain_pem, err);
    REQUIRE(!chain.empty());
    auto roots = acme::parse_pem_chain(root_pem, err);
    REQUIRE(!roots.empty());
    auto store = ossl::own(X509_STORE_new());
    X509_STORE_add_cert(store.get(), roots[0].get());
    auto untrusted = ossl::own(sk_X509_new_null());
    for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), ossl::up_ref(chain[i].get()).release());
    auto ctx = ossl::own(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get());
    const int ok = X509_verify_cert(ctx.get());
    INFO(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
    CHECK(ok == 1);
    return std::move(chain[0]);
}

}  // namespace

TEST_CASE("acme client: pebble issues by TLS-ALPN-01 and by HTTP-01", "[acme][pebble]") {
    if (!pebble_server::available()) ATSGATE_SKIP_BECAUSE("pebble not installed (scripts/deps installs it)");
    test_env env;
    acme::challenge_board board;
    responder resp(board);
    pebble_options po;
    po.http_port = resp.http_port();
    po.tls_port = resp.tls_port();
    po.validity_seconds = 7 * 86400;
    // badNonce on about every tenth POST: retried. (At 30 %, the first try and all five retries of
    // one POST were refused for about 1 POST in 1,400, so about 1 run in 50 of this test's ~30 POSTs
    // failed; the retry limit itself is proven by the unit tests and integration.acme's CA that
    // refuses every nonce.)
    po.nonce_reject_percent = 10;
    pebble_server ca(env, po);
    std::string err;
    auto store = acme::storage::open(env.path("acme"), err);
    REQUIRE(store);

    for (auto kind : {acme::challenge_kind::tls_alpn_01, acme::challenge_kind::http_01}) {
        INFO(acme::to_string(kind));
        const std::vector<std::string> names = {kind == acme::challenge_kind::http_01 ? "http." + name : name,
                                                "enroll.atsgate.test"};
        auto r = order_once(env, ca.directory_url(), kind, names, board, *store,
                            kind == acme::challenge_kind::http_01 ? acme::key_type::rsa_2048 : acme::key_type::ecdsa_p256);
        std::string all;
        for (const auto& l : r.log) all += l + "\n";
        INFO(all << "\npebble:\n" << ca.log());
        REQUIRE(r.outcome.ok);
        auto leaf = verify_chain(r.outcome.certificate_pem, ca.issuance_root_pem());
        CHECK(acme::dns_names_of(*leaf) == names);
        auto v = acme::validity_of(*leaf);
        REQUIRE(v);
        CHECK(v->second - v->first + 1 == 7 * 86400);  // certificateValidityPeriod, RFC 5280 counted
        CHECK(board.size() == 0);                       // withdrawn after the order
        // The certificate's key is the one the CSR was made with.
        auto key = acme::read_private_key_pem(r.key_pem, err);
        CHECK(X509_check_private_key(leaf.get(), key.get()) == 1);
        // Stored atomically with its key and read back.
        const std::string id = acme::storage::certificate_id(names[0], acme::key_type::ecdsa_p256);
        REQUIRE(store->save_certificate(id, r.key_pem, r.outcome.certificate_pem, err));
        auto back = store->load_certificate(id, err);
        REQUIRE(back);
        CHECK(back->chain_pem == r.outcome.certificate_pem);
    }
    CHECK(resp.alpn_hits() >= 1);
    CHECK(resp.http_hits() >= 1);
    // One account for the directory: the key was created once and reused (pebble returned the
    // same account URL for the second order).
    CHECK(std::distance(fs::directory_iterator(env.path("acme") / "accounts"), fs::directory_iterator{}) == 1);
}

TEST_CASE("acme client: a CA that is down fails the order in bounded time, with the reason", "[acme][pebble]") {
    if (!pebble_server::available()) ATSGATE_SKIP_BECAUSE("pebble not installed (scripts/deps installs it)");
    test_env env;
    acme::challenge_board board;
    responder resp(board);
    pebble_options po;
    po.http_port = resp.http_port();
    po.tls_port = resp.tls_port();
    pebble_server ca(env, po);
    ca.stop();
    std::string err;
    auto store = acme::storage::open(env.path("acme"), err);
    REQUIRE(store);
    const auto t0 = clock::now();
    auto r = order_once(env, ca.directory_url(), acme::challenge_kind::tls_alpn_01, {name}, board, *store);
    CHECK_FALSE(r.outcome.ok);
    CHECK(r.outcome.error.find("Connection refused") != std::string::npos);
    // Four attempts with 0.5 + 1 + 2 s of backoff between them.
    CHECK(clock::now() - t0 < scaled(20s));
    std::size_t attempts = 0;
    for (const auto& l : r.log) attempts += l.starts_with("GET ") ? 1 : 0;
    CHECK(attempts == 4);
}
