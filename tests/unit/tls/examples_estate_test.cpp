// deploy/examples/estate.toml with real (generated) certificates: every https listener's TLS
// contexts build without a diagnostic (its certificate groups are consistent: one ECDSA + RSA pair,
// distinct names), the upstream client context toward the TLS 1.0 legacy MDM builds, and devices
// get the certificate of the name they ask for. tests/unit/config/examples_test.cpp checks the
// parsed values; this checks that the example would really serve.

#include "config/loader.hpp"
#include "tests/support/cert_factory.hpp"
#include "tests/support/mem_tls.hpp"
#include "tls/client_context.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/server_context.hpp"

#include <catch2/catch.hpp>

#include <openssl/tls1.h>

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

using namespace atsgate;
namespace fs = std::filesystem;

namespace {

const fs::path examples_dir{ATSGATE_EXAMPLES_DIR};

int record_cn(X509_STORE_CTX* store, void* arg) {
    char buf[256] = {};
    if (X509* leaf = X509_STORE_CTX_get0_cert(store))
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, buf, sizeof buf);
    *static_cast<std::string*>(arg) = buf;
    return 1;
}

}  // namespace

TEST_CASE("examples: estate.toml serves with generated certificates", "[unit][examples]") {
    test::temp_dir dir;
    fs::copy_file(examples_dir / "estate.toml", dir.file("estate.toml"));
    fs::copy_file(examples_dir / "remotemanagement.json", dir.file("remotemanagement.json"));
    fs::create_directories(dir.file("certs"));
    fs::create_directories(dir.file("secrets"));

    test::cert_factory f(static_cast<std::int64_t>(std::time(nullptr)));
    const auto root = f.root_ca("example corp devices root");
    auto leaf = [&](const std::string& host, test::key_type k, const std::string& cn) {
        auto spec = test::cert_factory::leaf_spec(host, k);
        spec.common_name = cn;
        return f.make(spec, &root);
    };
    const auto mdm_ec = leaf("mdm.example.com", test::key_type::ec_p256, "mdm ecdsa");
    const auto mdm_rsa = leaf("mdm.example.com", test::key_type::rsa_2048, "mdm rsa");
    const auto enroll = leaf("enroll.example.com", test::key_type::ec_p256, "enroll");
    const auto apex = leaf("example.com", test::key_type::ec_p256, "example.com");
    auto write_pair = [&](const std::string& base, const test::test_cert& c) {
        dir.write_chain("certs/" + base + ".pem", {&c});
        dir.write_key("certs/" + base + ".key", c);
    };
    write_pair("mdm.example.com.ecdsa", mdm_ec);
    write_pair("mdm.example.com.rsa", mdm_rsa);
    write_pair("enroll.example.com", enroll);
    write_pair("example.com", apex);
    dir.write_chain("certs/corp-internal-ca.pem", {&root});
    dir.write_text("secrets/tickets.key", std::string(80, 'k'));
    dir.write_text("secrets/admin.token", "9d1c3f0e7b2a46c58e0f1a2b3c4d5e6f\n");

    const auto loaded = config::load_file(dir.file("estate.toml").string());
    REQUIRE(loaded.diags.empty());
    REQUIRE(loaded.value);
    const config::config& c = *loaded.value;

    for (std::size_t i = 0; i < c.listeners.size(); ++i) {
        const auto& l = c.listeners[i];
        if (l.kind != config::listener_kind::https) continue;
        INFO("listener " << l.name);
        config::diagnostics diags;
        const auto built = tls::build_listener_tls(l, diags);
        std::string rendered;
        for (const auto& d : diags) rendered += d.to_string() + "\n";
        INFO(rendered);
        CHECK(diags.empty());
        CHECK(built.context.has_value());
    }
    for (std::size_t i = 0; i < c.upstreams.size(); ++i) {
        const auto& u = c.upstreams[i];
        if (u.members.empty() || !u.members.front().tls) continue;
        INFO("upstream " << u.name);
        config::diagnostics diags;
        CHECK(tls::build_upstream_tls(u, diags) != nullptr);
        CHECK(diags.empty());
    }

    SECTION("the :443 front door picks the certificate by name and refuses unknown names") {
        config::diagnostics diags;
        const auto built = tls::build_listener_tls(c.listeners.at(0), diags);
        REQUIRE(built.context);
        struct row {
            const char* sni;
            const char* cn;  // nullptr: refused (unknown_sni = "refuse")
        };
        for (const row r : {row{"mdm.example.com", "mdm ecdsa"}, row{"enroll.example.com", "enroll"},
                            row{"example.com", "example.com"}, row{"www.example.com", nullptr}}) {
            INFO("SNI " << r.sni);
            auto client = ossl::own(SSL_CTX_new(TLS_client_method()));
            SSL_CTX_set_verify(client.get(), SSL_VERIFY_NONE, nullptr);
            std::string cn;
            SSL_CTX_set_cert_verify_callback(client.get(), record_cn, &cn);
            tls::handshake_record rec;
            const auto out = test::run_handshake(*client, *built.context->ctx, nullptr, nullptr, r.sni,
                                                 [&](SSL& s) { tls::set_handshake_record(&s, &rec); });
            if (r.cn != nullptr) {
                CHECK(out.client_ok);
                CHECK(cn == r.cn);
            } else {
                CHECK_FALSE(out.client_ok);
                CHECK(rec.reason == tls::refusal::unknown_sni);
            }
        }
    }
}
