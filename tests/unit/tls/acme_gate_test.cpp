// The ClientHello gate and ACME (issue 12): TLS-ALPN-01 validations (RFC 8737) get the challenge
// certificate for their SNI with ALPN acme-tls/1, whatever the listener's client_auth; names whose
// ACME certificate is pending are refused with certificate_pending (a listener with only pending
// certificates still gets a context); a validation for a name nothing is validated for is refused
// with no_application_protocol. Real in-memory handshakes against build_listener_tls's context.

#include "tests/support/cert_factory.hpp"
#include "tests/support/mem_tls.hpp"
#include "tls/handshake_gate.hpp"
#include "tls/server_context.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <map>
#include <optional>

using namespace atsgate;
using tls::refusal;

namespace {

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Challenge certificates by name, as proxy/acme's challenge_board publishes them.
class fake_challenges : public tls::acme_challenges {
public:
    std::map<std::string, std::pair<ossl::ptr<X509>, ossl::ptr<EVP_PKEY>>> certs;
    mutable int lookups = 0;
    bool find(std::string_view sni, ossl::ptr<X509>& cert, ossl::ptr<EVP_PKEY>& key) const override {
        ++lookups;
        auto it = certs.find(std::string(sni));
        if (it == certs.end()) return false;
        cert = ossl::up_ref(it->second.first.get());
        key = ossl::up_ref(it->second.second.get());
        return true;
    }
};

std::string cn_of(X509* x) {
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
    return buf;
}

int record_cn(X509_STORE_CTX* store, void* arg) {
    if (X509* leaf = X509_STORE_CTX_get0_cert(store)) *static_cast<std::string*>(arg) = cn_of(leaf);
    return 1;
}

struct result {
    test::handshake_outcome outcome;
    tls::handshake_record record;
    std::string server_cn;  // the certificate the client was sent
    std::string alpn;       // negotiated on the server
};

// `alpn`: the client's ALPN list in wire form ("" = no ALPN extension).
result handshake(SSL_CTX& server, const char* sni, std::string_view alpn, int max_version = TLS1_3_VERSION) {
    result r;
    auto ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx.get(), record_cn, &r.server_cn);
    if (!alpn.empty())
        SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                                static_cast<unsigned>(alpn.size()));
    r.outcome = test::run_handshake(
        *ctx, server, nullptr, nullptr, sni, [&](SSL& s) { tls::set_handshake_record(&s, &r.record); },
        [&](SSL& s) {
            const unsigned char* p = nullptr;
            unsigned int n = 0;
            SSL_get0_alpn_selected(&s, &p, &n);
            r.alpn.assign(reinterpret_cast<const char*>(p), n);
        });
    return r;
}

constexpr std::string_view acme_only{"\x0a" "acme-tls/1", 11};
constexpr std::string_view acme_and_http{"\x0a" "acme-tls/1" "\x08" "http/1.1", 20};
constexpr std::string_view http_only{"\x08" "http/1.1", 9};

struct fixture {
    test::temp_dir dir;
    test::cert_factory f{now()};
    test::test_cert root = f.root_ca("acme gate root");
    std::shared_ptr<fake_challenges> challenges = std::make_shared<fake_challenges>();
    config::listener l;

    fixture() {
        l.name = "front";
        l.key_path = "listener[0]";
        l.address = "127.0.0.1";
        l.port = 443;
        l.upstream = "u";
        l.server_name = "mdm.example.test";
        // The validation certificate for mdm.example.test (its CN tells it apart).
        auto spec = test::cert_factory::leaf_spec("mdm.example.test");
        spec.common_name = "challenge";
        auto c = f.make(spec, nullptr);
        challenges->certs["mdm.example.test"] = {std::move(c.cert), std::move(c.key)};
    }
    void add_static(const std::string& cn, const std::string& name) {
        auto spec = test::cert_factory::leaf_spec(name);
        spec.common_name = cn;
        auto leaf = f.make(spec, &root);
        config::certificate cc;
        cc.cert = dir.write_chain(cn + ".pem", {&leaf}).string();
        cc.key = dir.write_key(cn + ".key", leaf).string();
        cc.shorthand = l.certificates.empty();
        cc.key_path = cc.shorthand ? l.key_path : l.key_path + ".certificate[" + std::to_string(l.certificates.size() - 1) + "]";
        l.certificates.push_back(std::move(cc));
    }
    void add_pending(const std::string& name) {
        config::certificate cc;
        cc.acme = true;
        cc.names.push_back(config::positioned{name, {"proxy.toml", 3, 1}});
        cc.shorthand = l.certificates.empty();
        cc.key_path = cc.shorthand ? l.key_path : l.key_path + ".certificate[" + std::to_string(l.certificates.size() - 1) + "]";
        l.certificates.push_back(std::move(cc));
    }
    tls::listener_tls build(config::diagnostics& diags, bool with_challenges = true) const {
        tls::listener_acme acme{with_challenges ? challenges : nullptr};
        return tls::build_listener_tls(l, diags, nullptr, &acme);
    }
};

}  // namespace

TEST_CASE("acme gate: a listener whose only certificate is pending", "[unit][acme]") {
    fixture fx;
    fx.add_pending("mdm.example.test");
    config::diagnostics diags;
    auto built = fx.build(diags);
    INFO((diags.empty() ? std::string() : diags.front().to_string()));
    REQUIRE(diags.empty());
    REQUIRE(built.context);
    CHECK(built.facts.empty());  // nothing to audit yet
    CHECK(built.pending_names == std::vector<std::string>{"mdm.example.test"});

    SECTION("ordinary handshakes are refused with certificate_pending, SNI or not") {
        for (const char* sni : {"mdm.example.test", "other.example.test", static_cast<const char*>(nullptr)}) {
            for (auto alpn : {http_only, std::string_view{}, acme_and_http}) {
                auto r = handshake(*built.context->ctx, sni, alpn);
                CHECK_FALSE(r.outcome.client_ok);
                CHECK(r.record.reason == refusal::certificate_pending);
                CHECK(r.outcome.alert_received_by_client == 112);  // unrecognized_name
                CHECK_FALSE(r.record.acme_challenge);
            }
        }
    }
    SECTION("a TLS-ALPN-01 validation gets the challenge certificate and acme-tls/1") {
        for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
            INFO(version);
            auto r = handshake(*built.context->ctx, "mdm.example.test", acme_only, version);
            CHECK(r.outcome.client_ok);
            CHECK(r.outcome.server_ok);
            CHECK(r.server_cn == "challenge");
            CHECK(r.alpn == "acme-tls/1");
            CHECK(r.record.acme_challenge);
            CHECK(r.record.reason == refusal::none);
        }
    }
    SECTION("a validation for a name nothing is validated for: no_application_protocol") {
        auto r = handshake(*built.context->ctx, "other.example.test", acme_only);
        CHECK_FALSE(r.outcome.client_ok);
        CHECK(r.outcome.alert_received_by_client == 120);
        CHECK(r.record.reason == refusal::no_application_protocol);
        CHECK_FALSE(r.record.acme_challenge);
    }
}

TEST_CASE("acme gate: a pending name beside a served certificate", "[unit][acme]") {
    fixture fx;
    fx.add_static("static", "static.example.test");
    fx.add_pending("mdm.example.test");
    config::diagnostics diags;
    auto built = fx.build(diags);
    REQUIRE(diags.empty());
    REQUIRE(built.context);
    REQUIRE(built.facts.size() == 1);
    auto served = handshake(*built.context->ctx, "static.example.test", http_only);
    CHECK(served.outcome.client_ok);
    CHECK(served.server_cn == "static");
    CHECK(served.alpn == "http/1.1");
    // The pending name never falls back to the default certificate.
    auto pending = handshake(*built.context->ctx, "MDM.example.test", http_only);
    CHECK_FALSE(pending.outcome.client_ok);
    CHECK(pending.record.reason == refusal::certificate_pending);
    // Offering acme-tls/1 among other protocols is an ordinary handshake, not a validation.
    auto mixed = handshake(*built.context->ctx, "static.example.test", acme_and_http);
    CHECK(mixed.outcome.client_ok);
    CHECK(mixed.server_cn == "static");
    CHECK(mixed.alpn == "http/1.1");
    CHECK_FALSE(mixed.record.acme_challenge);
}

TEST_CASE("acme gate: validations ask no client certificate, and listeners without ACME ignore acme-tls/1",
          "[unit][acme]") {
    fixture fx;
    fx.l.client_auth = config::client_auth_mode::require;
    fx.add_static("static", "static.example.test");
    fx.add_pending("mdm.example.test");
    config::diagnostics diags;
    auto built = fx.build(diags);
    REQUIRE(built.context);
    auto r = handshake(*built.context->ctx, "mdm.example.test", acme_only);
    CHECK(r.outcome.client_ok);
    CHECK(r.outcome.server_ok);  // client_auth = "require" would have refused a client without one
    CHECK(r.server_cn == "challenge");

    fixture plain;
    plain.add_static("static", "mdm.example.test");
    auto built_plain = plain.build(diags, false);
    REQUIRE(built_plain.context);
    // acme-tls/1 is not spoken here: an offer of nothing else is refused like any unknown protocol.
    auto ordinary = handshake(*built_plain.context->ctx, "mdm.example.test", acme_only);
    CHECK_FALSE(ordinary.outcome.client_ok);
    CHECK(ordinary.outcome.alert_received_by_client == 120);
    CHECK_FALSE(ordinary.record.acme_challenge);
    CHECK(plain.challenges->lookups == 0);
}
