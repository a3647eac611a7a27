// `atsgate probe` against real servers started by the tests: one `openssl s_server` per situation
// (certificates made at test time by the fixture's PKI), a plain-HTTP server and a black hole in
// this process, and the real atsgate binary in front of the demo backend. Verdicts are asserted by
// check id and status for every check of the target (not by text); the CLI is driven for exit
// codes, JSON and profiles (XML, binary from python3's plistlib, CMS/PKCS#7 signed by the openssl
// command line).

#include "proxy/probe/gather.hpp"
#include "proxy/probe/judge.hpp"
#include "tests/integration/fixture.hpp"
#include "tls/cert_facts.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <ctime>
#include <map>
#include <thread>

using namespace atsgate;
using namespace atsgate::itest;
using probe::status;

namespace {

using namespace std::chrono_literals;

constexpr status P = status::pass, W = status::warn, F = status::fail, I = status::info;

// An OpenSSL config whose system_default turns EMS off in every context built with it.
const std::string no_ems_conf =
    "openssl_conf = default_conf\n"
    "[default_conf]\nssl_conf = ssl_sect\n"
    "[ssl_sect]\nsystem_default = system_default_sect\n"
    "[system_default_sect]\nOptions = -ExtendedMasterSecret\n";

// `openssl s_server -www` on a free loopback port with `args`, under OPENSSL_CONF = `conf` (empty:
// no system policy). Retried on fresh ports if it loses a race for its port. Stopped on scope exit.
class tls_server {
public:
    tls_server(const test_env& env, const std::string& name, const std::vector<std::string>& args,
               const std::string& conf = "") {
        const auto conf_path = env.write(name + ".cnf", conf);
        for (int attempt = 1;; ++attempt) {
            port_ = free_port();
            std::vector<std::string> argv{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port_),
                                          "-www", "-quiet"};
            argv.insert(argv.end(), args.begin(), args.end());
            spawn_options o;
            o.env = {{"OPENSSL_CONF", conf_path.string()}};
            o.stdout_path = env.path(name + ".out");
            o.stderr_path = env.path(name + ".err");
            proc_ = process(argv, o);
            try {
                wait_for_port(port_, deadline_after(10s), proc_, "openssl s_server " + name);
                return;
            } catch (const std::runtime_error&) {
                if (attempt == 3 || proc_.running()) throw;  // not a lost port race
            }
        }
    }
    std::uint16_t port() const noexcept { return port_; }
    std::string url(const std::string& path = "/") const {
        return "https://127.0.0.1:" + std::to_string(port_) + path;
    }

private:
    std::uint16_t port_ = 0;
    process proc_;
};

// A listening socket bound to 127.0.0.1:0.
int listen_socket(std::uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    return fd;
}

// Accepts TCP connections (the kernel does, from the backlog) and never says a word.
class black_hole {
public:
    black_hole() { fd_ = listen_socket(port_); }
    ~black_hole() { ::close(fd_); }
    std::uint16_t port() const noexcept { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

// A plain-HTTP server in this process: reads each request head and answers `response`.
class plain_http_server {
public:
    explicit plain_http_server(std::string response) : response_(std::move(response)) {
        fd_ = listen_socket(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~plain_http_server() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::uint16_t port() const noexcept { return port_; }

private:
    void serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            timeval tv{2, 0};
            ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                req.append(buf, static_cast<std::size_t>(n));
            }
            (void)::send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }

    std::string response_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

using statuses = std::map<std::string, status>;

statuses all_pass() {
    statuses s;
    for (const char* id : {"probe.reachability", "probe.tls_versions", "probe.ats_default", "probe.ems", "probe.suites",
                           "probe.non_pfs", "cert.key_strength", "cert.signature_hash", "cert.validity",
                           "cert.self_signed", "cert.chain", "cert.san", "cert.eku", "cert.lifetime",
                           "probe.plaintext_port80", "probe.redirect"})
        s[id] = status::pass;
    return s;
}

statuses with(statuses s, const statuses& changes) {
    for (const auto& [id, st] : changes) s[id] = st;
    return s;
}

std::string describe(const probe::target_report& r) {
    std::string out;
    for (const auto& c : r.checks)
        out += "\n  " + std::string(probe::to_string(c.result)) + " " + c.id + " " + c.subject + " " + c.evidence;
    for (const auto& m : r.matrix) out += "\n  matrix " + std::string(probe::to_string(m.result)) + " " + m.label + " " + m.detail;
    return out;
}

// Probes `url` in this process (gather + judge), trusting the test root; the plain-HTTP check
// goes to `http_port` (a free port nobody listens on unless the test says otherwise).
probe::target_report probe_url(const test_env& env, const std::string& url, std::uint16_t http_port = 0,
                               const std::string& sni = "") {
    std::string err;
    auto t = probe::parse_target(url, err);
    REQUIRE(t);
    tls::load_error le;
    auto store = tls::load_trust_store(env.root_pem().string(), le);
    REQUIRE(store);
    probe::probe_options o;
    o.timeout = scaled(5000ms);
    o.trust = store.get();
    o.trust_path = env.root_pem().string();
    o.http_port = http_port != 0 ? http_port : free_port();
    o.sni = sni;
    auto facts = probe::gather(*t, o);
    return probe::judge_target(facts, static_cast<std::int64_t>(std::time(nullptr)));
}

// Every check's worst status by id, compared with `want`; the matrix too.
void expect(const probe::target_report& r, const statuses& want, const std::vector<status>& matrix) {
    statuses got;
    for (const auto& c : r.checks) {
        auto it = got.find(c.id);
        if (it == got.end() || c.result == status::fail) got[c.id] = c.result;
    }
    std::vector<status> m;
    for (const auto& row : r.matrix) m.push_back(row.result);
    INFO("report:" << describe(r));
    CHECK(got == want);
    CHECK(m == matrix);
}

const probe::check& check_of(const probe::target_report& r, const std::string& id) {
    for (const auto& c : r.checks)
        if (c.id == id) return c;
    FAIL("no check " << id << describe(r));
    throw std::logic_error("unreachable");
}

std::vector<std::string> cert_args(const cert_files& c) { return {"-cert", c.cert.string(), "-key", c.key.string()}; }

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

const std::vector<std::string> tls12_13 = {"-no_tls1", "-no_tls1_1"};
const std::string ecdsa_gcm = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
const std::string rsa_gcm = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";

command_result run_probe(const std::vector<std::string>& args, milliseconds timeout = 60000ms) {
    std::vector<std::string> argv{atsgate_binary().string(), "probe"};
    argv.insert(argv.end(), args.begin(), args.end());
    command_options o;
    o.timeout = timeout;
    return run_command(argv, o);
}

}  // namespace

// ---- one server per situation ----------------------------------------------------------------------

TEST_CASE("probe: compliant ECDSA server passes everything", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server s(env, "ecdsa", plus(plus(cert_args(env.ecdsa()), tls12_13), {"-cipher", ecdsa_gcm}));
    auto r = probe_url(env, s.url());
    expect(r, all_pass(), {P, P, P, P});
    CHECK(r.address == "127.0.0.1:" + std::to_string(s.port()));
    CHECK_THAT(check_of(r, "probe.suites").evidence,
               Catch::Contains("TLS 1.2: ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-ECDSA-AES256-GCM-SHA384"));
}

TEST_CASE("probe: compliant RSA server passes everything", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server s(env, "rsa", plus(plus(cert_args(env.rsa()), tls12_13), {"-cipher", rsa_gcm}));
    auto r = probe_url(env, s.url());
    expect(r, all_pass(), {P, P, P, P});
    CHECK_THAT(check_of(r, "cert.key_strength").evidence, Catch::Contains("RSA 2048"));
}

TEST_CASE("probe: a TLS 1.0-only server", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server s(env, "tls10", plus(cert_args(env.rsa()), {"-tls1", "-cipher", "ALL:@SECLEVEL=0"}));
    auto r = probe_url(env, s.url());
    expect(r,
           with(all_pass(), {{"probe.tls_versions", F}, {"probe.ats_default", F}, {"probe.ems", I},
                             {"probe.suites", I}, {"probe.non_pfs", I}}),
           {F, F, F, F});
    CHECK_THAT(check_of(r, "probe.ats_default").evidence, Catch::Contains("no TLS 1.2+ (the server accepts TLS 1.0)"));
    CHECK_THAT(check_of(r, "cert.chain").evidence, Catch::Contains("chain from the TLS 1.0 connection"));
}

TEST_CASE("probe: TLS 1.2 with RSA key exchange only", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server s(env, "rsakx",
                 plus(plus(cert_args(env.rsa()), tls12_13), {"-no_tls1_3", "-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384"}));
    auto r = probe_url(env, s.url());
    expect(r,
           with(all_pass(), {{"probe.tls_versions", W}, {"probe.ats_default", F}, {"probe.suites", F},
                             {"probe.non_pfs", W}}),
           {F, F, F, P});
    CHECK_THAT(check_of(r, "probe.ats_default").evidence, Catch::Contains("no common ECDHE suite"));
    CHECK_THAT(check_of(r, "probe.non_pfs").evidence, Catch::Contains("AES128-GCM-SHA256") && Catch::Contains("AES256-GCM-SHA384"));
}

TEST_CASE("probe: TLS 1.2 without extended master secret", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server s(env, "noems", plus(plus(cert_args(env.rsa()), tls12_13), {"-no_tls1_3", "-cipher", rsa_gcm}), no_ems_conf);
    auto r = probe_url(env, s.url());
    expect(r, with(all_pass(), {{"probe.tls_versions", W}, {"probe.ats_default", F}, {"probe.ems", F}}), {F, F, F, F});
    CHECK_THAT(check_of(r, "probe.ats_default").evidence, Catch::Contains("devices refuse it: no EMS"));
}

TEST_CASE("probe: certificates that break one rule each", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    struct situation {
        const char* label;
        std::function<cert_files()> make;
        statuses changes;
        const char* evidence_id;
        const char* evidence;
    };
    const std::vector<situation> table = {
        {"RSA-1024",
         [&] {
             auto spec = test_env::leaf_spec(test::key_type::rsa_1024);
             return env.issue("rsa1024", spec);
         },
         {{"cert.key_strength", F}},
         "cert.key_strength",
         "RSA 1024"},
        {"SHA-1 signed",
         [&] {
             auto spec = test_env::leaf_spec();
             spec.sig = test::digest::sha1;
             return env.issue("sha1", spec);
         },
         {{"cert.signature_hash", F}},
         "cert.signature_hash",
         "SHA1"},
        {"expired",
         [&] {
             auto spec = test_env::leaf_spec();
             spec.not_before = -100 * 86400;
             spec.not_after = -86400;
             return env.issue("expired", spec);
         },
         {{"cert.validity", F}},
         "cert.validity",
         "expired"},
        {"self-signed leaf", [&] { return env.issue("selfsigned", test_env::leaf_spec(), true); },
         {{"cert.self_signed", F}, {"cert.chain", F}},
         "cert.self_signed",
         "leaf is self-signed"},
        {"wrong host name",
         [&] {
             auto spec = test::cert_factory::leaf_spec("other.example.test");
             return env.issue("wronghost", spec);
         },
         {{"cert.san", F}},
         "cert.san",
         "\"127.0.0.1\" not in SAN"},
        {"missing intermediate",
         [&] {
             auto inter = env.factory().intermediate(env.root());
             auto leaf = env.make(test_env::leaf_spec(), &inter);
             return env.write_cert("nointer", {&leaf}, leaf);
         },
         {{"cert.chain", F}},
         "cert.chain",
         "atsgate test intermediate"},
    };
    for (const auto& sit : table) {
        DYNAMIC_SECTION(sit.label) {
            const cert_files files = sit.make();
            // Security level 0 on the server: OpenSSL would refuse to serve RSA-1024 / SHA-1 otherwise.
            tls_server s(env, "cert", plus(cert_args(files), {"-no_tls1", "-no_tls1_1", "-cipher",
                                                             "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"}));
            auto r = probe_url(env, s.url());
            expect(r, with(with(all_pass(), sit.changes), {{"probe.ats_default", F}}), {F, F, F, F});
            CHECK_THAT(check_of(r, sit.evidence_id).evidence, Catch::Contains(sit.evidence));
            CHECK_THAT(check_of(r, "probe.ats_default").evidence, Catch::Contains("certificate: cert."));
        }
    }
}

TEST_CASE("probe: the intermediate served after the leaf passes the chain check", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    auto inter = env.factory().intermediate(env.root());
    auto leaf = env.make(test_env::leaf_spec(), &inter);
    auto files = env.write_cert("withinter", {&leaf}, leaf);
    auto chain = env.write("inter.pem", inter.cert_pem());  // s_server -cert serves only the file's first certificate
    tls_server s(env, "withinter",
                 plus(plus(cert_args(files), tls12_13), {"-cert_chain", chain.string(), "-cipher", ecdsa_gcm}));
    expect(probe_url(env, s.url()), all_pass(), {P, P, P, P});
}

TEST_CASE("probe: plain HTTP on the host's HTTP port", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server s(env, "ecdsa", plus(plus(cert_args(env.ecdsa()), tls12_13), {"-cipher", ecdsa_gcm}));
    SECTION("answers 200: WARN") {
        plain_http_server http("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        auto r = probe_url(env, s.url(), http.port());
        expect(r, with(all_pass(), {{"probe.plaintext_port80", W}}), {P, P, P, P});
        CHECK_THAT(check_of(r, "probe.plaintext_port80").evidence,
                   Catch::Contains("port " + std::to_string(http.port()) + " answers 200 over plain HTTP"));
    }
    SECTION("redirects to https: PASS") {
        plain_http_server http("HTTP/1.1 301 Moved Permanently\r\nLocation: https://127.0.0.1/\r\nContent-Length: 0\r\n\r\n");
        auto r = probe_url(env, s.url(), http.port());
        expect(r, all_pass(), {P, P, P, P});
        CHECK_THAT(check_of(r, "probe.plaintext_port80").evidence, Catch::Contains("answers 301 -> https://127.0.0.1/"));
    }
    SECTION("redirects to http: WARN") {
        plain_http_server http("HTTP/1.1 302 Found\r\nLocation: http://www.example.test/\r\nContent-Length: 0\r\n\r\n");
        expect(probe_url(env, s.url(), http.port()), with(all_pass(), {{"probe.plaintext_port80", W}}), {P, P, P, P});
    }
}

// ---- atsgate itself ----------------------------------------------------------------------------------

TEST_CASE("probe: atsgate's own listener passes everything", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    auto r = probe_url(env, px.url("/mdm/enroll"));
    expect(r, all_pass(), {P, P, P, P});
    CHECK_THAT(check_of(r, "probe.ats_default").evidence, Catch::Contains("ALPN http/1.1"));
    CHECK_THAT(check_of(r, "probe.non_pfs").evidence, Catch::Contains("no TLS 1.2 suite without forward secrecy"));

    SECTION("and through the CLI, exit 0") {
        auto res = run_probe({"--ca", env.root_pem().string(), "--http-port", std::to_string(free_port()),
                              px.url("/mdm/enroll")});
        INFO(res.describe() << "\n" << res.out);
        CHECK(res.exit_code == 0);
        CHECK_THAT(res.out, Catch::EndsWith("summary: 1 target(s): 1 passed, 0 failed; 0 fail, 0 warn: COMPLIANT\n"));
        CHECK(res.out.find('\033') == std::string::npos);  // not a terminal: no colour
    }
}

TEST_CASE("probe: a URL that redirects to http:// FAILs, https redirects are followed", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    SECTION("to http://") {
        auto r = probe_url(env, px.url("/redirect?to=http://plain.example.test/enroll"));
        expect(r, with(all_pass(), {{"probe.redirect", F}}), {P, P, P, P});
        CHECK_THAT(check_of(r, "probe.redirect").evidence, Catch::Contains("-> http://plain.example.test/enroll (plain http)"));
    }
    SECTION("to https://, then 200") {
        auto r = probe_url(env, px.url("/redirect?to=" + px.url("/mdm/enroll")));
        expect(r, all_pass(), {P, P, P, P});
        CHECK_THAT(check_of(r, "probe.redirect").evidence, Catch::Contains(px.url("/mdm/enroll")) && Catch::EndsWith("(https only)"));
    }
}

// ---- fleets, timeouts, the CLI -----------------------------------------------------------------------

TEST_CASE("probe: an unreachable or silent target never stalls the rest", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server good(env, "ecdsa", plus(plus(cert_args(env.ecdsa()), tls12_13), {"-cipher", ecdsa_gcm}));
    black_hole silent;
    const auto closed = free_port();
    const auto start = clock::now();
    auto res = run_probe({"--json", "--timeout", "1", "--concurrency", "3", "--ca", env.root_pem().string(),
                          "--http-port", std::to_string(free_port()), "127.0.0.1:" + std::to_string(silent.port()),
                          "127.0.0.1:" + std::to_string(closed), good.url()});
    const auto took = std::chrono::duration_cast<milliseconds>(clock::now() - start);
    INFO(res.describe() << "\n" << res.out);
    CHECK(res.exit_code == 1);
    // --timeout 1: the silent target costs about one handshake timeout, not one per attempt.
    CHECK(took < scaled(8000ms));
    CHECK_THAT(res.out, Catch::Contains("\"targets\":3,\"targets_passed\":1,\"targets_failed\":2"));
    CHECK_THAT(res.out, Catch::Contains("\"target\":\"" + good.url() + "\",\"address\":\"127.0.0.1:" +
                                        std::to_string(good.port()) + "\",\"sni\":\"\",\"source\":\"command line\",\"result\":\"pass\""));
    CHECK_THAT(res.out, Catch::Contains("\"id\":\"probe.ats_default\",\"status\":\"fail\",\"subject\":\"\","
                                        "\"evidence\":\"devices cannot connect: handshake failed: timed out"));
    CHECK_THAT(res.out, Catch::Contains("\"id\":\"probe.reachability\",\"status\":\"fail\""));
    CHECK_THAT(res.out, Catch::Contains("Connection refused"));
}

TEST_CASE("probe: exit codes, --from-file, --sni and usage errors", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server good(env, "ecdsa", plus(plus(cert_args(env.ecdsa()), tls12_13), {"-cipher", ecdsa_gcm}));
    tls_server bad(env, "rsakx", plus(plus(cert_args(env.rsa()), tls12_13), {"-no_tls1_3", "-cipher", "AES128-GCM-SHA256"}));
    const std::string ca = env.root_pem().string();
    const std::string http_port = std::to_string(free_port());

    SECTION("--from-file with comments; a failing target makes exit 1") {
        auto list = env.write("targets.txt", "# the stack\n\n" + good.url() + "\n  127.0.0.1:" +
                                                 std::to_string(bad.port()) + "  \n");
        auto res = run_probe({"--ca", ca, "--http-port", http_port, "--from-file", list.string()});
        INFO(res.describe() << "\n" << res.out);
        CHECK(res.exit_code == 1);
        CHECK_THAT(res.out, Catch::Contains("summary: 2 target(s): 1 passed, 1 failed"));
        CHECK_THAT(res.out, Catch::Contains("(from " + list.string() + ":4)"));
    }
    SECTION("--sni sends the name and matches it against the SAN") {
        auto res = run_probe({"--json", "--ca", ca, "--http-port", http_port, "--sni", "localhost", good.url()});
        INFO(res.describe() << "\n" << res.out);
        CHECK(res.exit_code == 0);
        CHECK_THAT(res.out, Catch::Contains("\"sni\":\"localhost\""));
        CHECK_THAT(res.out, Catch::Contains("server_name \\\"localhost\\\" in SAN"));
    }
    SECTION("an http:// target is a FAIL without contacting anything") {
        auto res = run_probe({"http://127.0.0.1:" + http_port + "/"});
        CHECK(res.exit_code == 1);
        CHECK_THAT(res.out, Catch::Contains("FAIL    http.https_only"));
    }
    SECTION("usage errors and unreadable inputs exit 2") {
        const std::vector<std::vector<std::string>> cases = {
            {},
            {"--bogus", good.url()},
            {"--timeout", "0", good.url()},
            {"--concurrency", "0", good.url()},
            {"--sni", "127.0.0.1", good.url()},
            {"ftp://x.test/"},
            {"--from-file", (env.dir() / "missing.txt").string()},
            {"--profile", (env.dir() / "missing.mobileconfig").string()},
            {"--ca", (env.dir() / "missing.pem").string(), good.url()},
        };
        for (const auto& args : cases) {
            auto res = run_probe(args);
            INFO(join(args, " ") << ": " << res.describe());
            CHECK(res.exit_code == 2);
            CHECK(res.out.empty());
            CHECK_THAT(res.err, Catch::StartsWith("atsgate probe: "));
        }
        auto bad_line = env.write("bad.txt", good.url() + "\nftp://nope/\n");
        auto res = run_probe({"--from-file", bad_line.string()});
        CHECK(res.exit_code == 2);
        CHECK_THAT(res.err, Catch::Contains(bad_line.string() + ":2: unsupported scheme"));
    }
    SECTION("--help exits 0") {
        auto res = run_probe({"--help"});
        CHECK(res.exit_code == 0);
        CHECK_THAT(res.out, Catch::StartsWith("usage: atsgate probe"));
    }
}

// ---- profiles -----------------------------------------------------------------------------------------

namespace {

std::string profile_for(const std::string& server_url, const std::string& checkin_url, const std::string& scep_url) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>PayloadType</key><string>com.apple.security.scep</string>
      <key>PayloadContent</key>
      <dict><key>URL</key><string>)" + scep_url + R"(</string><key>Name</key><string>Device CA</string></dict>
    </dict>
    <dict>
      <key>PayloadType</key><string>com.apple.mdm</string>
      <key>ServerURL</key><string>)" + server_url + R"(</string>
      <key>CheckInURL</key><string>)" + checkin_url + R"(</string>
    </dict>
  </array>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadIdentifier</key><string>test.enroll</string>
</dict>
</plist>
)";
}

}  // namespace

TEST_CASE("probe: enrollment profiles (XML, binary, CMS-signed)", "[integration][probe]") {
    ATSGATE_SKIP_UNLESS_TOOLS("openssl");
    test_env env;
    tls_server good(env, "ecdsa", plus(plus(cert_args(env.ecdsa()), tls12_13), {"-cipher", ecdsa_gcm}));
    const std::string ca = env.root_pem().string();
    const std::string http_port = std::to_string(free_port());
    const std::string scep = "http://scep.example.test/scep";

    SECTION("XML: https URLs probed once each, SCEP exempt, exit 0") {
        auto p = env.write("ok.mobileconfig", profile_for(good.url("/mdm/server"), good.url("/mdm/checkin"), scep));
        auto res = run_probe({"--ca", ca, "--http-port", http_port, "--profile", p.string()});
        INFO(res.describe() << "\n" << res.out);
        CHECK(res.exit_code == 0);
        CHECK_THAT(res.out, Catch::Contains("EXEMPT  profile.http_url        [PayloadContent[0].PayloadContent.URL] " + scep));
        CHECK_THAT(res.out, Catch::Contains("(from " + p.string() + ": PayloadContent[1].ServerURL)"));
        CHECK_THAT(res.out, Catch::Contains("summary: 2 target(s): 2 passed, 0 failed; 1 profile(s): 0 failed"));
    }
    SECTION("XML: an http:// CheckInURL FAILs, exit 1") {
        auto p = env.write("http.mobileconfig", profile_for(good.url("/mdm/server"), "http://mdm.example.test/checkin", scep));
        auto res = run_probe({"--json", "--ca", ca, "--http-port", http_port, "--profile", p.string()});
        INFO(res.describe() << "\n" << res.out);
        CHECK(res.exit_code == 1);
        CHECK_THAT(res.out, Catch::Contains("{\"id\":\"profile.http_url\",\"status\":\"fail\",\"subject\":\"PayloadContent[1].CheckInURL\""));
        CHECK_THAT(res.out, Catch::Contains("{\"id\":\"profile.http_url\",\"status\":\"exempt\",\"subject\":\"PayloadContent[0].PayloadContent.URL\""));
        CHECK_THAT(res.out, Catch::Contains("\"targets\":1,\"targets_passed\":1,\"targets_failed\":0,\"profiles\":1,\"profiles_failed\":1"));
    }
    SECTION("CMS-signed with the openssl command line (cms DER, smime PEM)") {
        auto plain = env.write("plain.mobileconfig", profile_for(good.url("/mdm/server"), good.url("/mdm/checkin"), scep));
        auto signer = env.issue("signer", test_env::leaf_spec());
        for (const auto& [tool, fmt] : std::vector<std::pair<std::string, std::string>>{{"cms", "DER"}, {"smime", "PEM"}}) {
            const auto out = env.path("signed-" + tool + ".mobileconfig");
            auto sign = run_command({"openssl", tool, "-sign", "-nodetach", "-binary", "-in", plain.string(), "-signer",
                                     signer.cert.string(), "-inkey", signer.key.string(), "-outform", fmt, "-out",
                                     out.string()});
            REQUIRE(sign.exit_code == 0);
            auto res = run_probe({"--ca", ca, "--http-port", http_port, "--profile", out.string()});
            INFO(tool << ": " << res.describe() << "\n" << res.out);
            CHECK(res.exit_code == 0);
            CHECK_THAT(res.out, Catch::Contains("profile \"" + out.string() + "\" (signed XML plist)"));
            CHECK_THAT(res.out, Catch::Contains("INFO    profile.signature       signed by CN=localhost"));
            CHECK_THAT(res.out, Catch::Contains("signature valid; the signer is not checked against any trust store"));
            CHECK_THAT(res.out, Catch::Contains("summary: 2 target(s): 2 passed"));
        }
    }
    SECTION("an https URL that cannot be probed FAILs in the profile, the rest is probed") {
        auto p = env.write("template.mobileconfig", profile_for("https://$SERVER/mdm", good.url("/mdm/checkin"), scep));
        auto res = run_probe({"--ca", ca, "--http-port", http_port, "--profile", p.string()});
        INFO(res.describe() << "\n" << res.out);
        CHECK(res.exit_code == 1);
        CHECK_THAT(res.out, Catch::Contains("FAIL    profile.url_invalid     [PayloadContent[1].ServerURL] https://$SERVER/mdm cannot be probed"));
        CHECK_THAT(res.out, Catch::Contains("summary: 1 target(s): 1 passed, 0 failed; 1 profile(s): 1 failed"));
    }
    SECTION("an unreadable profile is exit 2 with the reason") {
        auto p = env.write("broken.mobileconfig", "<plist><dict><key>a</key></dict></plist>");
        auto res = run_probe({"--profile", p.string()});
        CHECK(res.exit_code == 2);
        CHECK_THAT(res.err, Catch::Contains(p.string() + ": XML plist: line 1") && Catch::Contains("without a value"));
    }
    // Last: a skip ends the test case (fixture.hpp).
    SECTION("binary, written by python3's plistlib") {
        ATSGATE_SKIP_UNLESS_TOOLS("python3");
        auto xml = env.write("src.mobileconfig", profile_for(good.url("/mdm/server"), "http://mdm.example.test/checkin", scep));
        const auto bin = env.path("binary.mobileconfig");
        auto conv = run_command({"python3", "-c",
                                 "import plistlib,sys\n"
                                 "d=plistlib.load(open(sys.argv[1],'rb'))\n"
                                 "open(sys.argv[2],'wb').write(plistlib.dumps(d, fmt=plistlib.FMT_BINARY))\n",
                                 xml.string(), bin.string()});
        REQUIRE(conv.exit_code == 0);
        auto res = run_probe({"--ca", ca, "--http-port", http_port, "--profile", bin.string()});
        INFO(res.describe() << "\n" << res.out);
        CHECK(res.exit_code == 1);
        CHECK_THAT(res.out, Catch::Contains("profile \"" + bin.string() + "\" (binary plist)"));
        CHECK_THAT(res.out, Catch::Contains("FAIL    profile.http_url        [PayloadContent[1].CheckInURL] http://mdm.example.test/checkin is plain HTTP"));
        CHECK_THAT(res.out, Catch::Contains("summary: 1 target(s): 1 passed, 0 failed; 1 profile(s): 1 failed"));
    }
}
