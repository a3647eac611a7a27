// The /metrics series operators alert on (proxy/server/ops_metrics): build info, certificate
// expiry per served certificate (the exact notAfter of the files), the last reload's outcome,
// upstream members up/down, the drain flag, the connection and descriptor limits.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

// notAfter of the first certificate in a PEM file, unix seconds.
std::int64_t not_after(const fs::path& pem) {
    std::FILE* f = std::fopen(pem.c_str(), "r");
    REQUIRE(f != nullptr);
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE(x != nullptr);
    std::tm tm{};
    REQUIRE(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1);
    X509_free(x);
    return static_cast<std::int64_t>(timegm(&tm));
}

// The series of `m` whose name starts with `prefix` (labels included), as "name{...}" -> value.
std::map<std::string, std::uint64_t> series(const metrics& m, std::string_view prefix) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& [k, v] : m.values)
        if (k.rfind(prefix, 0) == 0) out.emplace(k, v);
    return out;
}

}  // namespace

TEST_CASE("ops metrics: build info, certificate expiry per certificate, limits", "[integration][metrics]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    // The default certificate is the ECDSA + RSA pair: one series each.
    cfg.listeners[0].extra = "[[listener.certificate]]\ncert = \"" + env.rsa().cert.string() + "\"\nkey = \"" +
                             env.rsa().key.string() + "\"\n";
    cfg.limits = "max_connections = 321";
    const auto started = static_cast<std::uint64_t>(std::time(nullptr));
    proxy px(env, cfg);
    const auto m = px.scrape();

    const auto build = series(m, "atsgate_build_info{");
    REQUIRE(build.size() == 1);
    CHECK(build.begin()->first.find("version=\"0.") != std::string::npos);
    CHECK(build.begin()->first.find("openssl=\"3.") != std::string::npos);
    CHECK(build.begin()->second == 1);
    CHECK(m.get("atsgate_start_time_seconds") >= started - 1);
    CHECK(m.get("atsgate_start_time_seconds") <= static_cast<std::uint64_t>(std::time(nullptr)));

    const auto expiry = series(m, "atsgate_certificate_expiry_timestamp_seconds{");
    CHECK(expiry.size() == 2);
    CHECK(m.get("atsgate_certificate_expiry_timestamp_seconds{listener=\"mdm\",name=\"localhost\",key=\"EC P-256\"}") ==
          static_cast<std::uint64_t>(not_after(env.ecdsa().cert)));
    CHECK(m.get("atsgate_certificate_expiry_timestamp_seconds{listener=\"mdm\",name=\"localhost\",key=\"RSA 2048\"}") ==
          static_cast<std::uint64_t>(not_after(env.rsa().cert)));

    CHECK(m.get("atsgate_connections_max") == 321);
    CHECK(m.get("atsgate_draining") == 0);
    CHECK(m.get("process_open_fds") > 0);
    CHECK(m.get("process_max_fds") >= m.get("process_open_fds"));
    CHECK(m.get("atsgate_config_last_reload_successful") == 1);
    CHECK(m.get("atsgate_config_last_reload_success_timestamp_seconds") == m.get("atsgate_start_time_seconds"));
}

TEST_CASE("ops metrics: a refused reload shows as last_reload_successful 0 until a reload is applied",
          "[integration][metrics]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const std::string good = read_text(px.config_path());
    atsgate::test::write_file(px.config_path(), good + "\n[server]\n");  // duplicate table: refused
    CHECK(status_of(px.admin("POST", "/reload")) == 409);
    CHECK(px.counter("atsgate_config_last_reload_successful") == 0);
    CHECK(px.counter("atsgate_config_last_reload_success_timestamp_seconds") == px.counter("atsgate_start_time_seconds"));

    atsgate::test::write_file(px.config_path(), good);
    const auto before = static_cast<std::uint64_t>(std::time(nullptr));
    CHECK(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(px.counter("atsgate_config_last_reload_successful") == 1);
    CHECK(px.counter("atsgate_config_last_reload_success_timestamp_seconds") >= before);
}

TEST_CASE("ops metrics: upstream members up and down follow the active health check", "[integration][metrics]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend a(env, "a");
    auto cfg = env.default_config(a.url());
    cfg.upstream_extra = "health_path = \"/health\"\nhealth_interval = \"1s\"\nhealth_timeout = \"1s\"\nhealth_fall = 1\n"
                         "health_rise = 1";
    proxy px(env, cfg);
    const std::string up = "atsgate_upstream_member_up{upstream=\"legacy\",member=\"" + a.url() + "\"}";
    CHECK(px.counter(up) == 1);
    REQUIRE(status_of(a.get("/health/down")) == 200);
    CHECK(poll_until([&] { return px.counter(up) == 0; }, 10000ms));
    REQUIRE(status_of(a.get("/health/up")) == 200);
    CHECK(poll_until([&] { return px.counter(up) == 1; }, 10000ms));
}

TEST_CASE("ops metrics: atsgate_draining is 1 once SIGTERM starts the drain", "[integration][metrics]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3", "curl");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.drain_timeout = "10s";
    proxy px(env, cfg);
    // An in-flight request keeps the process (and its admin endpoint) alive while it drains.
    spawn_options o;
    o.stdout_path = env.path("slow.out");
    process slow({"curl", "-sS", "--cacert", env.root_pem().string(), "--max-time", "30",
                  px.url("/slow?ms=" + std::to_string(scaled(1500ms).count()))},
                 o);
    REQUIRE(poll_until([&] { return be.received("/slow?ms="); }, 10000ms));
    REQUIRE(px.proc().signal(SIGTERM));
    CHECK(poll_until([&] { return px.counter("atsgate_draining") == 1; }, 2000ms));
    CHECK(slow.wait(deadline_after(20000ms)) == 0);
}
