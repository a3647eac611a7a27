// Loader behaviour that golden text alone does not show: the parsed values of valid configs field
// by field (defaults, absolute paths, durations, sizes, positions), load_string path anchoring,
// load_file I/O errors, and the diagnostic fields (key_path, hint, severity).

#include "config/loader.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
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

TEST_CASE("config: the front-door schema (issue 5) is parsed field by field", "[config][loader]") {
    const fs::path file = golden_dir / "valid_front_door.toml";
    const auto r = cfg::load_file(file.string());
    INFO(all_diags(r));
    REQUIRE(r.diags.empty());
    REQUIRE(r.value);
    const cfg::config& c = *r.value;
    const auto path_of = [](const char* rel) { return (golden_dir / rel).lexically_normal().string(); };

    REQUIRE(c.listeners.size() == 4);
    const cfg::listener& front = c.listeners[0];
    CHECK(front.name == "front");
    CHECK(front.kind == cfg::listener_kind::https);
    CHECK(front.port == 443);
    CHECK(front.unknown_sni == cfg::unknown_sni_mode::refuse);
    CHECK(front.upstream == "legacy");
    CHECK(front.upstream_index == std::optional<std::size_t>(0));
    CHECK(same_pos(front.where, at(file, 3, 1)));

    // Certificates: the shorthand first, then [[listener.certificate]] (names lower-cased, positioned).
    REQUIRE(front.certificates.size() == 2);
    const cfg::certificate& shorthand = front.certificates[0];
    CHECK(shorthand.shorthand);
    CHECK(shorthand.key_path == "listener[0]");  // diagnostics name its keys listener[0].cert, .key
    CHECK(shorthand.cert == path_of("certs/mdm.pem"));
    CHECK(shorthand.key == path_of("certs/mdm.key"));
    CHECK(shorthand.names.empty());  // the certificate's own SAN names (decided by tls/)
    CHECK(same_pos(shorthand.where, at(file, 3, 1)));
    CHECK(same_pos(shorthand.key_pos.at("cert"), at(file, 7, 8)));
    const cfg::certificate& enroll_cert = front.certificates[1];
    CHECK_FALSE(enroll_cert.shorthand);
    CHECK(enroll_cert.key_path == "listener[0].certificate[0]");  // [[listener.certificate]] index 0
    CHECK(enroll_cert.key == path_of("certs/mdm.key"));  // "./certs/mdm.key" normalised
    REQUIRE(enroll_cert.names.size() == 2);
    CHECK(enroll_cert.names[0].value == "enroll.example.com");
    CHECK(same_pos(enroll_cert.names[0].where, at(file, 25, 10)));
    CHECK(enroll_cert.names[1].value == "*.devices.example.com");
    CHECK(same_pos(enroll_cert.names[1].where, at(file, 25, 32)));
    CHECK(same_pos(enroll_cert.where, at(file, 22, 1)));
    CHECK(same_pos(enroll_cert.key_pos.at("names"), at(file, 25, 9)));

    // Session resumption and device identity.
    CHECK(front.session_tickets);
    CHECK(front.tls13_tickets == 2);
    CHECK(front.ticket_key_file == path_of("files/tickets.key"));
    CHECK(front.ticket_key_rotation == 6h);
    CHECK(front.session_cache == 2048);
    CHECK(front.client_auth == cfg::client_auth_mode::optional);
    CHECK(front.client_ca == path_of("certs/ca.pem"));
    CHECK(front.client_cert_header == "X-Ssl-Client-Cert");  // as written, case kept
    CHECK(front.cert_format == cfg::client_cert_format::rfc9440);
    CHECK(front.scep_path == "/scep");  // https listener: the scep keys keep their defaults
    CHECK(front.redirect.empty());

    // Routes, in config order (the router sorts them, the loader does not).
    REQUIRE(front.routes.size() == 6);
    const cfg::route& enroll = front.routes[0];
    CHECK(enroll.name == "enroll");
    CHECK(enroll.host == "enroll.example.com");  // lower-cased
    CHECK(enroll.path == "/enroll");
    REQUIRE(enroll.targets.size() == 2);
    CHECK(enroll.targets[0].upstream == "blue");
    CHECK(enroll.targets[0].upstream_index == 1);
    CHECK(enroll.targets[0].weight == 90);
    CHECK(enroll.targets[1].upstream == "green");
    CHECK(enroll.targets[1].upstream_index == 2);
    CHECK(enroll.targets[1].weight == 10);
    CHECK(enroll.sticky == cfg::sticky_kind::client_cert);
    CHECK_FALSE(enroll.static_reply);
    CHECK(same_pos(enroll.where, at(file, 27, 1)));
    CHECK(same_pos(enroll.key_pos.at("split"), at(file, 31, 9)));

    const cfg::route& by_device = front.routes[1];
    CHECK(by_device.host == "*.devices.example.com");
    CHECK(by_device.path == "/mdm/");
    REQUIRE(by_device.targets.size() == 2);
    CHECK(by_device.targets[0].weight == 0);
    CHECK(by_device.targets[1].weight == 1000000);
    CHECK(by_device.sticky == cfg::sticky_kind::path_segment);
    CHECK(by_device.sticky_segment == 3);

    const cfg::route& profile = front.routes[2];
    CHECK(profile.name.empty());
    CHECK(profile.host.empty());
    CHECK(profile.sticky == cfg::sticky_kind::header);
    CHECK(profile.sticky_name == "X-Device-Serial");

    const cfg::route& discovery = front.routes[3];
    CHECK(discovery.name == "discovery");
    CHECK(discovery.targets.empty());
    REQUIRE(discovery.static_reply);
    CHECK(discovery.static_reply->status == 200);
    CHECK(discovery.static_reply->content_type == "application/json");  // default
    CHECK(discovery.static_reply->body ==
          "{\"Servers\":[{\"Version\":\"mdm-byod\",\"BaseURL\":\"https://enroll.example.com/byod\"}]}\n");
    CHECK(discovery.sticky == cfg::sticky_kind::none);

    const cfg::route& robots = front.routes[4];
    REQUIRE(robots.static_reply);
    CHECK(robots.static_reply->status == 404);
    CHECK(robots.static_reply->content_type == "text/plain; charset=utf-8");
    CHECK(robots.static_reply->body == "not here\n");

    const cfg::route& checkin = front.routes[5];
    CHECK(checkin.path == "/mdm/checkin");
    REQUIRE(checkin.targets.size() == 1);
    CHECK(checkin.targets[0].upstream == "legacy");
    CHECK(checkin.targets[0].upstream_index == 0);
    CHECK(checkin.targets[0].weight == 1);
    CHECK(checkin.sticky == cfg::sticky_kind::none);

    // Defaults of an https listener that sets only client_auth.
    const cfg::listener& legacy = c.listeners[1];
    CHECK(legacy.kind == cfg::listener_kind::https);
    CHECK(legacy.unknown_sni == cfg::unknown_sni_mode::default_cert);
    REQUIRE(legacy.certificates.size() == 1);
    CHECK(legacy.routes.empty());
    CHECK(legacy.session_tickets);
    CHECK(legacy.tls13_tickets == 1);
    CHECK(legacy.ticket_key_file.empty());
    CHECK(legacy.ticket_key_rotation == 12h);
    CHECK(legacy.session_cache == 0);
    CHECK(legacy.client_auth == cfg::client_auth_mode::require);
    CHECK(legacy.client_ca.empty());
    CHECK(legacy.client_cert_header == "X-Client-Cert");  // the escaped-pem default
    CHECK(legacy.cert_format == cfg::client_cert_format::escaped_pem);

    // SCEP listeners: no certificates, their own keys; the trailing "/" of redirect is dropped.
    const cfg::listener& scep = c.listeners[2];
    CHECK(scep.kind == cfg::listener_kind::scep);
    CHECK(scep.address == "::");
    CHECK(scep.port == 80);
    CHECK(scep.certificates.empty());
    CHECK(scep.upstream == "scep");
    CHECK(scep.upstream_index == 3);
    CHECK(scep.scep_path == "/cgi-bin/pkiclient.exe");
    CHECK(scep.redirect == "https://mdm.example.com");
    CHECK(scep.client_auth == cfg::client_auth_mode::none);
    CHECK(scep.client_cert_header.empty());
    const cfg::listener& scep_defaults = c.listeners[3];
    CHECK(scep_defaults.kind == cfg::listener_kind::scep);
    CHECK(scep_defaults.address == "0.0.0.0");
    CHECK(scep_defaults.scep_path == "/scep");
    CHECK(scep_defaults.redirect.empty());

    // A pool of an https and an http member with every TLS, health and ejection key set.
    REQUIRE(c.upstreams.size() == 4);
    const cfg::upstream& pool = c.upstreams[0];
    CHECK(pool.name == "legacy");
    REQUIRE(pool.members.size() == 2);
    CHECK(pool.members[0].url == "https://legacy-a.example.com:8443");
    CHECK(pool.members[0].host == "legacy-a.example.com");
    CHECK(pool.members[0].port == 8443);
    CHECK(pool.members[0].tls);
    CHECK(pool.members[0].weight == 3);
    CHECK(same_pos(pool.members[0].where, at(file, 88, 12)));
    CHECK(pool.members[1].host == "10.0.0.6");
    CHECK(pool.members[1].port == 8080);
    CHECK_FALSE(pool.members[1].tls);
    CHECK(pool.members[1].weight == 1);
    CHECK(pool.tls_min_version == cfg::tls_version_any::v1_0);
    CHECK(pool.tls_ciphers == "ECDHE-RSA-AES128-SHA:AES128-SHA");
    CHECK(pool.tls_verify);
    CHECK(pool.tls_ca == path_of("certs/ca.pem"));
    CHECK(pool.tls_sni == "legacy.internal.example.com");
    CHECK(pool.health_path == "/healthz");
    CHECK(pool.health_interval == 10s);
    CHECK(pool.health_timeout == 500ms);
    CHECK(pool.health_rise == 3);
    CHECK(pool.health_fall == 5);
    CHECK(pool.max_fails == 0);
    CHECK(pool.fail_timeout == 30s);
    CHECK(same_pos(pool.key_pos.at("tls_ca"), at(file, 92, 10)));

    // Defaults of an upstream that sets only url.
    const cfg::upstream& blue = c.upstreams[1];
    REQUIRE(blue.members.size() == 1);
    CHECK(blue.members[0].weight == 1);
    CHECK_FALSE(blue.members[0].tls);
    CHECK(same_pos(blue.members[0].where, at(file, 104, 7)));
    CHECK(blue.tls_min_version == cfg::tls_version_any::v1_2);
    CHECK(blue.tls_ciphers.empty());
    CHECK_FALSE(blue.tls_verify);
    CHECK(blue.tls_ca.empty());
    CHECK(blue.tls_sni.empty());
    CHECK(blue.health_path.empty());
    CHECK(blue.health_interval == 5s);
    CHECK(blue.health_timeout == 2s);
    CHECK(blue.health_rise == 2);
    CHECK(blue.health_fall == 3);
    CHECK(blue.max_fails == 3);
    CHECK(blue.fail_timeout == 10s);

    // "HTTPS://" is case-insensitive; the default https port; an IPv6 host without brackets.
    const cfg::upstream& green = c.upstreams[2];
    REQUIRE(green.members.size() == 1);
    CHECK(green.members[0].url == "HTTPS://[fd00::7]");
    CHECK(green.members[0].host == "fd00::7");
    CHECK(green.members[0].port == 443);
    CHECK(green.members[0].tls);

    // A non-loopback admin endpoint with a token file: the token is the file without its newline.
    REQUIRE(c.admin);
    CHECK(c.admin->address == "0.0.0.0");
    CHECK(c.admin->port == 9901);
    CHECK(c.admin->token == "3f9c1e7a5b2d4c6e8f0a1b2c3d4e5f60");
    CHECK(same_pos(c.admin->where, at(file, 114, 1)));
}

TEST_CASE("config: static replies and token files have size limits", "[config][loader]") {
    const temp_dir dir;
    dir.write("certs/mdm.pem", "x");
    dir.write("certs/mdm.key", "x");
    const std::size_t limit = 64 * 1024;
    const std::string at_limit(limit, 'a');
    const std::string over_limit(limit + 1, 'a');
    dir.write("at.json", at_limit);
    dir.write("over.json", over_limit);
    dir.write("token-4k", std::string(4096, 'b'));
    dir.write("token-4k1", std::string(4097, 'b'));
    const std::string file = (dir.path / "proxy.toml").string();
    auto with_route = [](const std::string& route_keys) {
        return std::string(minimal_body) + "\n[[listener.route]]\npath = \"/s\"\nstatic_status = 200\n" + route_keys + "\n";
    };
    auto with_admin = [](const std::string& admin_keys) {
        return std::string(minimal_body) + "\n[admin]\nport = 9901\n" + admin_keys + "\n";
    };
    struct row {
        const char* label;
        std::string text;
        std::string error;  // empty: loads; else (part of) the expected message
        std::uint32_t line;  // of the offending key
    };
    // minimal_body ends at line 11; the route's static_* key and the admin's token_file land on
    // lines 16 and 15.
    const row rows[] = {
        {"static_body of exactly 64KiB", with_route("static_body = \"" + at_limit + "\""), "", 0},
        {"static_body one byte over", with_route("static_body = \"" + over_limit + "\""),
         "listener[0].route[0].static_body is larger than 64KiB", 16},
        {"static_file of exactly 64KiB", with_route("static_file = \"at.json\""), "", 0},
        {"static_file one byte over", with_route("static_file = \"over.json\""),
         "listener[0].route[0].static_file: \"" + (dir.path / "over.json").string() + "\" is larger than 64KiB", 16},
        {"token_file of exactly 4KiB", with_admin("token_file = \"token-4k\""), "", 0},
        {"token_file one byte over", with_admin("token_file = \"token-4k1\""), "is larger than 4KiB", 15},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            const auto result = cfg::load_string(r.text, file);
            INFO(all_diags(result));
            if (r.error.empty()) {
                REQUIRE(result.value);
                CHECK(result.diags.empty());
            } else {
                CHECK_FALSE(result.value);
                REQUIRE(result.diags.size() == 1);
                CHECK_THAT(result.diags[0].message, Catch::Contains(r.error));
                CHECK(result.diags[0].where.line == r.line);  // the key's own line, never the file
            }
        }
    }
    SECTION("the body read from static_file is byte-exact") {
        const auto result = cfg::load_string(with_route("static_file = \"at.json\""), file);
        REQUIRE(result.value);
        REQUIRE(result.value->listeners[0].routes.at(0).static_reply);
        CHECK(result.value->listeners[0].routes[0].static_reply->body == at_limit);
    }
}

TEST_CASE("config: file paths in diagnostics are never cut", "[config][loader]") {
    // Values are cut after 80 characters in messages (a pasted certificate must not flood the log),
    // but a cut path names no file: a deep checkout or /etc/atsgate/... tree must stay readable.
    const temp_dir dir;
    const fs::path deep = dir.path / std::string(40, 'd') / std::string(40, 'e') / "etc";
    fs::create_directories(deep);
    const std::string config_path = (deep / "proxy.toml").string();
    const std::string cert = (deep / "certs/mdm.pem").string();
    REQUIRE(cert.size() > 100);

    SECTION("an unreadable certificate") {
        const auto r = cfg::load_string(minimal_body, config_path);
        REQUIRE_FALSE(r.diags.empty());
        CHECK(r.diags[0].message == "listener[0].cert: cannot read \"" + cert + "\": No such file or directory");
    }
    SECTION("an unreadable config file") {
        const auto r = cfg::load_file(config_path);
        REQUIRE(r.diags.size() == 1);
        CHECK(r.diags[0].message == "cannot read \"" + config_path + "\": No such file or directory");
    }
    SECTION("a value that is not a path is still cut") {
        const std::string long_name(100, 'n');
        const auto r = cfg::load_string("[[listener]]\nname = \"" + long_name + "\"\n", config_path);
        const auto name = std::find_if(r.diags.begin(), r.diags.end(),
                                       [](const cfg::diagnostic& d) { return d.key_path == "listener[0].name"; });
        REQUIRE(name != r.diags.end());
        CHECK(name->message == "listener[0].name is \"" + std::string(80, 'n') + "...\", must match [A-Za-z0-9_.-]{1,64}");
    }
}
