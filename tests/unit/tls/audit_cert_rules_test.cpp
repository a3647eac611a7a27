// Each certificate rule, broken by a generated certificate that breaks exactly that rule: the target
// rule has the expected status and every other rule passes. Facts come from the real inspect_chain,
// the verdict from the pure audit at a fixed `now`.

#include "tls_fixtures.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <sstream>

using namespace atsgate;
using namespace atsgate::tls;
using namespace atsgate::tls::testing;
using test::cert_spec;
using test::digest;
using test::eku;
using test::key_type;

namespace {

struct expectation {
    rule_id rule;
    status result;
};

struct cert_row {
    const char* label;
    std::function<endpoint_facts(const pki&)> build;
    expectation target;
    const char* evidence;  // substring of the target finding's evidence
    // Rules that inherently fail together with the target (documented per row); all others PASS.
    std::vector<expectation> also = {};
};

endpoint_facts with_leaf(const pki& p, cert_spec s) { return endpoint_for_leaf(p.factory.make(s, &p.inter)); }

cert_spec leaf_spec(key_type k = key_type::ec_p256) { return test::cert_factory::leaf_spec(host, k); }

std::string dump(const report& r) {
    std::ostringstream os;
    for (const auto& f : r.findings) os << to_string(f.result) << " " << f.id << " " << f.evidence << "\n";
    return os.str();
}

const std::vector<cert_row>& rows() {
    static const std::vector<cert_row> table = {
        {"RSA-1024 leaf",
         [](const pki& p) { return with_leaf(p, leaf_spec(key_type::rsa_1024)); },
         {rule_id::key_strength, status::fail}, "leaf RSA 1024 (minimum RSA 2048)"},
        {"EC P-224 leaf",
         [](const pki& p) { return with_leaf(p, leaf_spec(key_type::ec_p224)); },
         {rule_id::key_strength, status::fail}, "leaf EC P-224, 224 bits (minimum 256)"},
        {"Ed25519 leaf",
         [](const pki& p) { return with_leaf(p, leaf_spec(key_type::ed25519)); },
         {rule_id::key_strength, status::fail}, "Apple clients do not accept Ed25519 server keys"},
        {"DSA-2048 leaf",
         [](const pki& p) { return with_leaf(p, leaf_spec(key_type::dsa_2048)); },
         {rule_id::key_strength, status::fail}, "leaf DSA 2048: Apple clients do not accept DSA keys"},
        {"RSA-1024 trusted root (not served)",
         [](const pki& p) {
             auto root = p.factory.root_ca("weak root", key_type::rsa_1024);
             auto inter = p.factory.intermediate(root);
             auto leaf = p.factory.leaf(inter, host);
             return endpoint_for({&leaf, &inter}, {&root}, leaf.key.get());
         },
         {rule_id::key_strength, status::fail}, "root RSA 1024"},
        {"SHA-1 signed leaf",
         [](const pki& p) {
             auto s = leaf_spec();
             s.sig = digest::sha1;
             return with_leaf(p, s);
         },
         {rule_id::signature_hash, status::fail}, "leaf signed with ecdsa-with-SHA1 (160-bit hash, minimum 256)"},
        {"SHA-1 signed intermediate",
         [](const pki& p) {
             auto s = test::cert_factory::ca_spec("sha1 intermediate", key_type::ec_p256, 365 * day);
             s.sig = digest::sha1;
             auto inter = p.factory.make(s, &p.root);
             auto leaf = p.factory.leaf(inter, host);
             return endpoint_for({&leaf, &inter}, {&p.root}, leaf.key.get());
         },
         {rule_id::signature_hash, status::fail}, "intermediate signed with ecdsa-with-SHA1"},
        {"expired leaf",
         [](const pki& p) {
             auto s = leaf_spec();
             s.not_before = -100 * day;
             s.not_after = -3 * day;
             return with_leaf(p, s);
         },
         {rule_id::validity, status::fail}, "leaf expired 3 days ago on 2025-12-29"},
        {"leaf not yet valid",
         [](const pki& p) {
             auto s = leaf_spec();
             s.not_before = 2 * day;
             s.not_after = 92 * day;
             return with_leaf(p, s);
         },
         {rule_id::validity, status::fail}, "leaf not valid until 2026-01-03 (in 2 days)"},
        {"leaf expiring in 10 days",
         [](const pki& p) {
             auto s = leaf_spec();
             s.not_before = -80 * day;
             s.not_after = 10 * day;
             return with_leaf(p, s);
         },
         {rule_id::validity, status::warn}, "leaf expires in 10 days on 2026-01-11"},
        {"self-signed leaf (trusted directly)",
         [](const pki& p) {
             auto leaf = p.factory.make(leaf_spec());
             return endpoint_for({&leaf}, {&leaf}, leaf.key.get());
         },
         {rule_id::self_signed, status::fail}, "leaf is self-signed"},
        {"CN only, no SAN",
         [](const pki& p) {
             auto s = leaf_spec();
             s.san_dns.clear();
             return with_leaf(p, s);
         },
         {rule_id::san, status::fail}, "no subjectAltName; CN=mdm.example.test only: iOS 13+ ignores the CN"},
        {"SAN does not match server_name",
         [](const pki& p) { return with_leaf(p, test::cert_factory::leaf_spec("other.example.test")); },
         {rule_id::san, status::fail}, "server_name \"mdm.example.test\" not in SAN (DNS:other.example.test)"},
        {"no EKU",
         [](const pki& p) {
             auto s = leaf_spec();
             s.usage = eku::none;
             return with_leaf(p, s);
         },
         {rule_id::eku, status::fail}, "no extendedKeyUsage extension"},
        // OpenSSL's sslserver purpose (like a device) refuses the chain too.
        {"clientAuth-only EKU",
         [](const pki& p) {
             auto s = leaf_spec();
             s.usage = eku::client_auth;
             return with_leaf(p, s);
         },
         {rule_id::eku, status::fail}, "extendedKeyUsage clientAuth lacks serverAuth",
         {{rule_id::chain_trust, status::fail}}},
        {"anyExtendedKeyUsage only",
         [](const pki& p) {
             auto s = leaf_spec();
             s.usage = eku::any;
             return with_leaf(p, s);
         },
         {rule_id::eku, status::fail}, "extendedKeyUsage anyExtendedKeyUsage lacks serverAuth",
         {{rule_id::chain_trust, status::fail}}},
        {"900-day lifetime",
         [](const pki& p) {
             auto s = leaf_spec();
             s.not_before = -day;
             s.not_after = 899 * day;
             return with_leaf(p, s);
         },
         {rule_id::lifetime, status::fail}, "lifetime 900 days + 1 s (maximum 825 days for certificates issued from 2019-07-01)"},
        {"500-day lifetime, private CA",
         [](const pki& p) {
             auto s = leaf_spec();
             s.not_before = -day;
             s.not_after = 499 * day;
             return with_leaf(p, s);
         },
         {rule_id::lifetime, status::warn}, "lifetime 500 days + 1 s: accepted from a private CA, would be refused"},
        {"private key does not match",
         [](const pki& p) {
             auto leaf = p.factory.leaf(p.inter, host);
             auto other = test::cached_key(key_type::ec_p256, 7);
             return endpoint_for({&leaf, &p.inter}, {&p.root}, other.get());
         },
         {rule_id::key_match, status::fail}, "/etc/atsgate/mdm.key does not match the leaf certificate"},
        {"missing intermediate",
         [](const pki& p) {
             auto leaf = p.factory.leaf(p.inter, host);
             return endpoint_for({&leaf}, {&p.root}, leaf.key.get());
         },
         {rule_id::chain_trust, status::fail},
         "unable to get local issuer certificate: issuer \"CN=atsgate test intermediate,O=atsgate tests\""},
        {"untrusted root",
         [](const pki& p) {
             auto other_root = p.factory.root_ca("someone else's root");
             auto leaf = p.factory.leaf(p.inter, host);
             return endpoint_for({&leaf, &p.inter, &p.root}, {&other_root}, leaf.key.get());
         },
         {rule_id::chain_trust, status::fail}, "self-signed certificate in certificate chain at depth 2"},
    };
    return table;
}

void check_row(const cert_row& row) {
    const auto& p = pki::get();
    endpoint_facts ep = row.build(p);
    report r = audit({ep}, fixed_now);
    INFO(dump(r));

    auto target = findings_of(r, row.target.rule);
    REQUIRE(!target.empty());
    bool evidence_found = false;
    for (const auto* f : target) {
        CHECK(f->result == row.target.result);
        if (f->evidence.find(row.evidence) != std::string::npos) evidence_found = true;
        CHECK_FALSE(f->remediation.empty());
    }
    CHECK(evidence_found);

    for (const auto& f : r.findings) {
        if (f.rule == row.target.rule) continue;
        auto also = std::find_if(row.also.begin(), row.also.end(), [&](const expectation& e) { return e.rule == f.rule; });
        INFO(f.id << ": " << f.evidence);
        CHECK(f.result == (also != row.also.end() ? also->result : status::pass));
    }
    // Every rule reported (key_match too: a key path is configured).
    for (const auto& rl : rules) CHECK_FALSE(findings_of(r, rl.id).empty());
}

}  // namespace

TEST_CASE("audit: each certificate rule broken alone", "[tls][audit][cert]") {
    for (const auto& row : rows()) {
        DYNAMIC_SECTION(row.label) { check_row(row); }
    }
}

TEST_CASE("audit: compliant chains pass every rule", "[tls][audit][cert]") {
    struct chain_row {
        const char* label;
        key_type root, inter, leaf;
        const char* key_evidence;
    };
    const chain_row table[] = {
        {"ECDSA P-256 throughout", key_type::ec_p256, key_type::ec_p256, key_type::ec_p256,
         "leaf EC P-256, intermediate EC P-256, root EC P-256"},
        {"RSA-2048 throughout", key_type::rsa_2048, key_type::rsa_2048, key_type::rsa_2048,
         "leaf RSA 2048, intermediate RSA 2048, root RSA 2048"},
        {"RSA-3072 root, P-384 intermediate, P-256 leaf", key_type::rsa_3072, key_type::ec_p384, key_type::ec_p256,
         "leaf EC P-256, intermediate EC P-384, root RSA 3072"},
    };
    const auto& f = pki::get().factory;
    for (const auto& row : table) {
        DYNAMIC_SECTION(row.label) {
            auto root = f.root_ca("root " + test::to_string(row.root), row.root);
            auto inter = f.intermediate(root, "intermediate " + test::to_string(row.inter), row.inter);
            auto leaf = f.leaf(inter, host, row.leaf);
            report r = audit({endpoint_for({&leaf, &inter}, {&root}, leaf.key.get())}, fixed_now);
            INFO(dump(r));
            CHECK(r.count(status::pass) == r.findings.size());
            CHECK(r.findings.size() == rules.size());
            auto ks = findings_of(r, rule_id::key_strength);
            REQUIRE(ks.size() == 1);
            CHECK(ks[0]->evidence == row.key_evidence);
            CHECK(render_text(r).find("summary: 13 pass, 0 warn, 0 fail, 0 unknown: COMPLIANT") != std::string::npos);
        }
    }
}

TEST_CASE("audit: certificate rule details", "[tls][audit][cert]") {
    const auto& p = pki::get();

    SECTION("served self-signed root is exempt from signature_hash") {
        auto s = test::cert_factory::ca_spec("sha1 root", key_type::ec_p256, 3650 * day);
        s.sig = digest::sha1;
        auto root = p.factory.make(s);
        auto inter = p.factory.intermediate(root);
        auto leaf = p.factory.leaf(inter, host);
        report r = audit({endpoint_for({&leaf, &inter, &root}, {&root}, leaf.key.get())}, fixed_now);
        INFO(dump(r));
        auto sig = findings_of(r, rule_id::signature_hash);
        REQUIRE(sig.size() == 1);
        CHECK(sig[0]->result == status::pass);
        CHECK(sig[0]->evidence == "leaf ecdsa-with-SHA256, intermediate ecdsa-with-SHA256, served root exempt");
        CHECK(r.count(status::pass) == r.findings.size());
    }
    SECTION("IP literal server_name matches an IP SAN") {
        auto leaf = p.factory.leaf(p.inter, "10.1.2.3");
        report r = audit({endpoint_for_leaf(leaf, "10.1.2.3")}, fixed_now);
        auto san = findings_of(r, rule_id::san);
        REQUIRE(san.size() == 1);
        CHECK(san[0]->result == status::pass);
        CHECK(san[0]->evidence == "server_name \"10.1.2.3\" in SAN (IP:10.1.2.3)");
    }
    SECTION("wildcard SAN matches one label") {
        auto s = test::cert_factory::leaf_spec("*.example.test");
        auto leaf = p.factory.make(s, &p.inter);
        CHECK(audit_rule(endpoint_for_leaf(leaf, "mdm.example.test"), rule_id::san)[0].result ==
              status::pass);
        CHECK(audit_rule(endpoint_for_leaf(leaf, "a.mdm.example.test"), rule_id::san)[0].result ==
              status::fail);
    }
    SECTION("no server_name: SAN present passes with a note") {
        auto leaf = p.factory.leaf(p.inter, host);
        report r = audit({endpoint_for_leaf(leaf, "")}, fixed_now);
        auto san = findings_of(r, rule_id::san);
        REQUIRE(san.size() == 1);
        CHECK(san[0]->result == status::pass);
        CHECK(san[0]->evidence == "SAN: DNS:mdm.example.test; no server_name configured to match");
    }
    SECTION("probe without a key omits key_match") {
        auto leaf = p.factory.leaf(p.inter, host);
        report r = audit({endpoint_for({&leaf, &p.inter}, {&p.root}, nullptr)}, fixed_now);
        CHECK(findings_of(r, rule_id::key_match).empty());
        CHECK(r.count(status::pass) == r.findings.size());
    }
    SECTION("two offending certificates give two findings, in chain order") {
        auto is = test::cert_factory::ca_spec("old intermediate", key_type::rsa_1024, 365 * day);
        auto inter = p.factory.make(is, &p.root);
        auto leaf = p.factory.make(test::cert_factory::leaf_spec(host, key_type::rsa_1024), &inter);
        report r = audit({endpoint_for({&leaf, &inter}, {&p.root}, leaf.key.get())}, fixed_now);
        auto ks = findings_of(r, rule_id::key_strength);
        REQUIRE(ks.size() == 2);
        CHECK(ks[0]->subject == "CN=mdm.example.test,O=atsgate tests");
        CHECK(ks[1]->subject == "CN=old intermediate,O=atsgate tests");
        CHECK(ks[1]->remediation ==
              "reissue the certificate with an ECDSA P-256 or RSA-2048+ key (served from /etc/atsgate/mdm.pem)");
    }
    SECTION("missing intermediate remediation names the cert file") {
        auto leaf = p.factory.leaf(p.inter, host);
        report r = audit({endpoint_for({&leaf}, {&p.root}, leaf.key.get())}, fixed_now);
        auto ch = findings_of(r, rule_id::chain_trust);
        REQUIRE(ch.size() == 1);
        CHECK(ch[0]->remediation == "append the intermediate certificate(s) after the leaf in /etc/atsgate/mdm.pem");
    }
}
