// Loader behaviour that golden text alone does not show: the parsed values of valid configs field
// by field (defaults, absolute paths, durations, sizes, positions), load_string path anchoring,
// load_file I/O errors, and the diagnostic fields (key_path, hint, severity).

#include "config/loader.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
namespace cfg = atsgate::config;
using namespace std::chrono_literals;

namespace {

const fs::path golden_dir{ATSGATE_CONFIG_GOLDEN_DIR};

cfg::source_pos at(const fs::path& file, std::uint32_t line, std::uint32_t column) {
    return cfg::source_pos{file.string(), line, column};
}

bool same_pos(const cfg::source_pos& a, const cfg::source_pos& b) {
    return a.file == b.file && a.line == b.line && a.column == b.column;
}

// A fresh directory under $TMPDIR, removed on scope exit.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "atsgate-config-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    fs::path write(const std::string& name, const std::string& content) const {
        const fs::path p = path / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
};

// Every diagnostic rendered, for INFO() when an expectation fails.
std::string all_diags(const cfg::load_result& r) {
    std::string out;
    for (const auto& d : r.diags) out += d.to_string() + "\n";
    return out;
}

constexpr const char* minimal_body = R"(
[[listener]]
name = "mdm"
port = 443
cert = "certs/mdm.pem"
key = "certs/mdm.key"
upstream = "legacy"

[[upstream]]
name = "legacy"
url = "http://10.0.0.5:8080"
)";

}  // namespace

TEST_CASE("config: a full valid config is parsed field by field", "[config][loader]") {
    const fs::path file = golden_dir / "valid_full.toml";
    const auto r = cfg::load_file(file.string());
    INFO(all_diags(r));
    REQUIRE(r.diags.empty());
    REQUIRE(r.value);
    const cfg::config& c = *r.value;
    CHECK(c.path == file.string());

    CHECK(c.server.workers == 4);
    CHECK(c.server.drain_timeout == 45s);
    CHECK(c.server.level == cfg::log_level::debug);
    CHECK_FALSE(c.server.access_log);

    CHECK(c.timeouts.handshake == 500ms);
    CHECK(c.timeouts.request_header == 20s);
    CHECK(c.timeouts.keepalive == 2min);
    CHECK(c.timeouts.body == 1h);

    CHECK(c.limits.max_connections == 20000);
    CHECK(c.limits.header_bytes == 64 * 1024);
    CHECK(c.limits.header_count == 200);
    CHECK(c.limits.body_bytes == 1ull << 30);
    CHECK(c.limits.response_header_bytes == 131072);
    CHECK(c.limits.requests_per_connection == 0);

    REQUIRE(c.listeners.size() == 2);
    const cfg::listener& a = c.listeners[0];
    CHECK(a.name == "mdm");
    CHECK(a.address == "0.0.0.0");
    CHECK(a.port == 8443);
    REQUIRE(a.certificates.size() == 1);
    CHECK(a.certificates[0].shorthand);
    CHECK(a.certificates[0].cert == (golden_dir / "certs/mdm.pem").string());
    CHECK(a.certificates[0].key == (golden_dir / "certs/mdm.key").string());  // "./certs/mdm.key" normalised
    CHECK(a.trust == (golden_dir / "certs/ca.pem").string());  // "certs/../certs/ca.pem" normalised
    CHECK(fs::path(a.certificates[0].cert).is_absolute());
    CHECK(a.server_name == "mdm.example.com");
    CHECK(a.upstream == "legacy");
    CHECK(a.upstream_index == std::optional<std::size_t>(0));
    CHECK(a.min_version == cfg::tls_version::v1_3);
    REQUIRE(a.tls12_ciphers.size() == 2);
    CHECK(a.tls12_ciphers[0].value == "ECDHE-ECDSA-AES128-GCM-SHA256");
    CHECK(same_pos(a.tls12_ciphers[0].where, at(file, 32, 18)));
    CHECK(a.tls12_ciphers[1].value == "ECDHE-RSA-AES256-GCM-SHA384");
    CHECK(same_pos(a.tls12_ciphers[1].where, at(file, 32, 51)));
    REQUIRE(a.tls13_ciphersuites.size() == 1);
    CHECK(a.tls13_ciphersuites[0].value == "TLS_AES_128_GCM_SHA256");
    CHECK(same_pos(a.tls13_ciphersuites[0].where, at(file, 33, 23)));
    REQUIRE(a.groups.size() == 2);
    CHECK(a.groups[0].value == "X25519");
    CHECK(a.groups[1].value == "P-256");
    CHECK(same_pos(a.groups[1].where, at(file, 34, 21)));
    CHECK(same_pos(a.where, at(file, 22, 1)));
    CHECK(a.key_pos.size() == 12);
    CHECK(same_pos(a.key_pos.at("name"), at(file, 23, 8)));
    CHECK(same_pos(a.key_pos.at("cert"), at(file, 26, 8)));
    CHECK(same_pos(a.key_pos.at("min_version"), at(file, 31, 15)));
    CHECK(same_pos(a.key_pos.at("groups"), at(file, 34, 10)));

    const cfg::listener& b = c.listeners[1];
    CHECK(b.name == "enroll.v6");
    CHECK(b.address == "::");
    CHECK(b.port == 8443);
    CHECK(b.trust.empty());
    CHECK(b.server_name == "2001:db8::10");
    CHECK(b.upstream == "enroll");
    CHECK(b.upstream_index == 1);
    CHECK(b.min_version == cfg::tls_version::v1_2);
    CHECK(b.tls12_ciphers.empty());
    CHECK(b.tls13_ciphersuites.empty());
    CHECK(b.groups.empty());
    CHECK(same_pos(b.where, at(file, 37, 1)));
    CHECK(b.key_pos.size() == 7);
    CHECK(b.key_pos.count("trust") == 0);

    REQUIRE(c.upstreams.size() == 2);
    const cfg::upstream& u = c.upstreams[0];
    CHECK(u.name == "legacy");
    REQUIRE(u.members.size() == 1);
    CHECK(u.members[0].url == "http://10.0.0.5:8080/");
    CHECK(u.members[0].host == "10.0.0.5");
    CHECK(u.members[0].port == 8080);
    CHECK(u.connect_timeout == 250ms);
    CHECK(u.response_timeout == 90s);
    CHECK(u.keepalive == 0);
    CHECK(u.keepalive_timeout == 10min);
    CHECK(same_pos(u.where, at(file, 46, 1)));
    CHECK(same_pos(u.key_pos.at("url"), at(file, 48, 7)));
    CHECK(u.key_pos.size() == 6);

    const cfg::upstream& v = c.upstreams[1];
    CHECK(v.name == "enroll");
    REQUIRE(v.members.size() == 1);
    CHECK(v.members[0].url == "http://[fd00::5]");
    CHECK(v.members[0].host == "fd00::5");
    CHECK(v.members[0].port == 80);
    CHECK(v.connect_timeout == 5s);
    CHECK(v.response_timeout == 60s);
    CHECK(v.keepalive == 32);
    CHECK(v.keepalive_timeout == 30s);

    REQUIRE(c.admin);
    CHECK(c.admin->address == "::1");
    CHECK(c.admin->port == 9901);
    CHECK(same_pos(c.admin->where, at(file, 58, 1)));
}

TEST_CASE("config: omitted keys take the documented defaults", "[config][loader]") {
    const fs::path file = golden_dir / "valid_minimal.toml";
    const auto r = cfg::load_file(file.string());
    REQUIRE(r.diags.empty());
    REQUIRE(r.value);
    const cfg::config& c = *r.value;
    const cfg::config defaults;

    CHECK(c.server.workers == 0);
    CHECK(c.server.drain_timeout == 30s);
    CHECK(c.server.level == cfg::log_level::info);
    CHECK(c.server.access_log);
    CHECK(c.timeouts.handshake == 10s);
    CHECK(c.timeouts.request_header == 30s);
    CHECK(c.timeouts.keepalive == 60s);
    CHECK(c.timeouts.body == 60s);
    CHECK(c.limits.max_connections == 10000);
    CHECK(c.limits.header_bytes == 32768);
    CHECK(c.limits.header_count == 100);
    CHECK(c.limits.body_bytes == 4ull << 30);
    CHECK(c.limits.response_header_bytes == 65536);
    CHECK(c.limits.requests_per_connection == 1000);
    CHECK(c.server.workers == defaults.server.workers);
    CHECK(c.limits.body_bytes == defaults.limits.body_bytes);

    REQUIRE(c.listeners.size() == 1);
    const cfg::listener& l = c.listeners[0];
    CHECK(l.address == "0.0.0.0");
    CHECK(l.port == 443);
    CHECK(l.trust.empty());
    CHECK(l.server_name.empty());
    CHECK(l.min_version == cfg::tls_version::v1_2);
    CHECK(l.tls12_ciphers.empty());
    CHECK(l.tls13_ciphersuites.empty());
    CHECK(l.groups.empty());
    CHECK(l.key_pos.count("address") == 0);

    REQUIRE(c.upstreams.size() == 1);
    CHECK(c.upstreams[0].members[0].host == "10.0.0.5");
    CHECK(c.upstreams[0].members[0].port == 8080);
    CHECK(c.upstreams[0].connect_timeout == 5s);
    CHECK(c.upstreams[0].response_timeout == 60s);
    CHECK(c.upstreams[0].keepalive == 32);
    CHECK(c.upstreams[0].keepalive_timeout == 30s);

    CHECK_FALSE(c.admin);
}

TEST_CASE("config: load_string anchors relative paths at the directory of the given path", "[config][loader]") {
    const temp_dir dir;
    dir.write("etc/certs/mdm.pem", "x");
    dir.write("etc/certs/mdm.key", "x");
    const fs::path abs_trust = dir.write("ca/roots.pem", "x");

    SECTION("relative paths resolve next to the named file and are stored absolute") {
        const std::string text = std::string(minimal_body) + "\n[admin]\nport = 9901\n";
        const auto r = cfg::load_string(text, (dir.path / "etc/proxy.toml").string());
        INFO(all_diags(r));
        REQUIRE(r.value);
        CHECK(r.value->listeners[0].certificates.at(0).cert == (dir.path / "etc/certs/mdm.pem").string());
        CHECK(r.value->listeners[0].certificates.at(0).key == (dir.path / "etc/certs/mdm.key").string());
        REQUIRE(r.value->admin);
        CHECK(r.value->admin->address == "127.0.0.1");  // default
        CHECK(r.value->admin->port == 9901);
    }
    SECTION("absolute paths are kept") {
        std::string text = minimal_body;
        const std::string needle = "key = \"certs/mdm.key\"";
        text.replace(text.find(needle), needle.size(),
                     "key = \"certs/mdm.key\"\ntrust = \"" + abs_trust.string() + "\"");
        const auto r = cfg::load_string(text, (dir.path / "etc/proxy.toml").string());
        REQUIRE(r.value);
        CHECK(r.value->listeners[0].trust == abs_trust.string());
    }
    SECTION("the same text elsewhere cannot find its files, and says where it looked") {
        const auto r = cfg::load_string(minimal_body, (dir.path / "proxy.toml").string());
        CHECK_FALSE(r.value);
        REQUIRE(r.diags.size() == 2);
        CHECK(r.diags[0].to_string() == (dir.path / "proxy.toml").string() + ":5:8: listener[0].cert: cannot read \"" +
                                            (dir.path / "certs/mdm.pem").string() + "\": No such file or directory");
        CHECK(r.diags[0].key_path == "listener[0].cert");
        CHECK(r.diags[1].key_path == "listener[0].key");
    }
}

TEST_CASE("config: load_file reports an unreadable config file as one diagnostic without a position", "[config][loader]") {
    SECTION("missing") {
        const auto r = cfg::load_file("/nonexistent/atsgate/proxy.toml");
        CHECK_FALSE(r.value);
        REQUIRE(r.diags.size() == 1);
        CHECK(r.diags[0].where.line == 0);
        CHECK(r.diags[0].key_path.empty());
        CHECK(r.diags[0].to_string() ==
              "/nonexistent/atsgate/proxy.toml: cannot read \"/nonexistent/atsgate/proxy.toml\": No such file or directory");
    }
    SECTION("a directory") {
        const temp_dir dir;
        const auto r = cfg::load_file(dir.path.string());
        CHECK_FALSE(r.value);
        REQUIRE(r.diags.size() == 1);
        CHECK(r.diags[0].to_string() == dir.path.string() + ": cannot read \"" + dir.path.string() + "\": Is a directory");
    }
}

TEST_CASE("config: a TOML syntax error is a single diagnostic with toml++'s position", "[config][loader]") {
    const auto r = cfg::load_string("[server]\nworkers = 4\nlog_level = info\naccess_log = \"yes\"\n", "p.toml");
    CHECK_FALSE(r.value);
    REQUIRE(r.diags.size() == 1);
    CHECK(r.diags[0].level == cfg::severity::error);
    CHECK(r.diags[0].where.line == 3);
    CHECK(r.diags[0].where.column == 16);  // toml++ reads "inf..." as a float and stops at the 'o'
    CHECK(r.diags[0].message ==
          "TOML syntax error: Error while parsing floating-point: expected value-terminator, saw 'o'");
    CHECK(r.diags[0].message.rfind("TOML syntax error: ", 0) == 0);
    CHECK(r.diags[0].key_path.empty());
}

TEST_CASE("config: diagnostics carry key path, hint and severity separately", "[config][loader]") {
    const std::string text = std::string(minimal_body) +
                             "\n[[upstream]]\nname = \"spare\"\nurl = \"http://10.0.0.6\"\n"
                             "\n[server]\nworkrs = 2\n";
    const std::string path = (golden_dir / "inline.toml").string();  // anchors certs/ at golden/
    const auto r = cfg::load_string(text, path);
    CHECK_FALSE(r.value);  // an unknown key is an error...
    REQUIRE(r.diags.size() == 2);
    const auto& warn = r.diags[0];  // ...and the unused upstream a warning, in file order
    CHECK(warn.level == cfg::severity::warning);
    CHECK(warn.key_path == "upstream[1]");
    CHECK(warn.message == "upstream[1] \"spare\" is not used by any listener");
    CHECK(warn.to_string() == path + ":13:1: warning: upstream[1] \"spare\" is not used by any listener");
    const auto& err = r.diags[1];
    CHECK(err.level == cfg::severity::error);
    CHECK(err.key_path == "server.workrs");
    CHECK(err.message == "server.workrs: unknown key");
    CHECK(err.hint == "did you mean \"workers\"?");
    CHECK(err.where.line == 18);
    CHECK(err.where.column == 1);
}

TEST_CASE("config: warnings alone do not fail the load", "[config][loader]") {
    const auto r = cfg::load_file((golden_dir / "warning_unused_upstream.toml").string());
    REQUIRE(r.value);
    REQUIRE(r.diags.size() == 1);
    CHECK(r.diags[0].level == cfg::severity::warning);
    CHECK(r.value->upstreams.size() == 2);
    CHECK(r.value->listeners[0].upstream_index == 0);
}

TEST_CASE("config: the loader keeps no state between calls", "[config][loader]") {
    const std::string bad = "[server]\nworkers = -1\n";
    const auto first = cfg::load_string(bad, "a.toml");
    const auto second = cfg::load_string(bad, "b.toml");
    REQUIRE(first.diags.size() == second.diags.size());
    for (std::size_t i = 0; i < first.diags.size(); ++i) {
        CHECK(first.diags[i].message == second.diags[i].message);
        CHECK(second.diags[i].where.file == "b.toml");
    }
}
