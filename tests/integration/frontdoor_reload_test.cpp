// Production front door (issue 5): operating the real binary — reload with a new certificate
// (POST /reload, `atsgate reload`, SIGHUP) without dropping open connections, refused reloads
// (expired certificate, config errors with FILE:LINE:COL) that keep the old configuration serving,
// listeners added and removed by a reload, the admin bearer token, and a SIGTERM drain that lets
// an in-flight 200 MiB download finish.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;
namespace test = atsgate::test;

namespace {

// A compliant leaf with subject CN `cn` for localhost / 127.0.0.1, written to NAME.pem / NAME.key
// (replacing them), with a key of its own.
cert_files write_leaf(const test_env& env, const std::string& name, const std::string& cn,
                      std::int64_t not_before = -3600, std::int64_t not_after = 90 * 86400) {
    auto s = test_env::leaf_spec();
    s.common_name = cn;
    s.fresh_key = true;
    s.not_before = not_before;
    s.not_after = not_after;
    return env.issue(name, s);
}

// CN of the certificate a new connection to `port` gets; "" if the handshake fails.
std::string served_cn(std::uint16_t port) {
    tls_client c;
    return c.connect(port).ok ? common_name(c.peer_certificate()) : std::string{};
}

// `atsgate ARGS...` to completion.
command_result run_atsgate(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {atsgate_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    command_options o;
    o.timeout = 20000ms;
    return run_command(argv, o);
}

// The "generation" /status reports.
long generation(const proxy& px) {
    const auto st = px.admin("GET", "/status");
    const auto at = st.find("\"generation\":");
    return at == std::string::npos ? -1 : std::atol(st.c_str() + at + 13);
}

std::string get(std::string_view target) { return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"; }

// A config whose one listener serves live.pem / live.key.
config_spec live_config(const test_env& env, const backend& be, const cert_files& live) {
    auto c = env.default_config(be.url());
    c.listeners[0].cert = live.cert;
    c.listeners[0].key = live.key;
    return c;
}

}  // namespace

TEST_CASE("frontdoor reload: a new certificate is served to new connections while a keep-alive connection keeps working",
          "[integration][frontdoor][reload]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    const auto live = write_leaf(env, "live", "first");
    proxy px(env, live_config(env, be, live));
    REQUIRE(served_cn(px.port()) == "first");

    // An open keep-alive connection, one request served; its session for resuming later.
    tls_client kept;
    REQUIRE(kept.connect(px.port()).ok);
    REQUIRE(status_of(kept.request(get("/status/204")).data) == 204);
    const auto session = kept.session();
    REQUIRE(session);

    // New certificate and key in the same files; `atsgate reload` (POST /reload) swaps them in.
    write_leaf(env, "live", "second");
    const auto r = run_atsgate({"reload", "-c", px.config_path().string()});
    INFO(r.describe() << "\n" << r.out);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("reloaded: generation 2") != std::string::npos);
    CHECK(generation(px) == 2);
    CHECK(served_cn(px.port()) == "second");
    // Session tickets issued before the reload still resume (the ticket keys are kept).
    tls_client_options o;
    o.session = session.get();
    tls_client resumed(o);
    REQUIRE(resumed.connect(px.port()).ok);
    CHECK(resumed.reused());
    CHECK(status_of(resumed.request(get("/status/204")).data) == 204);

    // The old connection was not dropped: it still serves, on its original certificate.
    auto again = kept.request(get("/status/204"));
    CHECK(status_of(again.data) == 204);
    CHECK_FALSE(again.closed);
    CHECK(common_name(kept.peer_certificate()) == "first");

    // SIGHUP does the same.
    write_leaf(env, "live", "third");
    REQUIRE(px.proc().signal(SIGHUP));
    CHECK(poll_until([&] { return served_cn(px.port()) == "third"; }, 10000ms, 20ms));
    CHECK(generation(px) == 3);
    again = kept.request(get("/status/204"));
    CHECK(status_of(again.data) == 204);
    CHECK(px.counter("atsgate_responses_total{class=\"5xx\"}") == 0);
}

TEST_CASE("frontdoor reload: an expired certificate is refused (409, atsgate reload exits 1) and the old one keeps serving",
          "[integration][frontdoor][reload]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    const auto live = write_leaf(env, "live", "first");
    proxy px(env, live_config(env, be, live));
    tls_client kept;
    REQUIRE(kept.connect(px.port()).ok);

    // Expired yesterday.
    write_leaf(env, "live", "expired", -30 * 86400, -86400);
    const auto resp = px.admin("POST", "/reload");
    INFO(resp);
    CHECK(status_of(resp) == 409);
    CHECK(body_of(resp).find("ATS audit failed") != std::string::npos);
    CHECK(body_of(resp).find("cert.validity") != std::string::npos);
    const auto cli = run_atsgate({"reload", "-c", px.config_path().string()});
    INFO(cli.describe());
    CHECK(cli.exit_code == 1);
    CHECK(cli.err.find("cert.validity") != std::string::npos);

    // SIGHUP has no reply to carry the reasons: the refusal shows on /status and /metrics.
    REQUIRE(px.proc().signal(SIGHUP));
    CHECK(px.wait_for_counter("atsgate_reloads_total{result=\"refused\"}", 3, 10000ms) == 3);
    const auto st = px.admin("GET", "/status");
    INFO(st);
    CHECK(st.find("\"reloads\":{\"ok\":0,\"refused\":3}") != std::string::npos);
    CHECK(st.find("\"trigger\":\"SIGHUP\",\"ok\":false,\"generation\":1") != std::string::npos);
    CHECK(st.find("cert.validity") != std::string::npos);
    CHECK(px.counter("atsgate_config_generation") == 1);

    // Still generation 1, still the old certificate, for new and open connections.
    CHECK(generation(px) == 1);
    CHECK(served_cn(px.port()) == "first");
    CHECK(status_of(kept.request(get("/status/204")).data) == 204);
    const auto c = curl(env, {"-o", "/dev/null", "-w", "%{http_code}", px.url("/mdm/enroll")});
    CHECK(c.out == "200");

    // A good certificate afterwards is accepted.
    write_leaf(env, "live", "fixed");
    CHECK(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(served_cn(px.port()) == "fixed");
    CHECK(px.counter("atsgate_reloads_total{result=\"ok\"}") == 1);
    CHECK(px.admin("GET", "/status").find("\"trigger\":\"admin\",\"ok\":true,\"generation\":2") != std::string::npos);
}

TEST_CASE("frontdoor reload: a config error keeps serving and answers 409 with FILE:LINE:COL for every problem",
          "[integration][frontdoor][reload]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const std::string good = read_text(px.config_path());

    // Two mistakes: a misspelt key and an unknown upstream.
    std::string text = good;
    const std::string anchor = "server_name = \"localhost\"\n";
    auto at = text.find(anchor);
    REQUIRE(at != std::string::npos);
    text.insert(at + anchor.size(), "min_versoin = \"1.2\"\n");
    at = text.find("upstream = \"legacy\"\n");
    REQUIRE(at != std::string::npos);
    text.replace(at, 19, "upstream = \"legcy\"\n");
    auto line_of = [&](const std::string& needle) {
        const auto pos = text.find(needle);
        return std::to_string(1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
    };
    const std::string file = px.config_path().string();
    const std::string typo = file + ":" + line_of("min_versoin") + ":1: listener[0].min_versoin: unknown key";
    const std::string upstream = file + ":" + line_of("legcy") + ":12: listener[0].upstream is \"legcy\"";
    test::write_file(px.config_path(), text);

    const auto resp = px.admin("POST", "/reload");
    INFO(resp);
    CHECK(status_of(resp) == 409);
    CHECK(body_of(resp).find("reload refused: configuration errors") != std::string::npos);
    CHECK(body_of(resp).find(typo) != std::string::npos);
    CHECK(body_of(resp).find(upstream) != std::string::npos);
    // The CLI reads the file first: a local config error is exit 2 with the same diagnostics.
    const auto cli = run_atsgate({"reload", "-c", file});
    INFO(cli.describe());
    CHECK(cli.exit_code == 2);
    CHECK(cli.err.find(typo) != std::string::npos);

    // Still serving generation 1.
    CHECK(generation(px) == 1);
    const auto c = curl(env, {"-o", "/dev/null", "-w", "%{http_code}", px.url("/mdm/enroll")});
    CHECK(c.out == "200");
    // Fixed file: reloads.
    test::write_file(px.config_path(), good);
    CHECK(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(generation(px) == 2);
}

TEST_CASE("frontdoor reload: listeners added by a reload serve, removed ones refuse connections",
          "[integration][frontdoor][reload]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    listener_spec old = cfg.listeners[0];
    old.name = "old";
    cfg.listeners.push_back(old);
    proxy px(env, cfg);
    auto code = [&](std::uint16_t port) {
        return curl(env, {"-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:" + std::to_string(port) + "/mdm/enroll"}).out;
    };
    REQUIRE(code(px.port(0)) == "200");
    REQUIRE(code(px.port(1)) == "200");
    const std::uint16_t old_port = px.port(1);

    // A kept-alive connection on the listener that goes away.
    tls_client on_old;
    REQUIRE(on_old.connect(old_port).ok);
    REQUIRE(status_of(on_old.request(get("/status/204")).data) == 204);

    // "old" removed, "new" added on a fresh port.
    auto next = px.spec();
    next.listeners[1].name = "new";
    next.listeners[1].port = free_port();
    test::write_file(px.config_path(), to_toml(next));
    const auto resp = px.admin("POST", "/reload");
    INFO(resp);
    REQUIRE(status_of(resp) == 200);
    const std::uint16_t new_port = next.listeners[1].port;
    CHECK(poll_until([&] { return port_accepts(new_port); }, 5000ms));
    CHECK(code(new_port) == "200");
    CHECK(poll_until([&] { return !port_accepts(old_port); }, 5000ms));
    CHECK(code(px.port(0)) == "200");
    const auto st = px.admin("GET", "/status");
    CHECK(st.find("\"name\":\"new\"") != std::string::npos);
    CHECK(st.find("\"name\":\"old\"") == std::string::npos);
    // The connection accepted by the removed listener finishes its business.
    CHECK(status_of(on_old.request(get("/status/204")).data) == 204);

    // Renaming a listener (and making it plaintext SCEP) on the same port: the port is atsgate's
    // own, so the reload goes through and the port serves the new listener.
    auto renamed = next;
    renamed.listeners[1].name = "renamed";
    renamed.listeners[1].kind = "scep";
    test::write_file(px.config_path(), to_toml(renamed));
    const auto rename = px.admin("POST", "/reload");
    INFO(rename);
    CHECK(status_of(rename) == 200);
    CHECK(poll_until(
        [&] {
            const auto r = curl(env, {"-s", "-o", "/dev/null", "-w", "%{http_code}",
                                      "http://127.0.0.1:" + std::to_string(new_port) + "/mdm/enroll"});
            return r.out == "403";  // plaintext now, and not SCEP: refused by the scep listener
        },
        5000ms, 20ms));
    test::write_file(px.config_path(), to_toml(next));
    CHECK(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(poll_until([&] { return code(new_port) == "200"; }, 5000ms, 20ms));

    // A reload adding a listener on a port someone else holds is refused as a whole.
    auto taken = next;
    listener_spec extra = next.listeners[0];
    extra.name = "taken";
    extra.port = be.port();
    taken.listeners.push_back(extra);
    taken.listeners[1].port = free_port();  // would move "new" too
    test::write_file(px.config_path(), to_toml(taken));
    const auto refused = px.admin("POST", "/reload");
    INFO(refused);
    CHECK(status_of(refused) == 409);
    CHECK(body_of(refused).find("cannot bind") != std::string::npos);
    CHECK(generation(px) == 4);
    CHECK(code(new_port) == "200");
    CHECK_FALSE(port_accepts(taken.listeners[1].port));
}

TEST_CASE("frontdoor admin: a bearer token guards every path but /healthz and /readyz, atsgate reload sends it",
          "[integration][frontdoor][admin]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.admin_token = "s3cret-admin-token";
    cfg.listeners[0].extra = "[[listener.route]]\nname = \"r\"\npath = \"/x\"\nupstream = \"legacy\"\n";
    proxy px(env, cfg);

    for (const char* path : {"/metrics", "/status"}) {
        INFO(path);
        CHECK(status_of(px.admin("GET", path, false)) == 401);
        CHECK(status_of(http_request(px.admin_port(), "GET", path, "Authorization: Bearer wrong-token-of-same-len\r\n")) == 401);
        CHECK(status_of(http_request(px.admin_port(), "GET", path, "Authorization: Basic czNjcmV0LWFkbWluLXRva2Vu\r\n")) == 401);
        CHECK(status_of(px.admin("GET", path)) == 200);
    }
    CHECK(status_of(http_request(px.admin_port(), "GET", "/metrics", "Authorization: bearer s3cret-admin-token\r\n")) == 200);
    CHECK(status_of(px.admin("POST", "/reload", false)) == 401);
    CHECK(status_of(px.admin("POST", "/routes/mdm/r/weights?legacy=5", false)) == 401);
    CHECK(generation(px) == 1);  // neither went through
    for (const char* path : {"/healthz", "/readyz"}) {
        INFO(path);
        CHECK(status_of(px.admin("GET", path, false)) == 200);
    }
    // The CLI takes the token from the config file.
    const auto r = run_atsgate({"reload", "-c", px.config_path().string()});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(generation(px) == 2);
    CHECK(status_of(px.admin("POST", "/routes/mdm/r/weights?legacy=5")) == 200);
    CHECK(generation(px) == 3);
    // A reload can change the token: the old one stops working at once.
    auto rotated = px.spec();
    rotated.admin_token = "rotated-admin-token";
    test::write_file(px.config_path(), to_toml(rotated));
    CHECK(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(status_of(px.admin("GET", "/metrics")) == 401);
    CHECK(status_of(http_request(px.admin_port(), "GET", "/metrics", "Authorization: Bearer rotated-admin-token\r\n")) == 200);
    const auto r2 = run_atsgate({"reload", "-c", px.config_path().string()});
    INFO(r2.describe());
    CHECK(r2.exit_code == 0);
    CHECK(status_of(http_request(px.admin_port(), "GET", "/status", "Authorization: Bearer rotated-admin-token\r\n")) == 200);

    // An admin endpoint nobody answers on: exit 1.
    auto unreachable = px.spec();
    unreachable.admin_port = free_port();
    const auto copy = env.write("unreachable.toml", to_toml(unreachable));
    const auto r1 = run_atsgate({"reload", "-c", copy.string()});
    INFO(r1.describe());
    CHECK(r1.exit_code == 1);
}

TEST_CASE("frontdoor drain: SIGTERM lets an in-flight 200 MiB download finish byte-exact, then exits 0",
          "[integration][frontdoor][drain][slow]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.drain_timeout = "60s";
    proxy px(env, cfg);

    constexpr std::uint64_t size = 200ull * 1024 * 1024;
    std::atomic<std::uint64_t> got{0};
    command_result result;
    std::string digest;
    // Streamed and hashed as it arrives; rate-limited so that it is surely in flight at SIGTERM.
    std::thread download([&] {
        sha256 h;
        command_options o;
        o.timeout = 120000ms;
        o.on_stdout = [&](std::string_view piece) {
            h.update(piece);
            got += piece.size();
        };
        result = curl(env, {"--limit-rate", "100M", px.url("/bytes/" + std::to_string(size))}, o);
        digest = h.hex();
    });
    const bool flowing = poll_until([&] { return got.load() >= 8ull * 1024 * 1024; }, 30000ms, 5ms);
    const auto signalled = clock::now();
    const bool sent = px.proc().signal(SIGTERM);
    const auto at_signal = got.load();
    // While it drains, the listener refuses new connections and /readyz says so.
    const bool refused = poll_until([&] { return !port_accepts(px.port()); }, 5000ms);
    const int ready = got.load() < size ? status_of(px.admin("GET", "/readyz")) : 503;
    download.join();

    INFO(result.describe());
    REQUIRE(flowing);
    REQUIRE(sent);
    CHECK(at_signal < size);  // it really was in flight
    CHECK(refused);
    CHECK(ready == 503);
    CHECK(result.exit_code == 0);
    CHECK(got.load() == size);
    CHECK(digest == pattern_sha256(size));
    const auto status = px.proc().wait(signalled + scaled(30000ms));
    INFO(px.proc().stderr_text());
    CHECK(status == 0);
}
