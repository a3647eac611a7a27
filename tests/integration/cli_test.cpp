// The command line of the real binary: the start-up audit refuses non-compliant certificates
// (exit 3, the rule named, nothing bound), `check` agrees in text and JSON, configuration errors
// exit 2 pointing at FILE:LINE:COLUMN, and the informational options exit 0.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;
namespace test = atsgate::test;

namespace {

constexpr std::int64_t day = 86400;
// cert_factory::leaf_spec() uses cached key slot 1 (the CAs use 0): slot 2 is a key of nobody's.
constexpr int leaf_slot_other = 2;

command_result run_atsgate(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {atsgate_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    command_options o;
    o.timeout = 30000ms;
    return run_command(argv, o);
}

// True if a line of the text report shows `rule` with status FAIL.
bool fails_rule(const std::string& report, const std::string& rule) {
    std::istringstream in(report);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string status, code;
        words >> status >> code;
        if (status == "FAIL" && code == rule) return true;
    }
    return false;
}

// "rule status" lines from `check --json` output, parsed by python3's json module (so the test
// also proves it is valid JSON). Empty if it does not parse.
std::vector<std::string> json_findings(const test_env& env, const std::string& json) {
    const auto file = env.write("report.json", json);
    const auto r = run_command({"python3", "-c",
                                "import json, sys\n"
                                "d = json.load(open(sys.argv[1]))\n"
                                "assert d['version'] == 1\n"
                                "for f in d['findings']: print(f['rule'], f['status'])\n",
                                file.string()});
    if (r.exit_code != 0) return {};
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// A config for listener certificate `files` on fixed free ports (nothing starts here).
config_spec config_for(const test_env& env, const cert_files& files) {
    auto c = env.default_config("http://127.0.0.1:9");  // never contacted
    c.listeners[0].cert = files.cert;
    c.listeners[0].key = files.key;
    c.listeners[0].port = free_port();
    c.admin_port = free_port();
    return c;
}

struct bad_cert {
    const char* label;
    const char* rule;  // the audit rule that must FAIL
    std::function<cert_files(const test_env&)> make;
};

std::vector<bad_cert> bad_certs() {
    using test::key_type;
    return {
        {"RSA-1024 key", "cert.key_strength",
         [](const test_env& e) { return e.issue("rsa1024", test_env::leaf_spec(key_type::rsa_1024)); }},
        {"SHA-1 signed leaf", "cert.signature_hash",
         [](const test_env& e) {
             auto s = test_env::leaf_spec();
             s.sig = test::digest::sha1;
             return e.issue("sha1", s);
         }},
        {"expired", "cert.validity",
         [](const test_env& e) {
             auto s = test_env::leaf_spec();
             s.not_before = -100 * day;
             s.not_after = -1 * day;
             return e.issue("expired", s);
         }},
        {"not yet valid", "cert.validity",
         [](const test_env& e) {
             auto s = test_env::leaf_spec();
             s.not_before = 1 * day;
             s.not_after = 90 * day;
             return e.issue("future", s);
         }},
        {"self-signed leaf", "cert.self_signed",
         [](const test_env& e) { return e.issue("selfsigned", test_env::leaf_spec(), true); }},
        {"CN only, no SAN", "cert.san",
         [](const test_env& e) {
             auto s = test_env::leaf_spec();
             s.san_dns.clear();
             s.san_ip.clear();
             return e.issue("cnonly", s);
         }},
        {"no serverAuth EKU", "cert.eku",
         [](const test_env& e) {
             auto s = test_env::leaf_spec();
             s.usage = test::eku::client_auth;
             return e.issue("clientauth", s);
         }},
        {"900-day lifetime", "cert.lifetime",
         [](const test_env& e) {
             auto s = test_env::leaf_spec();
             s.not_after = 900 * day;
             return e.issue("lifetime", s);
         }},
        {"key does not match", "cert.key_match",
         [](const test_env& e) {
             const auto leaf = e.make(test_env::leaf_spec(), &e.root());
             auto other_spec = test_env::leaf_spec();
             other_spec.key_slot = leaf_slot_other;  // another cached P-256 key than the leaf's
             const auto other = e.make(other_spec, &e.root());
             return e.write_cert("mismatch", {&leaf}, other);
         }},
        {"missing intermediate", "cert.chain",
         [](const test_env& e) {
             const auto inter = e.factory().intermediate(e.root());
             const auto leaf = e.make(test_env::leaf_spec(), &inter);
             return e.write_cert("nointer", {&leaf}, leaf);  // served without the intermediate
         }},
    };
}

}  // namespace

TEST_CASE("cli: run refuses each non-compliant certificate with exit 3 and binds nothing", "[integration][cli]") {
    test_env env;
    for (const auto& bad : bad_certs()) {
        INFO(bad.label << " -> " << bad.rule);
        const auto cfg = config_for(env, bad.make(env));
        const auto path = env.write("bad.toml", to_toml(cfg));
        const auto r = run_atsgate({"run", "-c", path.string()});
        INFO(r.describe());
        CHECK(r.exit_code == 3);
        CHECK(fails_rule(r.err, bad.rule));
        CHECK(r.err.find("refusing to start") != std::string::npos);
        CHECK(r.out.empty());  // no access log: nothing was served
        CHECK(port_is_free(cfg.listeners[0].port));
        CHECK(port_is_free(cfg.admin_port));
    }
}

TEST_CASE("cli: run refuses before binding even when the port is taken", "[integration][cli]") {
    // The audit runs before any socket is opened: with the listener port occupied, a bad
    // certificate still gives exit 3 (audit), not 1 (cannot bind).
    test_env env;
    auto cfg = config_for(env, env.issue("rsa1024", test_env::leaf_spec(atsgate::test::key_type::rsa_1024)));
    const auto path = env.write("bad.toml", to_toml(cfg));
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    // Something listens on the port (a python3 socket server would do; our backend is at hand).
    backend be(env);
    cfg.listeners[0].port = be.port();
    test::write_file(path, to_toml(cfg));
    const auto r = run_atsgate({"run", "-c", path.string()});
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(fails_rule(r.err, "cert.key_strength"));

    // The control: a good certificate on the taken port is a runtime error (exit 1).
    cfg.listeners[0].cert = env.ecdsa().cert;
    cfg.listeners[0].key = env.ecdsa().key;
    test::write_file(path, to_toml(cfg));
    const auto good = run_atsgate({"run", "-c", path.string()});
    INFO(good.describe());
    CHECK(good.exit_code == 1);
}

TEST_CASE("cli: check exits 3 for non-compliant certificates and 0 for a good config", "[integration][cli]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    for (const auto& bad : bad_certs()) {
        INFO(bad.label << " -> " << bad.rule);
        const auto cfg = config_for(env, bad.make(env));
        const auto path = env.write("bad.toml", to_toml(cfg));
        const auto text = run_atsgate({"check", "-c", path.string()});
        INFO(text.describe() << "\nstdout:\n" << text.out);
        CHECK(text.exit_code == 3);
        CHECK(fails_rule(text.out, bad.rule));
        CHECK(text.out.find("NOT COMPLIANT") != std::string::npos);

        const auto json = run_atsgate({"check", "-c", path.string(), "--json"});
        INFO(json.describe() << "\nstdout:\n" << json.out);
        CHECK(json.exit_code == 3);
        const auto findings = json_findings(env, json.out);
        CHECK_FALSE(findings.empty());
        CHECK(contains(findings, std::string(bad.rule) + " fail"));
        CHECK(port_is_free(cfg.listeners[0].port));  // check opens no sockets
    }

    // The good config: exit 0, and every rule passes in both renderings.
    for (const auto* files : {&env.ecdsa(), &env.rsa()}) {
        const auto cfg = config_for(env, *files);
        const auto path = env.write("good.toml", to_toml(cfg));
        const auto text = run_atsgate({"check", "-c", path.string()});
        INFO(text.describe() << "\nstdout:\n" << text.out);
        CHECK(text.exit_code == 0);
        CHECK(text.out.find("0 fail, 0 unknown: COMPLIANT") != std::string::npos);
        const auto json = run_atsgate({"check", "-c", path.string(), "--json"});
        CHECK(json.exit_code == 0);
        const auto findings = json_findings(env, json.out);
        CHECK(findings.size() >= 13);
        for (const char* rule : {"tls.version", "tls.pfs_suites", "tls.ems", "cert.key_strength", "cert.signature_hash",
                                 "cert.validity", "cert.self_signed", "cert.chain", "cert.san", "cert.eku",
                                 "cert.lifetime", "cert.key_match"}) {
            INFO(rule);
            CHECK(contains(findings, std::string(rule) + " pass"));
        }
    }
}

TEST_CASE("cli: config errors exit 2 with FILE:LINE:COLUMN naming the key", "[integration][cli]") {
    test_env env;
    const std::string good = to_toml(config_for(env, env.ecdsa()));
    struct row {
        const char* label;
        std::string find, replace;  // edit of the good config
        std::string key_text;       // what the diagnostic must say after FILE:LINE:COL:
        int column;
    };
    const std::vector<row> rows = {
        {"unknown key", "access_log = true\n", "access_log = true\nworkerz = 2\n",
         "server.workerz: unknown key (did you mean \"workers\"?)", 1},
        {"wrong type", "workers = 2\n", "workers = \"two\"\n", "server.workers is a string, must be an integer", 11},
        {"unknown upstream", "upstream = \"legacy\"\n", "upstream = \"legcy\"\n",
         "listener[0].upstream is \"legcy\", no [[upstream]] has that name", 12},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        std::string text = good;
        const auto at = text.find(r.find);
        REQUIRE(at != std::string::npos);
        text.replace(at, r.find.size(), r.replace);
        // The line of the edited key: where the last line of the replacement starts.
        const auto last_line = r.replace.substr(r.replace.rfind('\n', r.replace.size() - 2) + 1);
        const auto key_at = text.find(last_line, at);
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(key_at), '\n');
        const auto path = env.write("broken.toml", text);
        const std::string expected = path.string() + ":" + std::to_string(line) + ":" + std::to_string(r.column) +
                                     ": " + r.key_text;
        for (const char* cmd : {"run", "check"}) {
            INFO(cmd << "\n" << text);
            const auto res = run_atsgate({cmd, "-c", path.string()});
            INFO(res.describe());
            CHECK(res.exit_code == 2);
            CHECK(res.err.find(expected) != std::string::npos);
        }
    }
    // A missing file is a config error too.
    const auto missing = run_atsgate({"check", "-c", env.path("nope.toml").string()});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("nope.toml") != std::string::npos);
}

TEST_CASE("cli: --version and --help exit 0", "[integration][cli]") {
    const auto version = run_atsgate({"--version"});
    CHECK(version.exit_code == 0);
    CHECK(version.out.rfind("atsgate ", 0) == 0);
    CHECK(version.out.find("OpenSSL") != std::string::npos);

    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--help"}, {"-h"}, {"run", "--help"}, {"check", "--help"}}) {
        INFO(join(args, " "));
        const auto r = run_atsgate(args);
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("usage: atsgate") != std::string::npos);
        CHECK(r.err.empty());
    }
    CHECK(run_atsgate({"run", "--help"}).out.find("atsgate run") != std::string::npos);
    CHECK(run_atsgate({"check", "--help"}).out.find("--json") != std::string::npos);

    // And the usage errors are exit 2.
    CHECK(run_atsgate({}).exit_code == 2);
    CHECK(run_atsgate({"frobnicate"}).exit_code == 2);
    CHECK(run_atsgate({"check", "--no-such-option"}).exit_code == 2);
}
