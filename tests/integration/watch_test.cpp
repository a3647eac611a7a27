// [server] watch = true on the real binary: a changed certificate (written in place), a Kubernetes
// style ..data symlink swap of the certificate's directory, and a broken configuration (refused:
// the old one keeps serving, /status and the metrics say so) each lead to one reload, with
// trigger "watch"; an unchanged rewrite does not.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

using namespace atsgate::itest;
using namespace std::chrono_literals;
namespace test = atsgate::test;

namespace {

cert_files write_leaf(const test_env& env, const std::string& name, const std::string& cn) {
    auto s = test_env::leaf_spec();
    s.common_name = cn;
    s.fresh_key = true;
    return env.issue(name, s);
}

std::string served_cn(std::uint16_t port) {
    tls_client c;
    return c.connect(port).ok ? common_name(c.peer_certificate()) : std::string{};
}

long generation(const proxy& px) {
    const auto st = px.admin("GET", "/status");
    const auto at = st.find("\"generation\":");
    return at == std::string::npos ? -1 : std::atol(st.c_str() + at + 13);
}

}  // namespace

TEST_CASE("watch: a certificate rewritten in place is served after one automatic reload", "[integration][watch]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    const auto live = write_leaf(env, "live", "first");
    auto cfg = env.default_config(be.url());
    cfg.server_extra = "watch = true";
    cfg.listeners[0].cert = live.cert;
    cfg.listeners[0].key = live.key;
    proxy px(env, cfg);
    REQUIRE(served_cn(px.port()) == "first");
    CHECK(generation(px) == 1);

    // An identical rewrite and a neighbouring file change nothing.
    test::write_file(live.cert, read_text(live.cert));
    env.write("unrelated.txt", "x");
    // A renewal: new certificate and key, written over the old files.
    write_leaf(env, "live", "second");
    CHECK(poll_until([&] { return served_cn(px.port()) == "second"; }, 10000ms));
    CHECK(generation(px) == 2);  // one reload for the burst (certificate, then key)
    const auto st = px.admin("GET", "/status");
    CHECK(st.find("\"trigger\":\"watch\"") != std::string::npos);
    CHECK(px.counter("atsgate_reloads_total{result=\"ok\"}") == 1);
}

TEST_CASE("watch: a Kubernetes ..data symlink swap of a mounted Secret is picked up", "[integration][watch]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    // The kubelet's layout: tls/tls.crt -> ..data/tls.crt, tls/..data -> ..2026_01_01.1
    const fs::path mount = env.dir() / "tls";
    fs::create_directories(mount / "..2026_01_01.1");
    const auto first = write_leaf(env, "first", "first");
    fs::copy_file(first.cert, mount / "..2026_01_01.1" / "tls.crt");
    fs::copy_file(first.key, mount / "..2026_01_01.1" / "tls.key");
    fs::create_directory_symlink("..2026_01_01.1", mount / "..data");
    fs::create_symlink("..data/tls.crt", mount / "tls.crt");
    fs::create_symlink("..data/tls.key", mount / "tls.key");
    auto cfg = env.default_config(be.url());
    cfg.server_extra = "watch = true";
    cfg.listeners[0].cert = mount / "tls.crt";
    cfg.listeners[0].key = mount / "tls.key";
    proxy px(env, cfg);
    REQUIRE(served_cn(px.port()) == "first");

    // The update, as the kubelet does it: a new directory, ..data_tmp renamed over ..data.
    const auto second = write_leaf(env, "second", "second");
    fs::create_directories(mount / "..2026_02_01.2");
    fs::copy_file(second.cert, mount / "..2026_02_01.2" / "tls.crt");
    fs::copy_file(second.key, mount / "..2026_02_01.2" / "tls.key");
    fs::create_directory_symlink("..2026_02_01.2", mount / "..data_tmp");
    fs::rename(mount / "..data_tmp", mount / "..data");
    fs::remove_all(mount / "..2026_01_01.1");
    CHECK(poll_until([&] { return served_cn(px.port()) == "second"; }, 10000ms));
    CHECK(generation(px) == 2);
}

TEST_CASE("watch: a broken configuration is refused and visible, fixing it reloads", "[integration][watch]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.server_extra = "watch = true";
    proxy px(env, cfg);
    const std::string good = read_text(px.config_path());
    test::write_file(px.config_path(), good + "\n[server]\n");  // duplicate table
    CHECK(px.wait_for_counter("atsgate_reloads_total{result=\"refused\"}", 1, 10000ms) == 1);
    CHECK(px.counter("atsgate_config_last_reload_successful") == 0);
    const auto st = px.admin("GET", "/status");
    CHECK(st.find("\"trigger\":\"watch\"") != std::string::npos);
    CHECK(st.find("\"ok\":false") != std::string::npos);
    tls_client c;
    CHECK(c.connect(px.port()).ok);  // still serving generation 1
    CHECK(px.proc().stderr_text().find("reload refused") != std::string::npos);

    test::write_file(px.config_path(), good);
    CHECK(px.wait_for_counter("atsgate_reloads_total{result=\"ok\"}", 1, 10000ms) == 1);
    CHECK(px.counter("atsgate_config_last_reload_successful") == 1);
    CHECK(generation(px) == 2);
}
