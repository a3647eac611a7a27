// The admin endpoint's loopback-or-token rule is judged against the address actually bound (issue 9
// item 5): the address changes only at a restart, so a reload that drops the token while the bound
// address is not loopback would open /status and POST /reload to anyone who can reach it.
//
// The endpoint is bound to ::ffff:127.0.0.1 -- loopback traffic only, but not a loopback address by
// atsgate's rule (127.0.0.0/8 or ::1), so it needs a token, as 0.0.0.0 would.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <string>

using namespace atsgate::itest;
using namespace std::chrono_literals;
namespace test = atsgate::test;

namespace {

const std::string token = "admin-token-0123456789";

// [admin] written by hand (the fixture writes 127.0.0.1): `address`, the port chosen here, `tok`.
std::string admin_table(const std::string& address, std::uint16_t port, const std::string& tok) {
    std::string t = "[admin]\naddress = \"" + address + "\"\nport = " + std::to_string(port) + "\n";
    if (!tok.empty()) t += "token = \"" + tok + "\"\n";
    return t;
}

std::string last_reload(const proxy& px) {
    const auto st = body_of(px.admin("GET", "/status"));
    const auto at = st.find("\"last_reload\":");
    return at == std::string::npos ? std::string() : st.substr(at, st.find('}', at) - at + 1);
}

}  // namespace

TEST_CASE("admin: a reload that removes the token while the bound address is not loopback is refused",
          "[integration][admin]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.admin = false;  // written below, on ::ffff:127.0.0.1
    cfg.admin_port = free_port();
    cfg.admin_token = token;  // what proxy::admin() sends
    cfg.extra = admin_table("::ffff:127.0.0.1", cfg.admin_port, token);
    proxy px(env, cfg);
    REQUIRE(poll_until([&] { return port_accepts(px.admin_port()); }, 10000ms));
    CHECK(status_of(px.admin("GET", "/status", false)) == 401);
    CHECK(status_of(px.admin("GET", "/status")) == 200);

    // The new file says loopback without a token: valid on its own, but the socket stays where it is.
    auto dropped = px.spec();
    dropped.extra = admin_table("127.0.0.1", cfg.admin_port, "");
    test::write_file(px.config_path(), to_toml(dropped));

    const auto resp = px.admin("POST", "/reload");
    INFO(resp);
    CHECK(status_of(resp) == 409);
    CHECK_THAT(body_of(resp), Catch::Contains("reload refused: [admin] token is empty, but the admin endpoint is bound "
                                              "to [::ffff:127.0.0.1]:" + std::to_string(cfg.admin_port) +
                                              ", which is not loopback"));
    // Still guarded, and /status says why the reload was refused.
    CHECK(status_of(px.admin("GET", "/status", false)) == 401);
    CHECK(status_of(px.admin("POST", "/reload", false)) == 401);
    auto lr = last_reload(px);
    CHECK_THAT(lr, Catch::Contains("\"trigger\":\"admin\"") && Catch::Contains("\"ok\":false") &&
                       Catch::Contains("which is not loopback"));

    // SIGHUP takes the same path.
    REQUIRE(px.proc().signal(SIGHUP));
    REQUIRE(px.wait_for_counter("atsgate_reloads_total{result=\"refused\"}", 2) == 2);
    CHECK(status_of(px.admin("GET", "/metrics", false)) == 401);
    lr = last_reload(px);
    CHECK_THAT(lr, Catch::Contains("\"trigger\":\"SIGHUP\"") && Catch::Contains("\"ok\":false"));

    // Keeping the token (any address in the file) reloads.
    auto kept = px.spec();
    kept.extra = admin_table("127.0.0.1", cfg.admin_port, token);
    test::write_file(px.config_path(), to_toml(kept));
    CHECK(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(status_of(px.admin("GET", "/status", false)) == 401);
    CHECK(px.counter("atsgate_reloads_total{result=\"ok\"}") == 1);
}

TEST_CASE("admin: on a loopback address a reload may remove the token", "[integration][admin]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.admin_token = token;
    proxy px(env, cfg);
    CHECK(status_of(px.admin("GET", "/status", false)) == 401);
    auto dropped = px.spec();
    dropped.admin_token.clear();
    test::write_file(px.config_path(), to_toml(dropped));
    CHECK(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(status_of(px.admin("GET", "/status", false)) == 200);
}
