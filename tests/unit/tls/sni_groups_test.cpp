// tls::build_listener_tls with several certificates: SNI certificate groups (exact names, one-label
// wildcards, unknown names served the default or refused with unrecognized_name), one name with an
// ECDSA and an RSA certificate (each client gets the one it can use), the configuration errors of
// grouping, and client authentication (require / optional, with and without client_ca). Every
// case is a real in-memory handshake against the built context; the client records which server
// certificate it was sent.

#include "tests/support/cert_factory.hpp"
#include "tests/support/mem_tls.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/server_context.hpp"

#include <catch2/catch.hpp>

#include <openssl/tls1.h>
#include <openssl/x509.h>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

using namespace atsgate;
using tls::refusal;

namespace {

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// The server certificate a client was sent: its CN and key type ("EC" / "RSA").
struct seen_cert {
    std::string cn;
    std::string key;
};

std::string cn_of(X509* x) {
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
    return buf;
}

// Records the leaf the server sent and accepts it: these tests look at certificate selection,
// not at chain verification (the audit tests cover that).
int record_server_cert(X509_STORE_CTX* store, void* arg) {
    auto* out = static_cast<std::optional<seen_cert>*>(arg);
    if (X509* leaf = X509_STORE_CTX_get0_cert(store)) {
        const int type = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
        *out = seen_cert{cn_of(leaf), type == EVP_PKEY_EC ? "EC" : type == EVP_PKEY_RSA ? "RSA" : "other"};
    }
    return 1;
}

// A client that may offer everything the listener accepts (TLS 1.2-1.3), with optional limits.
struct client {
    ossl::ptr<SSL_CTX> ctx;
    std::optional<seen_cert> seen;

    explicit client(int min_version = TLS1_2_VERSION, int max_version = TLS1_3_VERSION) {
        ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
        REQUIRE(ctx);
        SSL_CTX_set_min_proto_version(ctx.get(), min_version);
        SSL_CTX_set_max_proto_version(ctx.get(), max_version);
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_cert_verify_callback(ctx.get(), record_server_cert, &seen);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // RSA-only: TLS 1.2 with ECDHE-RSA only and RSA signature algorithms only (an old client that
    // cannot verify ECDSA; `openssl s_client -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -sigalgs ...`).
    static void rsa_only(SSL_CTX* c) {
        REQUIRE(SSL_CTX_set_cipher_list(c, "ECDHE-RSA-AES128-GCM-SHA256") == 1);
        REQUIRE(SSL_CTX_set1_sigalgs_list(c, "RSA+SHA256:RSA+SHA384:rsa_pss_rsae_sha256") == 1);
    }
};

struct result {
    test::handshake_outcome outcome;
    tls::handshake_record record;
    std::optional<seen_cert> cert;
    bool peer_cert_on_server = false;  // the server saw a client certificate
};

int server_seen_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

result handshake(client& c, SSL_CTX& server, const char* sni) {
    result r;
    c.seen.reset();
    r.outcome = test::run_handshake(*c.ctx, server, nullptr, nullptr, sni, [&](SSL& s) {
        tls::set_handshake_record(&s, &r.record);
        SSL_set_ex_data(&s, server_seen_index(), &r.peer_cert_on_server);
        SSL_set_info_callback(&s, [](const SSL* ssl, int where, int) {
            if ((where & SSL_CB_HANDSHAKE_DONE) == 0) return;
            auto* seen = static_cast<bool*>(SSL_get_ex_data(ssl, server_seen_index()));
            if (seen != nullptr) *seen = SSL_get0_peer_certificate(ssl) != nullptr;
        });
    });
    r.cert = c.seen;
    return r;
}

// One generated certificate and its files.
struct cert_files {
    std::string cert;
    std::string key;
};

// A leaf named `cn` (to recognise it) with SAN DNS `sans`, signed by `issuer`.
test::test_cert make_leaf(const test::cert_factory& f, const test::test_cert& issuer, const std::string& cn,
                          const std::vector<std::string>& sans, test::key_type k) {
    auto spec = test::cert_factory::leaf_spec(sans.front(), k);
    spec.common_name = cn;
    spec.san_dns = sans;
    return f.make(spec, &issuer);
}

config::positioned at(const char* v, std::uint32_t line, std::uint32_t column = 10) {
    return config::positioned{v, {"proxy.toml", line, column}};
}

// The listener of the SNI tests:
//   cert/key (shorthand)   "mdm ecdsa"   EC,  SAN mdm.example.test        -> group 0 (default)
//   certificate[0]         "mdm rsa"     RSA, SAN mdm.example.test        -> group 0 (the RSA half)
//   certificate[1]         "enroll"      EC,  names enroll.example.test   -> group 1
//   certificate[2]         "devices"     EC,  names *.devices.example.test -> group 2
struct sni_fixture {
    test::temp_dir dir;
    test::cert_factory f{now()};
    test::test_cert root = f.root_ca("sni test root");
    config::listener l;

    sni_fixture() {
        l.name = "front";
        l.key_path = "listener[0]";
        l.address = "127.0.0.1";
        l.port = 443;
        l.upstream = "u";
        add(make_leaf(f, root, "mdm ecdsa", {"mdm.example.test"}, test::key_type::ec_p256), "mdm-ec", {}, true);
        add(make_leaf(f, root, "mdm rsa", {"mdm.example.test"}, test::key_type::rsa_2048), "mdm-rsa", {});
        add(make_leaf(f, root, "enroll", {"enroll.example.test"}, test::key_type::ec_p256), "enroll",
            {at("enroll.example.test", 12)});
        add(make_leaf(f, root, "devices", {"x.devices.example.test"}, test::key_type::ec_p256), "devices",
            {at("*.devices.example.test", 17)});
    }

    void add(const test::test_cert& c, const std::string& file, std::vector<config::positioned> names,
             bool shorthand = false) {
        config::certificate cc;
        cc.cert = dir.write_chain(file + ".pem", {&c}).string();
        cc.key = dir.write_key(file + ".key", c).string();
        cc.names = std::move(names);
        cc.shorthand = shorthand;
        // As the loader names them: the shorthand by its listener, the others by their index
        // among [[listener.certificate]] entries.
        const bool after_shorthand = !l.certificates.empty() && l.certificates.front().shorthand;
        cc.key_path = shorthand ? l.key_path
                                : l.key_path + ".certificate[" +
                                      std::to_string(l.certificates.size() - (after_shorthand ? 1 : 0)) + "]";
        const auto line = static_cast<std::uint32_t>(4 + 5 * l.certificates.size());
        cc.where = {"proxy.toml", line, 1};
        cc.key_pos["cert"] = {"proxy.toml", line + 1, 8};
        cc.key_pos["key"] = {"proxy.toml", line + 2, 7};
        if (!cc.names.empty()) cc.key_pos["names"] = {"proxy.toml", line + 3, 9};
        l.certificates.push_back(std::move(cc));
    }

    tls::listener_tls build(config::diagnostics& diags) const { return tls::build_listener_tls(l, diags); }
};

}  // namespace

TEST_CASE("sni groups: each name gets its certificate", "[unit][sni]") {
    sni_fixture fx;
    config::diagnostics diags;
    auto built = fx.build(diags);
    INFO((diags.empty() ? std::string() : diags.front().to_string()));
    REQUIRE(diags.empty());
    REQUIRE(built.context);
    CHECK(built.context->key_description == "EC P-256 + RSA 2048");
    REQUIRE(built.facts.size() == 4);

    struct row {
        const char* label;
        const char* sni;  // nullptr: no SNI
        const char* cn;
    };
    const row rows[] = {
        {"exact name of the default group", "mdm.example.test", "mdm ecdsa"},
        {"exact name of another group", "enroll.example.test", "enroll"},
        {"names match case-insensitively", "ENROLL.Example.TEST", "enroll"},
        {"a wildcard matches one label", "ipad-7.devices.example.test", "devices"},
        {"a wildcard does not match two labels", "a.b.devices.example.test", "mdm ecdsa"},
        {"a wildcard does not match its own suffix", "devices.example.test", "mdm ecdsa"},
        {"an unknown name gets the default", "unknown.example.test", "mdm ecdsa"},
        {"no SNI gets the default", nullptr, "mdm ecdsa"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
                INFO("TLS " << (version == TLS1_3_VERSION ? "1.3" : "1.2"));
                client c(version, version);
                const auto res = handshake(c, *built.context->ctx, r.sni);
                CHECK(res.outcome.client_ok);
                CHECK(res.outcome.server_ok);
                REQUIRE(res.cert);
                CHECK(res.cert->cn == r.cn);
                CHECK(res.cert->key == "EC");
                CHECK(res.record.reason == refusal::none);
                if (version == TLS1_2_VERSION) CHECK(res.outcome.ems);
            }
        }
    }
}

TEST_CASE("sni groups: unknown_sni = \"refuse\" refuses names no certificate serves", "[unit][sni]") {
    sni_fixture fx;
    fx.l.unknown_sni = config::unknown_sni_mode::refuse;
    config::diagnostics diags;
    auto built = fx.build(diags);
    REQUIRE(diags.empty());
    REQUIRE(built.context);

    struct row {
        const char* label;
        const char* sni;
        const char* cn;  // nullptr: refused
    };
    const row rows[] = {
        {"unknown name", "unknown.example.test", nullptr},
        {"two labels under a wildcard", "a.b.devices.example.test", nullptr},
        {"a name of the default group", "mdm.example.test", "mdm ecdsa"},
        {"a name of another group", "enroll.example.test", "enroll"},
        {"a wildcard name", "mac-1.devices.example.test", "devices"},
        {"no SNI still gets the default", nullptr, "mdm ecdsa"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
                INFO("TLS " << (version == TLS1_3_VERSION ? "1.3" : "1.2"));
                client c(version, version);
                const auto res = handshake(c, *built.context->ctx, r.sni);
                if (r.cn == nullptr) {
                    CHECK_FALSE(res.outcome.client_ok);
                    CHECK_FALSE(res.outcome.server_ok);
                    CHECK(res.outcome.alert_received_by_client == SSL_AD_UNRECOGNIZED_NAME);  // 112
                    CHECK(res.record.reason == refusal::unknown_sni);
                    CHECK(tls::to_string(res.record.reason) == "unknown_sni");
                    CHECK(std::string(res.record.hello.sni.data()) == r.sni);
                    CHECK_FALSE(res.cert);
                } else {
                    CHECK(res.outcome.client_ok);
                    REQUIRE(res.cert);
                    CHECK(res.cert->cn == r.cn);
                    CHECK(res.record.reason == refusal::none);
                }
            }
        }
    }
}

TEST_CASE("sni groups: one name with an ECDSA and an RSA certificate", "[unit][sni]") {
    sni_fixture fx;
    config::diagnostics diags;
    auto built = fx.build(diags);
    REQUIRE(diags.empty());
    REQUIRE(built.context);
    SSL_CTX& server = *built.context->ctx;

    SECTION("an ECDSA-capable client gets ECDSA (TLS 1.3 and TLS 1.2)") {
        client c13(TLS1_3_VERSION, TLS1_3_VERSION);
        auto r13 = handshake(c13, server, "mdm.example.test");
        REQUIRE(r13.cert);
        CHECK(r13.cert->cn == "mdm ecdsa");
        CHECK(r13.cert->key == "EC");
        client c12(TLS1_2_VERSION, TLS1_2_VERSION);
        auto r12 = handshake(c12, server, "mdm.example.test");
        REQUIRE(r12.cert);
        CHECK(r12.cert->cn == "mdm ecdsa");
        CHECK(r12.outcome.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
    }
    SECTION("an RSA-only TLS 1.2 client gets RSA") {
        client c(TLS1_2_VERSION, TLS1_2_VERSION);
        client::rsa_only(c.ctx.get());
        auto r = handshake(c, server, "mdm.example.test");
        CHECK(r.outcome.client_ok);
        CHECK(r.outcome.ems);
        CHECK(r.outcome.cipher == "ECDHE-RSA-AES128-GCM-SHA256");
        REQUIRE(r.cert);
        CHECK(r.cert->cn == "mdm rsa");
        CHECK(r.cert->key == "RSA");
    }
    SECTION("a TLS 1.3 client with RSA-PSS signatures only gets RSA") {
        client c(TLS1_3_VERSION, TLS1_3_VERSION);
        REQUIRE(SSL_CTX_set1_sigalgs_list(c.ctx.get(), "rsa_pss_rsae_sha256") == 1);
        auto r = handshake(c, server, "mdm.example.test");
        CHECK(r.outcome.client_ok);
        REQUIRE(r.cert);
        CHECK(r.cert->cn == "mdm rsa");
    }
    SECTION("the RSA-only client is refused by a group without an RSA certificate") {
        client c(TLS1_2_VERSION, TLS1_2_VERSION);
        client::rsa_only(c.ctx.get());
        auto r = handshake(c, server, "enroll.example.test");
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.record.reason == refusal::no_pfs_suite);  // the enroll group's policy: ECDSA suites only
        CHECK(r.outcome.alert_received_by_client == SSL_AD_HANDSHAKE_FAILURE);
    }
    SECTION("every certificate is audited on its own") {
        REQUIRE(built.facts.size() == 4);
        CHECK(built.facts[0].name == "front#0");
        CHECK(built.facts[3].name == "front#3");
        for (const auto& f : built.facts) {
            CHECK(f.context_error.empty());
            REQUIRE(f.context);
            CHECK(f.context->ems_gate);
            REQUIRE(f.chain);
        }
        // The default certificate is checked against server_name, the others against their first name.
        CHECK(built.facts[2].server_name == "enroll.example.test");
    }
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("sni groups: grouping mistakes are config errors", "[unit][sni]") {
    test::temp_dir dir;
    test::cert_factory f(now());
    const auto root = f.root_ca("sni errors root");
    const auto ec_a = make_leaf(f, root, "a", {"a.example.test"}, test::key_type::ec_p256);
    const auto ec_a2 = make_leaf(f, root, "a second", {"a.example.test"}, test::key_type::ec_p256);
    const auto rsa_a = make_leaf(f, root, "a rsa", {"a.example.test"}, test::key_type::rsa_2048);
    const auto rsa_a3 = make_leaf(f, root, "a rsa 3", {"a.example.test"}, test::key_type::rsa_2048);
    const auto ec_ab = make_leaf(f, root, "ab", {"a.example.test", "b.example.test"}, test::key_type::ec_p256);

    int files = 0;  // every row gets its own files: the rows are all built before the first runs
    auto listener_of = [&](const std::vector<std::pair<const test::test_cert*, std::vector<config::positioned>>>& certs) {
        config::listener l;
        l.name = "front";
        l.key_path = "listener[0]";
        l.address = "127.0.0.1";
        l.port = 443;
        for (std::size_t i = 0; i < certs.size(); ++i) {
            config::certificate cc;
            cc.key_path = "listener[0].certificate[" + std::to_string(i) + "]";
            const std::string n = "c" + std::to_string(files++);
            cc.cert = dir.write_chain(n + ".pem", {certs[i].first}).string();
            cc.key = dir.write_key(n + ".key", *certs[i].first).string();
            cc.names = certs[i].second;
            const auto line = static_cast<std::uint32_t>(10 * (i + 1));
            cc.where = {"proxy.toml", line, 1};
            cc.key_pos["cert"] = {"proxy.toml", line + 1, 8};
            if (!cc.names.empty()) cc.key_pos["names"] = {"proxy.toml", line + 3, 9};
            l.certificates.push_back(std::move(cc));
        }
        return l;
    };
    struct row {
        const char* label;
        config::listener l;
        std::vector<std::string> errors;  // rendered diagnostics, in order
    };
    const row rows[] = {
        {"two ECDSA certificates for the same names",
         listener_of({{&ec_a, {}}, {&ec_a2, {}}}),
         {"proxy.toml:21:8: listener[0].certificate[1].cert serves the same names with the same key type as "
          "listener[0].certificate[0].cert (one name can have one ECDSA and one RSA certificate)"}},
        {"a third certificate after an ECDSA + RSA pair",
         listener_of({{&ec_a, {}}, {&rsa_a, {}}, {&rsa_a3, {}}}),
         {"proxy.toml:31:8: listener[0].certificate[2].cert serves the same names with the same key type as "
          "listener[0].certificate[1].cert (one name can have one ECDSA and one RSA certificate)"}},
        {"the same names written differently are the same group",
         listener_of({{&ec_a, {at("A.example.test", 13)}}, {&ec_a2, {at("a.example.test", 23)}}}),
         {"proxy.toml:21:8: listener[0].certificate[1].cert serves the same names with the same key type as "
          "listener[0].certificate[0].cert (one name can have one ECDSA and one RSA certificate)"}},
        {"a name in two groups",
         listener_of({{&ec_ab, {}}, {&ec_a, {at("b.example.test", 23)}}}),
         {"proxy.toml:23:9: listener[0].certificate[1].names: name \"b.example.test\" is also served by "
          "listener[0].certificate[0].cert (give each name one certificate, plus at most one of the other key type)"}},
        {"names from the SAN clash too",
         listener_of({{&ec_ab, {}}, {&rsa_a, {}}}),
         {"proxy.toml:20:1: listener[0].certificate[1].names: name \"a.example.test\" is also served by "
          "listener[0].certificate[0].cert (give each name one certificate, plus at most one of the other key type)"}},
        {"an ECDSA and an RSA certificate for the same names are fine", listener_of({{&rsa_a, {}}, {&ec_a, {}}}), {}},
        {"disjoint names are fine", listener_of({{&ec_a, {}}, {&ec_ab, {at("b.example.test", 23)}}}), {}},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            config::diagnostics diags;
            const auto built = tls::build_listener_tls(r.l, diags);
            std::vector<std::string> rendered;
            for (const auto& d : diags) rendered.push_back(d.to_string());
            CHECK(rendered == r.errors);
            CHECK(built.context.has_value() == r.errors.empty());
        }
    }
}

namespace {

// A listener with one server certificate, client authentication as given, and generated client
// certificates: one from the configured client CA, one from a CA the listener does not know.
struct client_auth_fixture {
    test::temp_dir dir;
    test::cert_factory f{now()};
    test::test_cert server_root = f.root_ca("server root");
    test::test_cert device_ca = f.root_ca("device ca");
    test::test_cert other_ca = f.root_ca("other ca", test::key_type::ec_p384);
    test::test_cert device = make_client(device_ca, "device 1");
    test::test_cert stranger = make_client(other_ca, "stranger");
    config::listener l;

    client_auth_fixture() {
        const auto leaf = f.leaf(server_root, "localhost");
        l.name = "mtls";
        l.address = "127.0.0.1";
        l.port = 443;
        config::certificate c;
        c.shorthand = true;
        c.cert = dir.write_chain("server.pem", {&leaf}).string();
        c.key = dir.write_key("server.key", leaf).string();
        l.certificates.push_back(std::move(c));
    }

    test::test_cert make_client(const test::test_cert& issuer, const std::string& cn) const {
        auto spec = test::cert_factory::leaf_spec("device.example.test");
        spec.common_name = cn;
        spec.usage = test::eku::client_auth;
        spec.key_slot = 5;
        return f.make(spec, &issuer);
    }

    void set(config::client_auth_mode mode, bool with_ca) {
        l.client_auth = mode;
        l.client_ca = with_ca ? dir.write_chain("device-ca.pem", {&device_ca}).string() : std::string{};
    }
};

}  // namespace

TEST_CASE("client auth: require / optional, with and without client_ca", "[unit][sni][client_auth]") {
    using mode = config::client_auth_mode;
    enum class presents { nothing, device, stranger };
    struct row {
        const char* label;
        mode auth;
        bool with_ca;
        presents cert;
        bool accepted;
        bool peer_seen;  // when accepted: the server has the client certificate
    };
    const row rows[] = {
        {"require + client_ca: a device certificate from the CA", mode::require, true, presents::device, true, true},
        {"require + client_ca: no certificate is refused", mode::require, true, presents::nothing, false, false},
        {"require + client_ca: a certificate from another CA is refused", mode::require, true, presents::stranger, false,
         false},
        {"require, no client_ca: any certificate (the MDM verifies it)", mode::require, false, presents::stranger, true,
         true},
        {"require, no client_ca: no certificate is refused", mode::require, false, presents::nothing, false, false},
        {"optional + client_ca: no certificate is fine", mode::optional, true, presents::nothing, true, false},
        {"optional + client_ca: a device certificate", mode::optional, true, presents::device, true, true},
        {"optional + client_ca: a certificate from another CA is refused", mode::optional, true, presents::stranger,
         false, false},
        {"optional, no client_ca: any certificate", mode::optional, false, presents::stranger, true, true},
        {"optional, no client_ca: no certificate", mode::optional, false, presents::nothing, true, false},
        {"none: a client certificate is never requested", mode::none, false, presents::device, true, false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            client_auth_fixture fx;
            fx.set(r.auth, r.with_ca);
            config::diagnostics diags;
            auto built = tls::build_listener_tls(fx.l, diags);
            REQUIRE(diags.empty());
            REQUIRE(built.context);
            for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
                INFO("TLS " << (version == TLS1_3_VERSION ? "1.3" : "1.2"));
                client c(version, version);
                const test::test_cert* mine = r.cert == presents::device     ? &fx.device
                                              : r.cert == presents::stranger ? &fx.stranger
                                                                             : nullptr;
                if (mine != nullptr) {
                    REQUIRE(SSL_CTX_use_certificate(c.ctx.get(), mine->cert.get()) == 1);
                    REQUIRE(SSL_CTX_use_PrivateKey(c.ctx.get(), mine->key.get()) == 1);
                }
                const auto res = handshake(c, *built.context->ctx, "localhost");
                // In TLS 1.3 the client finishes before the server judges its certificate: the
                // server side is what decides.
                CHECK(res.outcome.server_ok == r.accepted);
                if (version == TLS1_2_VERSION) CHECK(res.outcome.client_ok == r.accepted);
                if (r.accepted) CHECK(res.peer_cert_on_server == r.peer_seen);
                CHECK(res.record.reason == refusal::none);  // the gate accepted the hello either way
                ERR_clear_error();
            }
        }
    }
}
