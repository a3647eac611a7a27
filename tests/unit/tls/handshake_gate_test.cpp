// The ATS handshake gate: the pure decision table, then real in-memory handshakes against the
// server context built by tls::build_listener_tls (the same context `atsgate run` serves).

#include "tests/support/cert_factory.hpp"
#include "tests/support/mem_tls.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/server_context.hpp"

#include <catch2/catch.hpp>

#include <openssl/tls1.h>

#include <ctime>
#include <string>

using namespace atsgate;
using tls::refusal;

namespace {

tls::gate_policy ecdsa_policy() {
    tls::gate_policy p;
    p.tls12_suites[0] = 0xC02B;
    p.tls12_suites[1] = 0xC02C;
    p.tls12_suite_count = 2;
    p.tls13_suites[0] = 0x1301;
    p.tls13_suites[1] = 0x1302;
    p.tls13_suites[2] = 0x1303;
    p.tls13_suite_count = 3;
    p.groups[0] = 0x001D;
    p.groups[1] = 0x0017;
    p.groups[2] = 0x0018;
    p.group_count = 3;
    return p;
}

// A modern client: offers 1.2 and 1.3, shared suites and groups, EMS.
tls::client_hello_facts modern() {
    tls::client_hello_facts f;
    f.legacy_version = TLS1_2_VERSION;
    f.max_version = TLS1_3_VERSION;
    f.supported_versions_ext = true;
    f.offers_tls12 = f.offers_tls13 = true;
    f.suite_count = 10;
    f.shared_tls12_suite = f.shared_tls13_suite = true;
    f.groups_ext = f.shared_group = true;
    f.ems = true;
    return f;
}

tls::client_hello_facts tls12_only() {
    auto f = modern();
    f.max_version = TLS1_2_VERSION;
    f.supported_versions_ext = false;
    f.offers_tls13 = false;
    f.shared_tls13_suite = false;
    return f;
}

}  // namespace

TEST_CASE("gate: decision table", "[unit][gate]") {
    struct row {
        const char* label;
        tls::client_hello_facts hello;
        bool allow_tls12;
        refusal expected;
        int alert;
    };
    auto with = [](tls::client_hello_facts f, auto&& change) {
        change(f);
        return f;
    };
    const row rows[] = {
        {"modern client -> TLS 1.3", modern(), true, refusal::none, 0},
        {"TLS 1.3 without EMS is fine (EMS is a TLS 1.2 rule)", with(modern(), [](auto& f) { f.ems = false; }), true,
         refusal::none, 0},
        {"TLS 1.3 without a shared 1.3 suite", with(modern(), [](auto& f) { f.shared_tls13_suite = false; }), true,
         refusal::no_pfs_suite, 40},
        {"TLS 1.3 without supported_groups", with(modern(), [](auto& f) { f.groups_ext = f.shared_group = false; }),
         true, refusal::no_shared_group, 40},
        {"TLS 1.3 with only foreign groups", with(modern(), [](auto& f) { f.shared_group = false; }), true,
         refusal::no_shared_group, 40},
        {"TLS 1.2 ECDHE + EMS", tls12_only(), true, refusal::none, 0},
        {"TLS 1.2 without EMS", with(tls12_only(), [](auto& f) { f.ems = false; }), true, refusal::no_ems, 40},
        {"TLS 1.2 RSA key exchange only", with(tls12_only(), [](auto& f) { f.shared_tls12_suite = false; }), true,
         refusal::no_pfs_suite, 40},
        {"TLS 1.2 no suite and no EMS reports the suite first",
         with(tls12_only(), [](auto& f) { f.shared_tls12_suite = false; f.ems = false; }), true, refusal::no_pfs_suite,
         40},
        {"TLS 1.2 without supported_groups may use any curve (RFC 8422)",
         with(tls12_only(), [](auto& f) { f.groups_ext = f.shared_group = false; }), true, refusal::none, 0},
        {"TLS 1.2 with only foreign groups", with(tls12_only(), [](auto& f) { f.shared_group = false; }), true,
         refusal::no_shared_group, 40},
        {"TLS 1.1 client", with(tls12_only(), [](auto& f) { f.legacy_version = f.max_version = 0x0302; f.offers_tls12 = false; }),
         true, refusal::protocol_version, 70},
        {"SSLv3 client", with(tls12_only(), [](auto& f) { f.legacy_version = f.max_version = 0x0300; f.offers_tls12 = false; }),
         true, refusal::protocol_version, 70},
        {"TLS 1.2-only client on a TLS 1.3-only listener", tls12_only(), false, refusal::protocol_version, 70},
        {"modern client on a TLS 1.3-only listener", modern(), false, refusal::none, 0},
        {"supported_versions listing only 1.0/1.1",
         with(modern(), [](auto& f) { f.offers_tls12 = f.offers_tls13 = false; f.max_version = 0x0302; }), true,
         refusal::protocol_version, 70},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            auto policy = ecdsa_policy();
            policy.allow_tls12 = r.allow_tls12;
            const auto d = tls::decide(r.hello, policy);
            CHECK(d.reason == r.expected);
            CHECK(static_cast<int>(d.alert) == r.alert);
        }
    }
}

TEST_CASE("gate: refusal names are stable", "[unit][gate]") {
    CHECK(tls::to_string(refusal::protocol_version) == "protocol_version");
    CHECK(tls::to_string(refusal::no_pfs_suite) == "no_pfs_suite");
    CHECK(tls::to_string(refusal::no_ems) == "no_ems");
    CHECK(tls::to_string(refusal::no_shared_group) == "no_shared_group");
    CHECK(tls::to_string(refusal::other) == "other");
}

TEST_CASE("gate: classify_failure prefers the gate's reason, then OpenSSL's", "[unit][gate]") {
    tls::handshake_record rec;
    rec.reason = refusal::no_ems;
    CHECK(tls::classify_failure(rec, SSL_R_NO_SHARED_CIPHER) == refusal::no_ems);
    rec.reason = refusal::none;
    CHECK(tls::classify_failure(rec, SSL_R_NO_SHARED_CIPHER) == refusal::no_pfs_suite);
    CHECK(tls::classify_failure(rec, SSL_R_UNSUPPORTED_PROTOCOL) == refusal::protocol_version);
    CHECK(tls::classify_failure(rec, SSL_R_NO_SUITABLE_KEY_SHARE) == refusal::no_shared_group);
    CHECK(tls::classify_failure(rec, 0) == refusal::other);
}

// Found by tests/fuzz (fuzz_handshake_gate, corpus/handshake_gate/select_group_high_byte): the name
// tables are sorted by std::string (bytes unsigned) but were searched with a signed compare, so a
// name with a byte >= 0x80 (a raw certificate dNSName) hid the valid names sorted before it.
TEST_CASE("gate: select_group finds every name of a table holding non-ASCII bytes", "[unit][gate]") {
    tls::gate_config cfg;
    cfg.groups.resize(3);
    cfg.refuse_unknown_sni = true;
    cfg.exact = {{"mdm.example.com", 1}, {"\xe9" "cole.example.com", 2}};  // sorted as server_context does
    cfg.wildcard = {{"example.net", 1}, {"\xe9" "cole.example.net", 2}};
    CHECK(tls::select_group(cfg, "mdm.example.com") == std::size_t{1});
    CHECK(tls::select_group(cfg, "MDM.Example.COM") == std::size_t{1});
    CHECK(tls::select_group(cfg, "\xe9" "cole.example.com") == std::size_t{2});
    CHECK(tls::select_group(cfg, "a.example.net") == std::size_t{1});
    CHECK(tls::select_group(cfg, "a.\xe9" "cole.example.net") == std::size_t{2});
    CHECK(tls::select_group(cfg, "other.example.com") == std::nullopt);
    CHECK(tls::select_group(cfg, "") == std::size_t{0});
}

namespace {

// A listener config pointing at freshly generated files.
struct listener_fixture {
    test::temp_dir dir;
    config::listener l;

    explicit listener_fixture(test::key_type kt = test::key_type::ec_p256) {
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        test::cert_factory f(now);
        auto root = f.root_ca("gate test root", kt);
        auto leaf = f.leaf(root, "localhost", kt);
        l.name = "gate";
        l.address = "127.0.0.1";
        l.port = 8443;
        config::certificate c;
        c.shorthand = true;
        c.cert = dir.write_chain("cert.pem", {&leaf}).string();
        c.key = dir.write_key("key.pem", leaf).string();
        l.certificates.push_back(std::move(c));
        l.trust = dir.write_chain("trust.pem", {&root}).string();
        l.server_name = "localhost";
        l.upstream = "u";
    }

    tls::listener_tls build(config::diagnostics& diags) const { return tls::build_listener_tls(l, 0, diags); }
};

ossl::ptr<SSL_CTX> client_ctx(int min_version, int max_version) {
    auto ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
    REQUIRE(ctx);
    SSL_CTX_set_security_level(ctx.get(), 0);  // let the client offer legacy things on purpose
    SSL_CTX_set_min_proto_version(ctx.get(), min_version);
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
}

struct gated_result {
    test::handshake_outcome outcome;
    tls::handshake_record record;
};

gated_result handshake(SSL_CTX& client, SSL_CTX& server) {
    gated_result r;
    r.outcome = test::run_handshake(client, server, nullptr, nullptr, "localhost",
                                    [&](SSL& s) { tls::set_handshake_record(&s, &r.record); });
    return r;
}

}  // namespace

TEST_CASE("gate: real handshakes against the built server context", "[unit][gate]") {
    listener_fixture fx;
    config::diagnostics diags;
    auto built = fx.build(diags);
    REQUIRE(diags.empty());
    REQUIRE(built.context);
    SSL_CTX& server = *built.context->ctx;

    SECTION("TLS 1.3 default client is accepted") {
        auto c = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
        auto r = handshake(*c, server);
        CHECK(r.outcome.client_ok);
        CHECK(r.outcome.version == "TLSv1.3");
        CHECK(r.record.hello_seen);
        CHECK(r.record.reason == refusal::none);
        CHECK(std::string(r.record.hello.sni.data()) == "localhost");
    }
    SECTION("TLS 1.2 ECDHE with EMS is accepted") {
        auto c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
        auto r = handshake(*c, server);
        CHECK(r.outcome.client_ok);
        CHECK(r.outcome.version == "TLSv1.2");
        CHECK(r.outcome.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
        CHECK(r.outcome.ems);
    }
    SECTION("TLS 1.2 without EMS is refused with handshake_failure") {
        auto c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
        SSL_CTX_set_options(c.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
        auto r = handshake(*c, server);
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.record.reason == refusal::no_ems);
        CHECK_FALSE(r.record.hello.ems);
        CHECK(r.outcome.alert_received_by_client == SSL_AD_HANDSHAKE_FAILURE);
    }
    SECTION("TLS 1.1 is refused with protocol_version") {
        auto c = client_ctx(TLS1_1_VERSION, TLS1_1_VERSION);
        SSL_CTX_set_cipher_list(c.get(), "DEFAULT@SECLEVEL=0");
        auto r = handshake(*c, server);
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.record.reason == refusal::protocol_version);
        CHECK(r.record.hello.max_version == 0x0302);
        CHECK(r.outcome.alert_received_by_client == SSL_AD_PROTOCOL_VERSION);
    }
    SECTION("TLS 1.2 offering only RSA key exchange is refused") {
        auto c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
        SSL_CTX_set_cipher_list(c.get(), "AES128-GCM-SHA256:AES256-GCM-SHA384");
        auto r = handshake(*c, server);
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.record.reason == refusal::no_pfs_suite);
        CHECK(r.outcome.alert_received_by_client == SSL_AD_HANDSHAKE_FAILURE);
    }
    SECTION("TLS 1.2 offering only DHE is refused") {
        auto c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
        SSL_CTX_set_cipher_list(c.get(), "DHE-RSA-AES128-GCM-SHA256");
        auto r = handshake(*c, server);
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.record.reason == refusal::no_pfs_suite);
    }
    SECTION("TLS 1.3 offering only X448 is refused") {
        auto c = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION);
        SSL_CTX_set1_groups_list(c.get(), "X448");
        auto r = handshake(*c, server);
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.record.reason == refusal::no_shared_group);
    }
    SECTION("each TLS 1.3 suite is accepted") {
        for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
            auto c = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION);
            SSL_CTX_set_ciphersuites(c.get(), suite);
            auto r = handshake(*c, server);
            CHECK(r.outcome.client_ok);
            CHECK(r.outcome.cipher == suite);
        }
    }
    SECTION("TLS 1.2 ticket resumption keeps EMS") {
        auto c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
        ossl::ptr<SSL_SESSION> sess;
        auto first = test::run_handshake(*c, server, nullptr, &sess);
        REQUIRE(first.client_ok);
        REQUIRE(sess);
        auto second = test::run_handshake(*c, server, sess.get());
        CHECK(second.client_ok);
        CHECK(second.resumed);
        CHECK(second.ems);
    }
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("gate: RSA listener serves ECDHE-RSA and refuses ECDSA-only clients", "[unit][gate]") {
    listener_fixture fx(test::key_type::rsa_2048);
    config::diagnostics diags;
    auto built = fx.build(diags);
    REQUIRE(diags.empty());
    REQUIRE(built.context);
    auto ok = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    auto r = handshake(*ok, *built.context->ctx);
    CHECK(r.outcome.client_ok);
    CHECK(r.outcome.cipher == "ECDHE-RSA-AES128-GCM-SHA256");

    auto ecdsa_only = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ecdsa_only.get(), "ECDHE-ECDSA-AES128-GCM-SHA256");
    auto refused = handshake(*ecdsa_only, *built.context->ctx);
    CHECK_FALSE(refused.outcome.client_ok);
    CHECK(refused.record.reason == refusal::no_pfs_suite);
}

TEST_CASE("server context: the live context is what the audit inspects", "[unit][gate]") {
    listener_fixture fx;
    config::diagnostics diags;
    auto built = fx.build(diags);
    REQUIRE(built.context);
    REQUIRE(built.facts.front().context);
    const auto& c = *built.facts.front().context;
    CHECK(c.min_version == TLS1_2_VERSION);
    CHECK(c.max_version == TLS1_3_VERSION);
    CHECK(c.ems_gate);
    CHECK_FALSE(c.ems_disabled);
    CHECK(c.compression_disabled);
    CHECK(c.renegotiation_disabled);
    CHECK(c.tls13_suites.size() == 3);
    for (const auto& s : c.tls12_suites) CHECK(s.rfind("ECDHE-", 0) == 0);
    CHECK(tls::installed_gate(built.context->ctx.get()) != nullptr);

    SECTION("min_version 1.3 turns TLS 1.2 off") {
        fx.l.min_version = config::tls_version::v1_3;
        config::diagnostics d2;
        auto b2 = fx.build(d2);
        REQUIRE(b2.facts.front().context);
        CHECK(b2.facts.front().context->min_version == TLS1_3_VERSION);
        REQUIRE(b2.context);
        auto c12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
        auto r = handshake(*c12, *b2.context->ctx);
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.record.reason == refusal::protocol_version);
    }
}

TEST_CASE("server context: suite and group names are checked with positions", "[unit][gate]") {
    struct row {
        const char* label;
        std::vector<config::positioned> tls12, tls13, groups;
        const char* expected;
    };
    auto at = [](const char* v, std::uint32_t line) { return config::positioned{v, {"proxy.toml", line, 7}}; };
    const row rows[] = {
        {"RSA key exchange suite", {at("AES128-GCM-SHA256", 3)}, {}, {},
         "proxy.toml:3:7: listener[0].tls12_ciphers[0] is \"AES128-GCM-SHA256\", not an ECDHE suite on Apple's ATS list"},
        {"DHE suite", {at("DHE-RSA-AES128-GCM-SHA256", 4)}, {}, {},
         "proxy.toml:4:7: listener[0].tls12_ciphers[0] is \"DHE-RSA-AES128-GCM-SHA256\", not an ECDHE suite on Apple's ATS list"},
        {"unknown suite", {at("NOPE", 5)}, {}, {},
         "proxy.toml:5:7: listener[0].tls12_ciphers[0] is \"NOPE\", an unknown cipher suite"},
        {"TLS 1.3 suite in the TLS 1.2 list", {at("TLS_AES_128_GCM_SHA256", 6)}, {}, {},
         "proxy.toml:6:7: listener[0].tls12_ciphers[0] is \"TLS_AES_128_GCM_SHA256\", a TLS 1.3 suite"},
        {"TLS 1.2 suite in the TLS 1.3 list", {}, {at("ECDHE-ECDSA-AES128-GCM-SHA256", 7)}, {},
         "proxy.toml:7:7: listener[0].tls13_ciphersuites[0] is \"ECDHE-ECDSA-AES128-GCM-SHA256\", not a TLS 1.3 cipher suite"},
        {"unknown group", {}, {}, {at("X448", 8)},
         "proxy.toml:8:7: listener[0].groups[0] is \"X448\", not an allowed key-exchange group"},
        {"only RSA suites for an ECDSA key", {at("ECDHE-RSA-AES128-GCM-SHA256", 9)}, {}, {},
         "listener[0].tls12_ciphers has no suite usable with the ECDSA certificate key"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            listener_fixture fx;
            fx.l.tls12_ciphers = r.tls12;
            fx.l.tls13_ciphersuites = r.tls13;
            fx.l.groups = r.groups;
            config::diagnostics diags;
            (void)fx.build(diags);
            REQUIRE(diags.size() == 1);
            CHECK_THAT(diags[0].to_string(), Catch::Contains(r.expected));
        }
    }
    SECTION("IANA names are accepted") {
        listener_fixture fx;
        fx.l.tls12_ciphers = {at("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 3)};
        config::diagnostics diags;
        auto b = fx.build(diags);
        CHECK(diags.empty());
        REQUIRE(b.facts.front().context);
        CHECK(b.facts.front().context->tls12_suites == std::vector<std::string>{"ECDHE-ECDSA-AES256-GCM-SHA384"});
    }
}
