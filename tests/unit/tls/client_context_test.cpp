// tls::build_upstream_tls: the client context toward an upstream's https:// members (the internal
// hop, where legacy versions are allowed). Versions and the security level they need, cipher
// strings (refused ones become a positioned diagnostic), verification and CA files, and real
// in-memory handshakes against a TLS 1.0-only legacy server.

#include "tests/support/cert_factory.hpp"
#include "tests/support/mem_tls.hpp"
#include "tls/client_context.hpp"

#include <catch2/catch.hpp>

#include <openssl/tls1.h>

#include <ctime>
#include <string>
#include <vector>

using namespace atsgate;
using version = config::tls_version_any;

namespace {

// `index`: its place in the file's [[upstream]] array, as the loader names it ("upstream[3]").
config::upstream upstream_with(version v, std::string ciphers = {}, std::size_t index = 0) {
    config::upstream u;
    u.name = "legacy";
    u.key_path = "upstream[" + std::to_string(index) + "]";
    u.where = {"proxy.toml", 20, 1};
    u.tls_min_version = v;
    u.tls_ciphers = std::move(ciphers);
    u.key_pos["tls_min_version"] = {"proxy.toml", 23, 19};
    if (!u.tls_ciphers.empty()) u.key_pos["tls_ciphers"] = {"proxy.toml", 24, 15};
    return u;
}

// The TLS <= 1.2 suites enabled on a context, in order.
std::vector<std::string> tls12_ciphers(SSL_CTX* c) {
    std::vector<std::string> out;
    STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(c);
    for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
        const SSL_CIPHER* s = sk_SSL_CIPHER_value(list, i);
        if ((SSL_CIPHER_get_protocol_id(s) >> 8) != 0x13) out.emplace_back(SSL_CIPHER_get_name(s));
    }
    return out;
}

}  // namespace

TEST_CASE("upstream TLS: versions and the security level they need", "[unit][client_context]") {
    struct row {
        const char* label;
        version v;
        int min_proto;
        bool level0;  // OpenSSL 3 needs security level 0 for TLS 1.0/1.1 (SHA-1 handshake signatures)
    };
    const row rows[] = {
        {"1.0", version::v1_0, TLS1_VERSION, true},
        {"1.1", version::v1_1, TLS1_1_VERSION, true},
        {"1.2", version::v1_2, TLS1_2_VERSION, false},
        {"1.3", version::v1_3, TLS1_3_VERSION, false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION("tls_min_version = \"" << r.label << '"') {
            config::diagnostics diags;
            auto ctx = tls::build_upstream_tls(upstream_with(r.v), diags);
            REQUIRE(diags.empty());
            REQUIRE(ctx);
            CHECK(SSL_CTX_get_min_proto_version(ctx.get()) == r.min_proto);
            CHECK(SSL_CTX_get_max_proto_version(ctx.get()) == TLS1_3_VERSION);
            if (r.level0)
                CHECK(SSL_CTX_get_security_level(ctx.get()) == 0);
            else
                CHECK(SSL_CTX_get_security_level(ctx.get()) >= 1);
            CHECK((SSL_CTX_get_options(ctx.get()) & SSL_OP_NO_COMPRESSION) != 0);
            CHECK((SSL_CTX_get_options(ctx.get()) & SSL_OP_NO_RENEGOTIATION) != 0);
            CHECK(SSL_CTX_get_verify_mode(ctx.get()) == SSL_VERIFY_NONE);  // tls_verify = false (default)
            CHECK_FALSE(tls12_ciphers(ctx.get()).empty());
        }
    }
}

TEST_CASE("upstream TLS: cipher strings", "[unit][client_context]") {
    SECTION("an explicit list is used as given") {
        config::diagnostics diags;
        auto ctx = tls::build_upstream_tls(upstream_with(version::v1_2, "ECDHE-RSA-AES128-GCM-SHA256"), diags);
        REQUIRE(ctx);
        CHECK(tls12_ciphers(ctx.get()) == std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256"});
    }
    SECTION("with TLS 1.0 allowed, a legacy CBC suite stays usable at security level 0") {
        config::diagnostics diags;
        auto ctx = tls::build_upstream_tls(upstream_with(version::v1_0, "AES128-SHA"), diags);
        REQUIRE(diags.empty());
        REQUIRE(ctx);
        CHECK(tls12_ciphers(ctx.get()) == std::vector<std::string>{"AES128-SHA"});
        CHECK(SSL_CTX_get_security_level(ctx.get()) == 0);
    }
    struct row {
        const char* label;
        version v;
        const char* ciphers;
    };
    const row rows[] = {
        {"an unknown name", version::v1_2, "NOPE"},
        {"only unknown names", version::v1_2, "NOPE:ALSO-NOPE"},
        {"an unknown name with TLS 1.0 allowed", version::v1_0, "NOPE"},
        {"a TLS 1.3 suite name (not a cipher-list entry)", version::v1_2, "TLS_AES_128_GCM_SHA256"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION("refused: " << r.label) {
            config::diagnostics diags;
            auto ctx = tls::build_upstream_tls(upstream_with(r.v, r.ciphers, 3), diags);
            CHECK_FALSE(ctx);
            REQUIRE(diags.size() == 1);
            const auto& d = diags[0];
            CHECK(d.level == config::severity::error);
            CHECK(d.key_path == "upstream[3].tls_ciphers");
            CHECK(d.where.line == 24);  // the key's position, from key_pos
            CHECK(d.where.column == 15);
            CHECK_THAT(d.to_string(), Catch::StartsWith(std::string("proxy.toml:24:15: upstream[3].tls_ciphers: OpenSSL refuses \"") +
                                                        r.ciphers + "\": "));
            CHECK(ERR_peek_error() == 0);  // the queue was drained into the message
        }
    }
}

TEST_CASE("upstream TLS: verification and the CA bundle", "[unit][client_context]") {
    test::temp_dir dir;
    test::cert_factory f(static_cast<std::int64_t>(std::time(nullptr)));
    const auto root = f.root_ca("upstream root");
    const auto ca_file = dir.write_chain("ca.pem", {&root}).string();
    const auto junk_file = dir.write_text("junk.pem", "not a certificate\n").string();

    auto with_ca = [](std::string ca, bool verify, std::size_t index = 0) {
        auto u = upstream_with(version::v1_2, {}, index);
        u.tls_verify = verify;
        u.tls_ca = std::move(ca);
        u.key_pos["tls_ca"] = {"proxy.toml", 26, 10};
        u.key_pos["tls_verify"] = {"proxy.toml", 25, 14};
        return u;
    };
    SECTION("tls_verify with a CA bundle") {
        config::diagnostics diags;
        auto ctx = tls::build_upstream_tls(with_ca(ca_file, true), diags);
        REQUIRE(diags.empty());
        REQUIRE(ctx);
        CHECK(SSL_CTX_get_verify_mode(ctx.get()) == SSL_VERIFY_PEER);
    }
    SECTION("tls_verify with the system store") {
        config::diagnostics diags;
        auto ctx = tls::build_upstream_tls(with_ca("", true), diags);
        REQUIRE(diags.empty());
        REQUIRE(ctx);
        CHECK(SSL_CTX_get_verify_mode(ctx.get()) == SSL_VERIFY_PEER);
    }
    SECTION("a missing CA file is a diagnostic at tls_ca") {
        const std::string missing = (dir.path() / "missing.pem").string();
        config::diagnostics diags;
        auto ctx = tls::build_upstream_tls(with_ca(missing, true, 1), diags);
        CHECK_FALSE(ctx);
        REQUIRE(diags.size() == 1);
        CHECK(diags[0].key_path == "upstream[1].tls_ca");
        CHECK_THAT(diags[0].to_string(),
                   Catch::StartsWith("proxy.toml:26:10: upstream[1].tls_ca: cannot load \"" + missing + "\": "));
        CHECK(ERR_peek_error() == 0);
    }
    SECTION("a CA file without certificates is a diagnostic at tls_ca") {
        config::diagnostics diags;
        auto ctx = tls::build_upstream_tls(with_ca(junk_file, true, 1), diags);
        CHECK_FALSE(ctx);
        REQUIRE(diags.size() == 1);
        CHECK_THAT(diags[0].to_string(),
                   Catch::StartsWith("proxy.toml:26:10: upstream[1].tls_ca: cannot load \"" + junk_file + "\": "));
    }
    SECTION("without tls_verify the CA file is not read") {
        config::diagnostics diags;
        auto ctx = tls::build_upstream_tls(with_ca((dir.path() / "missing.pem").string(), false), diags);
        CHECK(diags.empty());
        REQUIRE(ctx);
        CHECK(SSL_CTX_get_verify_mode(ctx.get()) == SSL_VERIFY_NONE);
    }
}

TEST_CASE("upstream TLS: handshakes with a TLS 1.0-only legacy server", "[unit][client_context]") {
    test::cert_factory f(static_cast<std::int64_t>(std::time(nullptr)));
    const auto root = f.root_ca("legacy root", test::key_type::rsa_2048);
    const auto leaf = f.leaf(root, "legacy.example.test", test::key_type::rsa_2048);
    // A legacy backend as still found behind MDM stacks: TLS 1.0 only, CBC suites.
    auto server = ossl::own(SSL_CTX_new(TLS_server_method()));
    REQUIRE(server);
    SSL_CTX_set_security_level(server.get(), 0);
    SSL_CTX_set_min_proto_version(server.get(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(server.get(), TLS1_VERSION);
    REQUIRE(SSL_CTX_set_cipher_list(server.get(), "ECDHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0") == 1);
    REQUIRE(SSL_CTX_use_certificate(server.get(), leaf.cert.get()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(server.get(), leaf.key.get()) == 1);

    struct row {
        const char* label;
        version v;
        const char* ciphers;
        bool connects;
    };
    const row rows[] = {
        {"tls_min_version 1.0 connects", version::v1_0, "", true},
        {"tls_min_version 1.0 with an explicit legacy suite connects", version::v1_0, "AES128-SHA", true},
        {"tls_min_version 1.1 does not", version::v1_1, "", false},
        {"the default (1.2) does not", version::v1_2, "", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            config::diagnostics diags;
            auto client = tls::build_upstream_tls(upstream_with(r.v, r.ciphers), diags);
            REQUIRE(client);
            const auto out = test::run_handshake(*client, *server, nullptr, nullptr, "legacy.example.test");
            CHECK(out.client_ok == r.connects);
            if (r.connects) {
                CHECK(out.version == "TLSv1");
                if (*r.ciphers != '\0') CHECK(out.cipher == r.ciphers);
            }
        }
    }
    ERR_clear_error();
}
