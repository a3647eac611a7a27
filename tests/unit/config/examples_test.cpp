// deploy/examples/estate.toml, the worked example of the README, must stay a valid configuration:
// it is loaded from a copy in a temp directory whose certificate, key and secret files are
// placeholders (the config layer only checks that they are readable; tests/unit/tls builds its
// TLS contexts from generated certificates), and must produce no diagnostic at all, warnings
// included. The committed remotemanagement.json is copied as is: its bytes are the static reply.

#include "config/loader.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
namespace cfg = atsgate::config;
using namespace std::chrono_literals;

namespace {

const fs::path examples_dir{ATSGATE_EXAMPLES_DIR};

// The files estate.toml names besides remotemanagement.json, relative to it.
constexpr const char* placeholder_files[] = {
    "certs/mdm.example.com.ecdsa.pem", "certs/mdm.example.com.ecdsa.key", "certs/mdm.example.com.rsa.pem",
    "certs/mdm.example.com.rsa.key",   "certs/enroll.example.com.pem",   "certs/enroll.example.com.key",
    "certs/example.com.pem",           "certs/example.com.key",          "certs/corp-internal-ca.pem",
    "secrets/tickets.key",
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

struct estate_copy {
    fs::path dir;
    estate_copy() {
        std::string tmpl = (fs::temp_directory_path() / "atsgate-estate-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
        fs::copy_file(examples_dir / "estate.toml", dir / "estate.toml");
        fs::copy_file(examples_dir / "remotemanagement.json", dir / "remotemanagement.json");
        for (const char* f : placeholder_files) write(f, "placeholder\n");
        write("secrets/admin.token", "9d1c3f0e7b2a46c58e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b\n");
    }
    ~estate_copy() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    estate_copy(const estate_copy&) = delete;
    estate_copy& operator=(const estate_copy&) = delete;

    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories((dir / rel).parent_path());
        std::ofstream(dir / rel, std::ios::binary) << text;
    }
};

}  // namespace

TEST_CASE("examples: deploy/examples/estate.toml loads without any diagnostic", "[config][examples]") {
    const estate_copy copy;
    const auto r = cfg::load_file((copy.dir / "estate.toml").string());
    std::string rendered;
    for (const auto& d : r.diags) rendered += d.to_string() + "\n";
    INFO(rendered);
    REQUIRE(r.diags.empty());
    REQUIRE(r.value);
    const cfg::config& c = *r.value;

    // The shape the README describes: three listeners, five upstreams, an admin endpoint.
    REQUIRE(c.listeners.size() == 3);
    REQUIRE(c.upstreams.size() == 5);
    REQUIRE(c.admin);

    const cfg::listener& mdm = c.listeners[0];
    CHECK(mdm.name == "mdm");
    CHECK(mdm.port == 443);
    CHECK(mdm.kind == cfg::listener_kind::https);
    CHECK(mdm.certificates.size() == 4);
    CHECK(mdm.unknown_sni == cfg::unknown_sni_mode::refuse);
    CHECK(mdm.client_auth == cfg::client_auth_mode::optional);
    CHECK(mdm.client_ca.empty());  // NanoMDM verifies the device certificate itself
    CHECK(mdm.client_cert_header == "X-Client-Cert");
    CHECK(mdm.cert_format == cfg::client_cert_format::escaped_pem);
    CHECK(c.upstreams.at(*mdm.upstream_index).name == "nanomdm");

    REQUIRE(mdm.routes.size() == 2);
    const cfg::route& discovery = mdm.routes[0];
    CHECK(discovery.host == "example.com");
    CHECK(discovery.path == "/.well-known/com.apple.remotemanagement");
    REQUIRE(discovery.static_reply);
    CHECK(discovery.static_reply->status == 200);
    CHECK(discovery.static_reply->body == slurp(examples_dir / "remotemanagement.json"));
    CHECK(discovery.static_reply->body.find("\"mdm-adde\"") != std::string::npos);
    const cfg::route& enroll = mdm.routes[1];
    CHECK(enroll.name == "enroll");
    REQUIRE(enroll.targets.size() == 2);
    CHECK(enroll.targets[0].upstream == "enroll-blue");
    CHECK(enroll.targets[0].weight == 90);
    CHECK(enroll.targets[1].upstream == "enroll-green");
    CHECK(enroll.targets[1].weight == 10);
    CHECK(enroll.sticky == cfg::sticky_kind::path_segment);
    CHECK(enroll.sticky_segment == 2);

    const cfg::listener& legacy = c.listeners[1];
    CHECK(legacy.port == 8443);
    CHECK(c.upstreams.at(*legacy.upstream_index).name == "legacy-mdm");

    const cfg::listener& scep = c.listeners[2];
    CHECK(scep.kind == cfg::listener_kind::scep);
    CHECK(scep.port == 80);
    CHECK(scep.certificates.empty());
    CHECK(scep.redirect == "https://mdm.example.com");

    const cfg::upstream& legacy_mdm = c.upstreams.at(*legacy.upstream_index);
    REQUIRE(legacy_mdm.members.size() == 1);
    CHECK(legacy_mdm.members[0].tls);
    CHECK(legacy_mdm.tls_min_version == cfg::tls_version_any::v1_0);
    CHECK(legacy_mdm.tls_verify);
    CHECK_FALSE(legacy_mdm.health_path.empty());

    const cfg::upstream& nanomdm = c.upstreams.at(*mdm.upstream_index);
    CHECK(nanomdm.members.size() == 2);
    CHECK(nanomdm.health_path == "/version");

    CHECK(c.admin->address == "10.20.0.5");
    CHECK(c.admin->token.size() >= 16);
}

TEST_CASE("examples: the placeholders are exactly the files estate.toml names", "[config][examples]") {
    // Loaded where it lies (no placeholders there), every file it names is reported unreadable:
    // the set of those files must be the placeholder list plus the admin token, so the test above
    // neither misses a file nor papers over one the example does not name.
    const auto r = cfg::load_file((examples_dir / "estate.toml").string());
    CHECK_FALSE(r.value);
    std::set<std::string> named;
    for (const auto& d : r.diags) {
        INFO(d.to_string());
        CHECK(d.level == cfg::severity::error);
        const std::string prefix = ": cannot read \"" + examples_dir.string() + "/";
        const auto at = d.message.find(prefix);
        REQUIRE(at != std::string::npos);
        const auto from = at + prefix.size();
        named.insert(d.message.substr(from, d.message.find('"', from) - from));
    }
    std::set<std::string> expected(std::begin(placeholder_files), std::end(placeholder_files));
    expected.insert("secrets/admin.token");
    CHECK(named == expected);
}
