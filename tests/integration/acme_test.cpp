// Issue 12: atsgate's built-in ACME against a real CA (Debian's pebble, pebble-challtestsrv as its
// DNS). The real binary answers the validations itself: TLS-ALPN-01 on its https listener, HTTP-01
// on its plaintext (scep) listener. Covered: first issuance by each challenge, a restart that serves
// the stored certificate without a new order, renewal swapped in under a kept-alive connection, a
// CA that is down or refuses every nonce (backoff, counted, no exit, names refused meanwhile, the
// first certificate served once the CA is back), a renewal that keeps failing (visible while the
// old certificate is still served, then recovered), and pebble's 5-year certificate refused by the
// audit (never served, logged with its failing rule, counted, on /status, in check).
// Set ATSGATE_ACME_LOG_OUT=FILE to keep the issuance log (atsgate's and pebble's) of the first test.

#include "fixture.hpp"
#include "pebble.hpp"

#include <catch2/catch.hpp>

#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <regex>

using namespace atsgate;
using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

const std::string host = "mdm.atsgate.test";

struct acme_world {
    test_env env;
    backend legacy{env};
    std::uint16_t https_port = free_port();
    std::uint16_t http_port = free_port();
    std::unique_ptr<pebble_server> ca;
    fs::path pebble_root;

    acme_world(std::int64_t validity_seconds, int nonce_reject = 0, bool start_ca = true) {
        pebble_options po;
        po.tls_port = https_port;
        po.http_port = http_port;
        po.validity_seconds = validity_seconds;
        po.nonce_reject_percent = nonce_reject;
        ca = std::make_unique<pebble_server>(env, po);
        pebble_root = env.write("pebble-root.pem", ca->issuance_root_pem());
        if (!start_ca) ca->stop();
    }

    // Starts pebble again after stop(). It comes back with a new root: the file the listener's
    // `trust` and the clients use is replaced (rename, so a reader never sees half of it).
    void restart_ca() {
        ca->start();
        const fs::path tmp = env.write("pebble-root.pem.new", ca->issuance_root_pem());
        fs::rename(tmp, pebble_root);
    }

    // One https listener with acme = true (and a scep listener for http-01).
    config_spec config(const std::string& challenge = "tls-alpn-01") const {
        config_spec c = env.default_config(legacy.url());
        c.listeners.clear();
        listener_spec l;
        l.name = "mdm";
        l.port = https_port;
        l.server_name = host;
        l.trust = pebble_root;
        l.extra = "acme = true";
        c.listeners.push_back(l);
        if (challenge == "http-01") {
            listener_spec s;
            s.name = "scep";
            s.kind = "scep";
            s.port = http_port;
            s.extra = "redirect = \"https://" + host + "\"";
            c.listeners.push_back(s);
        }
        c.extra = "[acme]\ndirectory = \"" + ca->directory_url() + "\"\nemail = \"ops@atsgate.test\"\nca = \"" +
                  ca->ca_file().string() + "\"\nstorage = \"" + env.path("acme").string() + "\"\nchallenge = \"" +
                  challenge + "\"\nretry_min = \"1s\"\nretry_max = \"2s\"\norder_timeout = \"30s\"\nrequest_timeout = \"5s\"\n";
        return c;
    }

    // A TLS client for `host` that trusts pebble's root.
    tls_client_options client_options() const {
        tls_client_options o;
        o.sni = host;
        o.ca_file = pebble_root;
        return o;
    }

    // GET / for `host` through curl, trusting pebble's root; "" on failure.
    command_result get(const std::string& path = "/echo") const {
        command_options co;
        co.timeout = 15000ms;
        return run_command({"curl", "-sS", "--max-time", "5", "--cacert", pebble_root.string(), "--resolve",
                            host + ":" + std::to_string(https_port) + ":127.0.0.1", "-o", "/dev/null", "-w",
                            "%{http_code} %{ssl_verify_result}",
                            "https://" + host + ":" + std::to_string(https_port) + path},
                           co);
    }
    bool serves() const {
        auto r = get();
        return r.exit_code == 0 && r.out == "200 0";
    }
};

std::string status_of_acme(const proxy& p) { return p.admin("GET", "/status"); }

// The first number after "key": in `json` (the /status document), or -1.
std::int64_t json_number(const std::string& json, const std::string& key) {
    std::smatch m;
    if (!std::regex_search(json, m, std::regex("\"" + key + "\":(-?[0-9]+)"))) return -1;
    return std::stoll(m[1].str());
}

// The served certificate's series of the expiry gauge every served certificate has.
std::string expiry_series() {
    return "atsgate_certificate_expiry_timestamp_seconds{listener=\"mdm\",name=\"" + host + "\",key=\"EC P-256\"}";
}
const std::string acme_id = host + ".ecdsa-p256";
std::string acme_series(const std::string& metric) { return metric + "{certificate=\"" + acme_id + "\"}"; }

// notAfter of `cert`, unix seconds.
std::int64_t not_after_of(X509* cert) {
    std::tm tm{};
    REQUIRE(ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1);
    return static_cast<std::int64_t>(timegm(&tm));
}

// How many orders reached pebble (its log line for each new-order request).
std::size_t orders_in(const std::string& pebble_log) {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = pebble_log.find("POST /order-plz", at)) != std::string::npos; ++at) ++n;
    return n;
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

bool wait_serving(const acme_world& w, milliseconds within = 30000ms) {
    return poll_until([&] { return w.serves(); }, within, 200ms);
}

}  // namespace

TEST_CASE("acme: first issuance by TLS-ALPN-01, then a restart serves the stored certificate without an order",
          "[acme][pebble]") {
    ATSGATE_REQUIRE_PEBBLE();
    acme_world w(86400);
    std::string issuance_log;
    {
        proxy p(w.env, w.config());
        INFO(p.proc().stderr_text() + p.proc().stdout_text() + "\npebble:\n" + w.ca->log());
        if (!wait_serving(w)) FAIL(p.proc().stderr_text() + p.proc().stdout_text() + "\npebble:\n" + w.ca->log());
        CHECK(p.wait_for_counter("atsgate_acme_orders_total{result=\"ok\"}", 1) == 1);
        CHECK(p.counter("atsgate_acme_orders_total{result=\"failed\"}") == 0);
        CHECK(p.counter("atsgate_acme_challenges_answered_total{challenge=\"tls-alpn-01\"}") >= 1);
        const std::string st = status_of_acme(p);
        CHECK(st.find("\"state\":\"valid\"") != std::string::npos);
        CHECK(st.find("\"reason\":\"two_thirds\"") != std::string::npos);
        // The served certificate's expiry is the gauge of every served certificate; the next
        // renewal is at two thirds of pebble's one-day lifetime.
        tls_client c(w.client_options());
        REQUIRE(c.connect(w.https_port).ok);
        const std::int64_t not_after = not_after_of(c.peer_certificate());
        const auto m = p.scrape();
        CHECK(static_cast<std::int64_t>(m.get(expiry_series())) == not_after);
        CHECK(json_number(st, "not_after") == not_after);
        const auto next = static_cast<std::int64_t>(m.get(acme_series("atsgate_acme_next_renewal_timestamp_seconds")));
        CHECK(next == json_number(st, "next_attempt"));
        CHECK(next >= not_after - 86400 / 3 - 5);
        CHECK(next <= not_after - 86400 / 3 + 5);
        CHECK(m.get(acme_series("atsgate_acme_consecutive_failures")) == 0);
        CHECK(m.get(acme_series("atsgate_acme_renewal_overdue")) == 0);
        // The dashboard lists it as valid.
        const std::string page = p.admin("GET", "/");
        CHECK(page.find("data-acme=\"" + acme_id + "\"") != std::string::npos);
        CHECK(page.find("<tr class=\"acme valid\"") != std::string::npos);
        // Storage: private directory, private files.
        CHECK(mode_of(w.env.path("acme")) == 0700);
        CHECK(mode_of(w.env.path("acme") / "certificates" / (host + ".ecdsa-p256.pem")) == 0600);
        p.proc().stop();
        issuance_log = p.proc().stdout_text() + p.proc().stderr_text();
    }
    CHECK(issuance_log.find("acme: certificate for " + host + " (ecdsa-p256) issued, audited and live") !=
          std::string::npos);
    if (const char* out = std::getenv("ATSGATE_ACME_LOG_OUT")) {
        std::ofstream(out) << "== atsgate ==\n" << issuance_log << "\n== pebble ==\n" << w.ca->log();
    }
    const std::string pebble_log_before = w.ca->log();
    // Restart: the stored certificate is served at once; no new order reaches the CA. The restarted
    // process runs with glibc's malloc checking where Debian has it (libc_malloc_debug), so a bad
    // free() aborts it at once: the first ARI poll after a restart (GET of the directory) once freed
    // a temporary twice (GCC 12 coroutine temporaries) and crashed atsgate now and then.
    // (Not in the sanitizer builds: they catch it themselves, and ASan must be the first library.)
    config_spec again_cfg = w.config();
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    if (fs::exists("/lib/x86_64-linux-gnu/libc_malloc_debug.so.0") || fs::exists("/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"))
        again_cfg.process_env = {{"GLIBC_TUNABLES", "glibc.malloc.check=3"}, {"LD_PRELOAD", "libc_malloc_debug.so.0"}};
#endif
    proxy again(w.env, again_cfg, "atsgate2");
    // The restarted process reads the directory (for renewalInfo) once it is up: wait for that
    // request at pebble, then check that it is still there and serving.
    const auto dir_gets = [](const std::string& log) {
        std::size_t n = 0;
        for (std::size_t at = 0; (at = log.find("GET /dir ", at)) != std::string::npos; ++at) ++n;
        return n;
    };
    const std::size_t dir_gets_before = dir_gets(pebble_log_before);
    CHECK(poll_until([&] { return dir_gets(w.ca->log()) > dir_gets_before; }, 15000ms, 100ms));
    CHECK(w.serves());
    CHECK(again.proc().running());
    if (!again.proc().running()) FAIL(again.proc().stderr_text() + again.proc().stdout_text());
    CHECK(again.counter("atsgate_acme_orders_total{result=\"ok\"}") == 0);
    CHECK(again.counter(refused_series("certificate_pending")) == 0);
    CHECK(orders_in(pebble_log_before) == 1);
    CHECK(orders_in(w.ca->log()) == 1);
    CHECK(again.proc().stderr_text().find("acme: ordering") == std::string::npos);
    CHECK(again.proc().running());
}

TEST_CASE("acme: first issuance by HTTP-01 on the plaintext listener", "[acme][pebble]") {
    ATSGATE_REQUIRE_PEBBLE();
    acme_world w(86400);
    proxy p(w.env, w.config("http-01"));
    INFO(p.proc().stderr_text() + p.proc().stdout_text() + "\npebble:\n" + w.ca->log());
    REQUIRE(wait_serving(w));
    CHECK(p.counter("atsgate_acme_challenges_answered_total{challenge=\"http-01\"}") >= 1);
    CHECK(p.counter("atsgate_acme_challenges_answered_total{challenge=\"tls-alpn-01\"}") == 0);
    // Anything else under the challenge prefix is ACME's: 404, never redirected or forwarded.
    auto code = [&](const std::string& path) {
        return run_command({"curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                            "http://127.0.0.1:" + std::to_string(w.http_port) + path})
            .out;
    };
    CHECK(code("/.well-known/acme-challenge/unknown-token") == "404");
    CHECK(code("/elsewhere") == "308");
}

TEST_CASE("acme: renewal is swapped in under a kept-alive connection", "[acme][pebble]") {
    ATSGATE_REQUIRE_PEBBLE();
    acme_world w(12);  // 12-second certificates: renewal due after 8 s
    proxy p(w.env, w.config());
    INFO(p.proc().stderr_text() + p.proc().stdout_text() + "\npebble:\n" + w.ca->log());
    REQUIRE(wait_serving(w));
    const tls_client_options o = w.client_options();
    tls_client kept(o);
    REQUIRE(kept.connect(w.https_port).ok);
    const std::string first_serial = serial_hex(kept.peer_certificate());
    const std::int64_t first_not_after = not_after_of(kept.peer_certificate());
    CHECK(static_cast<std::int64_t>(p.counter(expiry_series())) == first_not_after);
    const std::string req = "GET /echo HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    CHECK(status_of(kept.request(req).data) == 200);
    REQUIRE(p.wait_for_counter("atsgate_acme_renewals_total{result=\"ok\"}", 1, 30000ms) >= 1);
    // The kept-alive connection goes on (its snapshot pinned the old certificate)...
    CHECK(status_of(kept.request(req).data) == 200);
    // ... and a new connection gets the renewed certificate.
    REQUIRE(poll_until(
        [&] {
            tls_client fresh(o);
            return fresh.connect(w.https_port).ok && serial_hex(fresh.peer_certificate()) != first_serial;
        },
        10000ms, 200ms));
    // The kept-alive connection still works after new handshakes get the new certificate, and
    // still has the old one.
    CHECK(status_of(kept.request(req).data) == 200);
    CHECK(serial_hex(kept.peer_certificate()) == first_serial);
    // The expiry gauge follows the renewed certificate.
    CHECK(static_cast<std::int64_t>(p.counter(expiry_series())) > first_not_after);
    CHECK(p.counter("atsgate_acme_renewals_total{result=\"failed\"}") == 0);
    CHECK(p.counter("atsgate_acme_orders_total{result=\"ok\"}") == 1);
    CHECK(p.proc().running());
}

TEST_CASE("acme: a renewal that keeps failing is visible while the old certificate serves, then recovers",
          "[acme][pebble]") {
    ATSGATE_REQUIRE_PEBBLE();
    acme_world w(45);  // 45-second certificates: renewal due after 30 s, time to see it fail and recover
    proxy p(w.env, w.config());
    INFO(p.proc().stderr_text() + p.proc().stdout_text() + "\npebble:\n" + w.ca->log());
    REQUIRE(wait_serving(w));
    const tls_client_options o = w.client_options();
    tls_client first(o);
    REQUIRE(first.connect(w.https_port).ok);
    const std::string first_serial = serial_hex(first.peer_certificate());
    w.ca->stop();
    REQUIRE(p.wait_for_counter("atsgate_acme_renewals_total{result=\"failed\"}", 2, 60000ms) >= 2);
    // Failing, visibly: metrics, /status, the dashboard and a warning per attempt naming the expiry ...
    const auto m = p.scrape();
    CHECK(m.get(acme_series("atsgate_acme_consecutive_failures")) >= 2);
    CHECK(m.get(acme_series("atsgate_acme_renewal_overdue")) == 1);
    const std::string st = status_of_acme(p);
    CHECK(st.find("\"state\":\"failing\"") != std::string::npos);
    CHECK(st.find("\"overdue\":true") != std::string::npos);
    CHECK(st.find("Connection refused") != std::string::npos);
    CHECK(p.admin("GET", "/").find("<tr class=\"acme failing\"") != std::string::npos);
    CHECK(std::regex_search(p.proc().stderr_text(),
                            std::regex(" warning acme: renewal of " + std::regex_replace(host, std::regex("\\."), "\\.") +
                                       " \\(ecdsa-p256\\) failed \\(2 in a row\\): .*; next attempt .*; the served "
                                       "certificate expires ")));
    // ... while the certificate it has goes on being served.
    tls_client during(o);
    REQUIRE(during.connect(w.https_port).ok);
    CHECK(serial_hex(during.peer_certificate()) == first_serial);
    CHECK(p.proc().running());
    // The CA comes back: the next attempt (backoff capped at retry_max = 2 s) renews.
    w.restart_ca();
    REQUIRE(p.wait_for_counter("atsgate_acme_renewals_total{result=\"ok\"}", 1, 30000ms) >= 1);
    CHECK(p.counter(acme_series("atsgate_acme_consecutive_failures")) == 0);
    CHECK(status_of_acme(p).find("\"state\":\"valid\"") != std::string::npos);
    REQUIRE(poll_until(
        [&] {
            tls_client fresh(o);
            return fresh.connect(w.https_port).ok && serial_hex(fresh.peer_certificate()) != first_serial;
        },
        10000ms, 200ms));
}

TEST_CASE("acme: a CA that is down: backoff, counted, pending names refused, no exit", "[acme][pebble]") {
    ATSGATE_REQUIRE_PEBBLE();
    acme_world w(86400, 0, false);
    proxy p(w.env, w.config());
    INFO(p.proc().stderr_text() + p.proc().stdout_text());
    CHECK(p.wait_for_counter("atsgate_acme_orders_total{result=\"failed\"}", 2, 30000ms) >= 2);
    // Without a certificate the listener answers no ordinary handshake, with a counted reason.
    auto r = w.get();
    CHECK(r.out.rfind("200", 0) != 0);
    CHECK(p.wait_for_counter(refused_series("certificate_pending"), 1) >= 1);
    const std::string st = status_of_acme(p);
    CHECK(st.find("\"state\":\"pending\"") != std::string::npos);
    CHECK(st.find("Connection refused") != std::string::npos);
    CHECK(st.find("\"reason\":\"backoff\"") != std::string::npos);
    CHECK(st.find("\"not_after\"") == std::string::npos);
    CHECK(p.admin("GET", "/").find("<tr class=\"acme pending\"") != std::string::npos);
    CHECK(p.counter(acme_series("atsgate_acme_consecutive_failures")) >= 2);
    CHECK(p.scrape().values.count(expiry_series()) == 0);  // nothing served: no expiry
    CHECK(p.proc().running());
    CHECK(status_of(p.admin("GET", "/healthz")) == 200);
    CHECK(p.proc().stderr_text().find(" warning acme: order of " + host + " (ecdsa-p256) failed (") != std::string::npos);
    // The CA comes back: the first certificate arrives and the listener serves it; refusals stop.
    w.restart_ca();
    REQUIRE(wait_serving(w));
    CHECK(p.wait_for_counter("atsgate_acme_orders_total{result=\"ok\"}", 1) == 1);
    const auto refused = p.counter(refused_series("certificate_pending"));
    CHECK(w.serves());
    CHECK(p.counter(refused_series("certificate_pending")) == refused);
    CHECK(status_of_acme(p).find("\"state\":\"valid\"") != std::string::npos);
    CHECK(p.counter(acme_series("atsgate_acme_consecutive_failures")) == 0);
}

TEST_CASE("acme: a CA that refuses every nonce: badNonce retried, then backoff", "[acme][pebble]") {
    ATSGATE_REQUIRE_PEBBLE();
    acme_world w(86400, 100);
    proxy p(w.env, w.config());
    INFO(p.proc().stderr_text() + p.proc().stdout_text());
    CHECK(p.wait_for_counter("atsgate_acme_orders_total{result=\"failed\"}", 2, 30000ms) >= 2);
    const std::string st = status_of_acme(p);
    CHECK(st.find("badNonce") != std::string::npos);
    CHECK(st.find("\"reason\":\"backoff\"") != std::string::npos);
    CHECK(p.proc().running());
    // Retried: within the first order, the newAccount POST is sent again with the fresh nonce each
    // badNonce answer carries (pebble refuses every one), before the order gives up.
    const std::string log = p.proc().stderr_text() + p.proc().stdout_text();
    const auto first_failure = log.find("acme:     order failed: ");
    REQUIRE(first_failure != std::string::npos);
    const std::string first_order = log.substr(0, first_failure);
    const std::string new_account = "acme:   POST " + w.ca->directory_url().substr(0, w.ca->directory_url().size() - 4) +
                                    "/sign-me-up\n";
    std::size_t posts = 0;
    for (std::size_t at = 0; (at = first_order.find(new_account, at)) != std::string::npos; ++at) ++posts;
    CHECK(posts >= 2);
    // Backoff: after each failed order a warning names the next attempt.
    CHECK(log.find(" warning acme: order of " + host + " (ecdsa-p256) failed (2 in a row): ") != std::string::npos);
}

TEST_CASE("acme: pebble's 5-year certificate is refused by the audit and never served", "[acme][pebble]") {
    ATSGATE_REQUIRE_PEBBLE();
    acme_world w(0);  // pebble's default validity: 5 years
    const auto cfg = w.config();
    {
        proxy p(w.env, cfg);
        INFO(p.proc().stderr_text() + p.proc().stdout_text() + "\npebble:\n" + w.ca->log());
        REQUIRE(p.wait_for_counter("atsgate_acme_certificates_rejected_total", 1, 30000ms) >= 1);
        CHECK_FALSE(w.serves());
        CHECK(p.wait_for_counter(refused_series("certificate_pending"), 1) >= 1);
        const std::string st = status_of_acme(p);
        CHECK(st.find("cert.lifetime FAIL") != std::string::npos);
        // Logged at error with the failing rule, and kept aside.
        CHECK(std::regex_search(p.proc().stderr_text(),
                                std::regex(" error acme: the certificate issued for mdm\\.atsgate\\.test fails the ATS audit "
                                           "and is not served \\(kept as [^)]*\\.rejected\\.pem\\):\n +cert\\.lifetime FAIL")));
        CHECK(fs::exists(w.env.path("acme") / "certificates" / (acme_id + ".rejected.pem")));
        CHECK_FALSE(fs::exists(w.env.path("acme") / "certificates" / (acme_id + ".pem")));
        CHECK(p.scrape().values.count(expiry_series()) == 0);
        CHECK(p.admin("GET", "/").find("cert.lifetime FAIL") != std::string::npos);
        CHECK(p.proc().running());
    }
    // `atsgate check` reports the refused certificate with its failing rule (exit 3).
    auto r = run_command({atsgate_binary().string(), "check", "-c", w.env.path("atsgate.toml").string()});
    INFO(r.out + r.err);
    CHECK(r.exit_code == 3);
    CHECK(std::regex_search(r.out, std::regex("FAIL +cert\\.lifetime +.*lifetime 18[0-9][0-9] days")));
    CHECK(r.out.find("acme:" + host + ".ecdsa-p256") != std::string::npos);
}
