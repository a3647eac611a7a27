// [server] log_format = "json": every line of the event log (stderr) and of the access log
// (stdout) is one JSON object with the documented fields (checked with Python's json module),
// messages with quotes, newlines and peer-controlled text included; a reload switches the format.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

// Python: parses every line of FILE as JSON (exit 1 and the line on failure) and prints
// KEY=VALUE for the fields asked for, one line per record.
constexpr const char* check_py = R"PY(
import json, sys
path, fields = sys.argv[1], sys.argv[2].split(",")
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    if not line.strip():
        continue
    try:
        rec = json.loads(line)
    except Exception as e:
        print("NOT JSON at line %d: %r (%s)" % (n, line, e)); sys.exit(1)
    if not isinstance(rec, dict):
        print("NOT AN OBJECT at line %d" % n); sys.exit(1)
    print(" ".join("%s=%s" % (f, rec.get(f, "<missing>")) for f in fields))
)PY";

command_result json_lines(const test_env& env, const fs::path& file, const std::string& fields) {
    const auto script = env.dir() / "check_json.py";
    if (!fs::exists(script)) env.write("check_json.py", check_py);
    return run_command({"python3", script.string(), file.string(), fields});
}

}  // namespace

TEST_CASE("log_format json: event and access logs are JSON lines with the documented fields", "[integration][logs]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3", "curl");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.server_extra = "log_format = \"json\"";
    proxy px(env, cfg);
    REQUIRE(curl(env, {"-X", "PUT", "--data-binary", "x", px.url("/echo?a=\"b\"")}).exit_code == 0);
    // A refused handshake (peer-controlled SNI in the message) and a refused reload (a multi-line
    // message with quotes) go to the event log.
    tls_client_options old;
    old.max_version = TLS1_1_VERSION;
    old.min_version = TLS1_1_VERSION;
    old.cipher_list = "DEFAULT:@SECLEVEL=0";
    old.sni = "we\"ird.example";
    tls_client c(old);
    CHECK_FALSE(c.connect(px.port()).ok);
    atsgate::test::write_file(px.config_path(), read_text(px.config_path()) + "\n[server]\n");
    CHECK(status_of(px.admin("POST", "/reload")) == 409);

    CHECK(poll_until([&] { return px.proc().stdout_text().find("\"target\"") != std::string::npos; }, 5000ms));
    const auto access = json_lines(env, px.proc().stdout_path(), "client,method,target,version,status,bytes,tls_version,listener");
    INFO(access.out);
    REQUIRE(access.exit_code == 0);
    CHECK(access.out.find("client=127.0.0.1 method=PUT target=/echo?a=\"b\" version=HTTP/1.1 status=200 bytes=") !=
          std::string::npos);
    CHECK(access.out.find("tls_version=TLSv1.3 listener=mdm") != std::string::npos);
    CHECK(access.out.find("<missing>") == std::string::npos);

    CHECK(poll_until([&] { return px.proc().stderr_text().find("reload refused") != std::string::npos; }, 5000ms));
    const auto events = json_lines(env, px.proc().stderr_path(), "level,msg");
    INFO(events.out);
    REQUIRE(events.exit_code == 0);
    CHECK(events.out.find("level=info msg=handshake refused") != std::string::npos);
    CHECK(events.out.find("level=error msg=reload refused") != std::string::npos);
    CHECK(events.out.find("level=info msg=listener mdm") != std::string::npos);
    const auto times = json_lines(env, px.proc().stderr_path(), "time");
    CHECK(times.out.find("time=<missing>") == std::string::npos);
}

TEST_CASE("log_format: a reload switches text to json", "[integration][logs]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3", "curl");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    REQUIRE(curl(env, {px.url("/status/204")}).exit_code == 0);
    CHECK(poll_until([&] { return px.proc().stdout_text().find("\"GET /status/204 HTTP/1.1\" 204") != std::string::npos; },
                     5000ms));
    const std::string text = read_text(px.config_path());
    const auto at = text.find("access_log = true\n");
    REQUIRE(at != std::string::npos);
    atsgate::test::write_file(px.config_path(), text.substr(0, at) + "access_log = true\nlog_format = \"json\"\n" +
                                                     text.substr(at + 18));
    REQUIRE(status_of(px.admin("POST", "/reload")) == 200);
    REQUIRE(curl(env, {px.url("/status/201")}).exit_code == 0);
    CHECK(poll_until([&] { return px.proc().stdout_text().find("\"target\":\"/status/201\"") != std::string::npos; },
                     5000ms));
    CHECK(px.proc().stderr_text().find("{\"time\":") != std::string::npos);
}
