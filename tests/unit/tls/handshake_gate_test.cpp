// The ATS handshake gate: the pure decision table, then real in-memory handshakes against the
// server context built by tls::build_listener_tls (the same context `atsgate run` serves).

#include "tests/support/cert_factory.hpp"
#include "tests/support/mem_tls.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/server_context.hpp"

#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/tls1.h>

#include <ctime>
#include <set>
#include <string>
#include <string_view>

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

TEST_CASE("gate: refusal and failure names are stable", "[unit][gate]") {
    CHECK(tls::to_string(refusal::protocol_version) == "protocol_version");
    CHECK(tls::to_string(refusal::no_pfs_suite) == "no_pfs_suite");
    CHECK(tls::to_string(refusal::no_ems) == "no_ems");
    CHECK(tls::to_string(refusal::no_shared_group) == "no_shared_group");
    CHECK(tls::to_string(refusal::no_shared_sigalg) == "no_shared_sigalg");
    CHECK(tls::to_string(refusal::unknown_sni) == "unknown_sni");
    CHECK(tls::to_string(refusal::no_application_protocol) == "no_application_protocol");
    CHECK(tls::to_string(refusal::no_client_certificate) == "no_client_certificate");
    CHECK(tls::to_string(refusal::bad_client_certificate) == "bad_client_certificate");
    CHECK(tls::to_string(refusal::certificate_pending) == "certificate_pending");
    CHECK(tls::to_string(tls::handshake_failure::client_alert) == "client_alert");
    CHECK(tls::to_string(tls::handshake_failure::protocol_error) == "protocol_error");
    CHECK(tls::to_string(tls::handshake_failure::client_closed) == "client_closed");
    CHECK(tls::to_string(tls::handshake_failure::other) == "other");
    // Every value has its own name (a metrics label must never be shared by two reasons).
    std::set<std::string_view> names;
    for (std::size_t r = 0; r < tls::refusal_count; ++r) names.insert(tls::to_string(static_cast<refusal>(r)));
    CHECK(names.size() == tls::refusal_count);
    CHECK(tls::alert_name(48) == "unknown_ca");
    CHECK(tls::alert_name(120) == "no_application_protocol");
    CHECK(tls::alert_name(255) == "alert_255");
}

TEST_CASE("gate: classify_failure prefers the gate's reason, then OpenSSL's", "[unit][gate]") {
    using tls::handshake_failure;
    struct row {
        const char* label;
        int openssl_reason;
        refusal reason;
        handshake_failure failure;
        int alert;
    };
    const row rows[] = {
        {"no shared cipher", SSL_R_NO_SHARED_CIPHER, refusal::no_pfs_suite, handshake_failure::none, -1},
        {"unsupported protocol", SSL_R_UNSUPPORTED_PROTOCOL, refusal::protocol_version, handshake_failure::none, -1},
        {"no key share", SSL_R_NO_SUITABLE_KEY_SHARE, refusal::no_shared_group, handshake_failure::none, -1},
        {"no shared groups", SSL_R_NO_SHARED_GROUPS, refusal::no_shared_group, handshake_failure::none, -1},
        {"no signature algorithm", SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, refusal::no_shared_sigalg,
         handshake_failure::none, -1},
        {"no shared signature algorithms", SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS, refusal::no_shared_sigalg,
         handshake_failure::none, -1},
        {"inconsistent EMS", SSL_R_INCONSISTENT_EXTMS, refusal::no_ems, handshake_failure::none, -1},
        {"ALPN", SSL_R_NO_APPLICATION_PROTOCOL, refusal::no_application_protocol, handshake_failure::none, -1},
        {"no client certificate", SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, refusal::no_client_certificate,
         handshake_failure::none, -1},
        {"client certificate verify", SSL_R_CERTIFICATE_VERIFY_FAILED, refusal::bad_client_certificate,
         handshake_failure::none, -1},
        {"socket ended", 0, refusal::none, handshake_failure::client_closed, -1},
        {"EOF mid-record", SSL_R_UNEXPECTED_EOF_WHILE_READING, refusal::none, handshake_failure::client_closed, -1},
        {"close_notify", SSL_AD_REASON_OFFSET, refusal::none, handshake_failure::client_closed, -1},
        {"client sent unknown_ca", SSL_R_TLSV1_ALERT_UNKNOWN_CA, refusal::none, handshake_failure::client_alert, 48},
        {"client sent bad_certificate", SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, refusal::none,
         handshake_failure::client_alert, 42},
        {"decode error", SSL_R_LENGTH_MISMATCH, refusal::none, handshake_failure::protocol_error, -1},
        {"unexpected message", SSL_R_UNEXPECTED_MESSAGE, refusal::none, handshake_failure::protocol_error, -1},
        {"bad record MAC", SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC, refusal::none, handshake_failure::protocol_error,
         -1},
        {"our callback failed", SSL_R_CALLBACK_FAILED, refusal::none, handshake_failure::other, -1},
        {"internal error", ERR_GET_REASON(ERR_R_INTERNAL_ERROR), refusal::none, handshake_failure::other, -1},
        {"malloc failure", ERR_GET_REASON(ERR_R_MALLOC_FAILURE), refusal::none, handshake_failure::other, -1},
    };
    tls::handshake_record rec;
    rec.hello_seen = true;
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            const auto c = tls::classify_failure(rec, r.openssl_reason);
            CHECK(c.reason == r.reason);
            CHECK(c.failure == r.failure);
            CHECK(c.alert == r.alert);
            // Exactly one of the two is set.
            CHECK((c.reason == refusal::none) != (c.failure == handshake_failure::none));
        }
    }
    SECTION("the gate's refusal wins over OpenSSL's reason") {
        rec.reason = refusal::no_ems;
        const auto c = tls::classify_failure(rec, SSL_R_NO_SHARED_CIPHER);
        CHECK(c.reason == refusal::no_ems);
        CHECK(c.failure == handshake_failure::none);
        CHECK(tls::classify_failure(rec, SSL_R_CALLBACK_FAILED).reason == refusal::no_ems);
    }
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
        l.key_path = "listener[0]";
        l.address = "127.0.0.1";
        l.port = 8443;
        config::certificate c;
        c.shorthand = true;
        c.key_path = l.key_path;
        c.cert = dir.write_chain("cert.pem", {&leaf}).string();
        c.key = dir.write_key("key.pem", leaf).string();
        l.certificates.push_back(std::move(c));
        l.trust = dir.write_chain("trust.pem", {&root}).string();
        l.server_name = "localhost";
        l.upstream = "u";
    }

    tls::listener_tls build(config::diagnostics& diags) const { return tls::build_listener_tls(l, diags); }
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
    SECTION("ALPN: http/1.1 or http/1.0 is selected; only unknown protocols get no_application_protocol") {
        struct row {
            const char* label;
            std::string protos;  // wire format; "" = no ALPN extension
            bool ok;
        };
        const row rows[] = {
            {"no ALPN", "", true},
            {"http/1.1", std::string("\x08http/1.1", 9), true},
            {"h2 then http/1.1", std::string("\x02h2\x08http/1.1", 12), true},
            {"http/1.0 only", std::string("\x08http/1.0", 9), true},
            {"h2 only", std::string("\x02h2", 3), false},
            {"h2 and h3", std::string("\x02h2\x02h3", 6), false},
        };
        for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
            for (const auto& r : rows) {
                INFO(r.label << " version " << version);
                auto c = client_ctx(version, version);
                if (!r.protos.empty())
                    REQUIRE(SSL_CTX_set_alpn_protos(c.get(), reinterpret_cast<const unsigned char*>(r.protos.data()),
                                                    static_cast<unsigned>(r.protos.size())) == 0);
                auto out = handshake(*c, server);
                CHECK(out.outcome.client_ok == r.ok);
                CHECK(out.record.reason == refusal::none);  // not the gate: the ALPN callback
                if (!r.ok) CHECK(out.outcome.alert_received_by_client == SSL_AD_NO_APPLICATION_PROTOCOL);
                ERR_clear_error();
            }
        }
    }
    SECTION("TLS 1.2 client signature algorithms without SHA-256+ are refused") {
        // (A TLS 1.3 OpenSSL client will not even send such a ClientHello.)
        auto c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
        REQUIRE(SSL_CTX_set1_sigalgs_list(c.get(), "ECDSA+SHA1:RSA+SHA1") == 1);
        auto out = handshake(*c, server);
        CHECK_FALSE(out.outcome.client_ok);
        CHECK(out.record.reason == refusal::none);  // OpenSSL refuses it (reason no_shared_sigalg), not the gate
        CHECK_THAT(out.outcome.server_error, Catch::Contains("no shared signature algorithms"));
        CHECK(out.outcome.alert_received_by_client == SSL_AD_HANDSHAKE_FAILURE);
        ERR_clear_error();
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
