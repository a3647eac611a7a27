// The TLS-context rules (version, suites, EMS), https_only, and missing facts -> UNKNOWN. Pure:
// facts are written by hand, `now` is fixed.

#include "tls_fixtures.hpp"
#include "tls/civil_time.hpp"

#include <catch2/catch.hpp>

#include <functional>

using namespace atsgate;
using namespace atsgate::tls;
using namespace atsgate::tls::testing;

namespace {

// A compliant endpoint whose chain facts come from generated certificates (computed once).
const endpoint_facts& compliant_endpoint() {
    static const endpoint_facts ep = [] {
        const auto& p = pki::get();
        auto leaf = p.factory.leaf(p.inter, host);
        return endpoint_for_leaf(leaf);
    }();
    return ep;
}

struct context_row {
    const char* label;
    std::function<void(context_facts&)> change;
    rule_id rule;
    status expected;
    const char* evidence;  // exact evidence of that rule's finding
};

}  // namespace

TEST_CASE("audit: TLS context rules", "[tls][audit][context]") {
    const context_row table[] = {
        {"compliant defaults: version", [](context_facts&) {}, rule_id::tls_version, status::pass, "TLS 1.2\u20131.3"},
        {"compliant defaults: EMS", [](context_facts&) {}, rule_id::ems, status::pass,
         "EMS required on TLS 1.2 (ClientHello gate installed)"},
        {"TLS 1.0 enabled", [](context_facts& c) { c.min_version = TLS1_VERSION; }, rule_id::tls_version,
         status::fail, "TLS 1.0/1.1 enabled (minimum TLS 1.0)"},
        {"no minimum version", [](context_facts& c) { c.min_version = 0; }, rule_id::tls_version, status::fail,
         "TLS 1.0/1.1 enabled (no minimum version set)"},
        {"TLS 1.2 only", [](context_facts& c) { c.max_version = TLS1_2_VERSION; }, rule_id::tls_version,
         status::warn, "TLS 1.2 only; TLS 1.3 recommended"},
        {"TLS 1.3 only: version",
         [](context_facts& c) {
             c.min_version = TLS1_3_VERSION;
             c.ems_gate = false;
         },
         rule_id::tls_version, status::pass, "TLS 1.3 only"},
        {"TLS 1.3 only: EMS not needed",
         [](context_facts& c) {
             c.min_version = TLS1_3_VERSION;
             c.ems_gate = false;
         },
         rule_id::ems, status::pass, "TLS 1.2 disabled (TLS 1.3 always binds the master secret)"},
        {"TLS 1.3 only: TLS 1.2 suites cannot be negotiated",
         [](context_facts& c) {
             c.min_version = TLS1_3_VERSION;
             c.tls12_suites.push_back("AES128-GCM-SHA256");
         },
         rule_id::pfs_suites, status::pass,
         "TLS 1.3: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256"},
        {"non-ECDHE suite", [](context_facts& c) { c.tls12_suites.push_back("AES128-GCM-SHA256"); },
         rule_id::pfs_suites, status::fail,
         "suites without forward secrecy or not on Apple's list enabled: AES128-GCM-SHA256"},
        {"DHE suite (not on Apple's list)", [](context_facts& c) { c.tls12_suites.push_back("DHE-RSA-AES128-GCM-SHA256"); },
         rule_id::pfs_suites, status::fail,
         "suites without forward secrecy or not on Apple's list enabled: DHE-RSA-AES128-GCM-SHA256"},
        {"CBC suite", [](context_facts& c) { c.tls12_suites.push_back("ECDHE-RSA-AES128-SHA256"); },
         rule_id::pfs_suites, status::warn,
         "ECDHE-RSA-AES128-SHA256: CBC mode suite: ATS-listed but legacy (MAC-then-encrypt)"},
        {"two warnings grouped by text",
         [](context_facts& c) {
             c.tls12_suites = {"ECDHE-RSA-AES128-SHA", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA"};
         },
         rule_id::pfs_suites, status::warn,
         "ECDHE-RSA-AES128-SHA, ECDHE-ECDSA-AES128-SHA: CBC mode suite with SHA-1 MAC: ATS-listed but legacy; "
         "ECDHE-RSA-CHACHA20-POLY1305: CHACHA20-POLY1305 on TLS 1.2 is not on the strictest reading of Apple's ATS list"},
        {"no suites reported",
         [](context_facts& c) {
             c.tls12_suites.clear();
             c.tls13_suites.clear();
         },
         rule_id::pfs_suites, status::unknown, "no enabled cipher suites reported for the enabled TLS versions"},
        {"EMS gate missing", [](context_facts& c) { c.ems_gate = false; }, rule_id::ems, status::fail,
         "EMS ClientHello gate not installed"},
        {"EMS disabled by option", [](context_facts& c) { c.ems_disabled = true; }, rule_id::ems, status::fail,
         "SSL_OP_NO_EXTENDED_MASTER_SECRET is set"},
    };
    for (const auto& row : table) {
        DYNAMIC_SECTION(row.label) {
            endpoint_facts ep = compliant_endpoint();
            row.change(*ep.context);
            report r = audit({ep}, fixed_now);
            auto f = findings_of(r, row.rule);
            REQUIRE(f.size() == 1);
            CHECK(f[0]->result == row.expected);
            CHECK(f[0]->evidence == row.evidence);
            CHECK(f[0]->subject.empty());
            CHECK(f[0]->remediation.empty() == (row.expected == status::pass));
            for (const auto& other : r.findings) {
                if (other.rule == row.rule) continue;
                INFO(other.id << ": " << other.evidence);
                CHECK(other.result == status::pass);
            }
        }
    }
}

TEST_CASE("audit: remediation is specific", "[tls][audit][context]") {
    endpoint_facts ep = compliant_endpoint();
    ep.context->tls12_suites.push_back("AES256-SHA");
    ep.context->min_version = TLS1_1_VERSION;
    report r = audit({ep}, fixed_now);
    CHECK(findings_of(r, rule_id::pfs_suites)[0]->remediation == "remove AES256-SHA from tls12_ciphers");
    CHECK(findings_of(r, rule_id::tls_version)[0]->remediation == "enable only TLS 1.2 and 1.3 (min_version = \"1.2\")");
}

TEST_CASE("audit: https_only", "[tls][audit][context]") {
    endpoint_facts plain;
    plain.name = "scep";
    plain.address = "0.0.0.0:8080";
    plain.plaintext = true;

    SECTION("plain HTTP fails, and no TLS rule is judged") {
        report r = audit({plain}, fixed_now);
        REQUIRE(r.findings.size() == 1);
        CHECK(r.findings[0].rule == rule_id::https_only);
        CHECK(r.findings[0].result == status::fail);
        CHECK(r.findings[0].evidence == "plain HTTP");
        CHECK(r.findings[0].remediation == "serve 0.0.0.0:8080 over HTTPS");
    }
    SECTION("SCEP is exempt (INFO)") {
        plain.scep_exempt = true;
        report r = audit({plain}, fixed_now);
        REQUIRE(r.findings.size() == 1);
        CHECK(r.findings[0].result == status::info);
        CHECK(r.findings[0].evidence == "exempt: SCEP (Apple exempts SCEP)");
        CHECK(r.findings[0].remediation.empty());
    }
    SECTION("TLS endpoint passes") {
        auto f = audit_rule(compliant_endpoint(), rule_id::https_only);
        REQUIRE(f.size() == 1);
        CHECK(f[0].result == status::pass);
        CHECK(f[0].evidence == "HTTPS");
    }
}

TEST_CASE("audit: missing facts are UNKNOWN, never PASS", "[tls][audit][unknown]") {
    SECTION("no context") {
        endpoint_facts ep = compliant_endpoint();
        ep.context.reset();
        ep.context_error = "SSL_CTX_use_certificate: ee key too small";
        report r = audit({ep}, fixed_now);
        for (rule_id id : {rule_id::tls_version, rule_id::pfs_suites, rule_id::ems}) {
            auto f = findings_of(r, id);
            REQUIRE(f.size() == 1);
            CHECK(f[0]->result == status::unknown);
            CHECK(f[0]->evidence == "SSL_CTX_use_certificate: ee key too small");
            CHECK_FALSE(f[0]->remediation.empty());
        }
        CHECK(findings_of(r, rule_id::key_strength)[0]->result == status::pass);
    }
    SECTION("no chain, key configured") {
        endpoint_facts ep = compliant_endpoint();
        ep.chain.reset();
        ep.chain_error = "cannot read /etc/atsgate/mdm.pem: No such file or directory";
        report r = audit({ep}, fixed_now);
        for (const auto& rl : rules) {
            auto f = findings_of(r, rl.id);
            REQUIRE(f.size() == 1);
            bool cert_rule = rl.code.substr(0, 5) == "cert.";
            CHECK(f[0]->result == (cert_rule ? status::unknown : status::pass));
            if (cert_rule) CHECK(f[0]->evidence == ep.chain_error);
        }
        CHECK(render_text(r).find(": INCOMPLETE\n") != std::string::npos);
    }
    SECTION("no chain, no key (probe): key_match omitted") {
        endpoint_facts ep = compliant_endpoint();
        ep.chain.reset();
        ep.key_path.clear();
        report r = audit({ep}, fixed_now);
        CHECK(findings_of(r, rule_id::key_match).empty());
        CHECK(findings_of(r, rule_id::lifetime)[0]->result == status::unknown);
    }
    SECTION("empty served chain") {
        endpoint_facts ep = compliant_endpoint();
        ep.chain->served.clear();
        report r = audit({ep}, fixed_now);
        CHECK(findings_of(r, rule_id::san)[0]->result == status::unknown);
        CHECK(findings_of(r, rule_id::san)[0]->evidence == "no certificate served");
    }
    SECTION("verification not attempted") {
        endpoint_facts ep = compliant_endpoint();
        ep.chain->verified.reset();
        ep.chain->anchor.reset();
        ep.chain->verify_error = "cannot load the system trust store";
        auto f = audit_rule(ep, rule_id::chain_trust);
        REQUIRE(f.size() == 1);
        CHECK(f[0].result == status::unknown);
        CHECK(f[0].evidence == "cannot load the system trust store");
    }
    SECTION("unknown signature hash") {
        endpoint_facts ep = compliant_endpoint();
        ep.chain->served[0].signature_hash_bits = 0;
        ep.chain->served[0].signature_algorithm = "1.2.3.4";
        auto f = audit_rule(ep, rule_id::signature_hash);
        REQUIRE(f.size() == 1);
        CHECK(f[0].result == status::unknown);
        CHECK(f[0].evidence == "leaf 1.2.3.4: hash strength unknown");
    }
    SECTION("key not checked although configured") {
        endpoint_facts ep = compliant_endpoint();
        ep.chain->key_matches.reset();
        auto f = audit_rule(ep, rule_id::key_match);
        REQUIRE(f.size() == 1);
        CHECK(f[0].result == status::unknown);
    }
    SECTION("hostname could not be checked") {
        endpoint_facts ep = compliant_endpoint();
        ep.chain->hostname_matches.reset();
        auto f = audit_rule(ep, rule_id::san);
        REQUIRE(f.size() == 1);
        CHECK(f[0].result == status::unknown);
    }
}

namespace {

constexpr std::int64_t utc(int y, int m, int d) { return unix_from_civil(y, m, d); }

struct lifetime_row {
    const char* label;
    std::int64_t not_before;  // unix seconds
    std::int64_t lifetime;    // RFC 5280 lifetime in seconds: notAfter = notBefore + lifetime - 1
    bool publicly_trusted;
    status expected;
    const char* evidence;     // exact
};

}  // namespace

// Every limit of tls::lifetime_limits at its boundaries: in days (limit, limit + 1 s) and in issuance
// date (the day before it applies, the first second it does).
TEST_CASE("audit: certificate lifetime limits by issuance date", "[tls][audit][cert][lifetime]") {
    const lifetime_row table[] = {
        {"825 days exactly, 2019-07-01 (before the 398-day limit)", utc(2019, 7, 1), 825 * day, true, status::pass,
         "lifetime 825 days"},
        {"825 days + 1 s, 2019-07-01", utc(2019, 7, 1), 825 * day + 1, false, status::fail,
         "lifetime 825 days + 1 s (maximum 825 days for certificates issued from 2019-07-01)"},
        {"825 days + 1 s, one second before 2019-07-01", utc(2019, 7, 1) - 1, 825 * day + 1, false, status::info,
         "lifetime 825 days + 1 s: issued 2019-06-30, before Apple's 825-day limit (2019-07-01)"},
        {"826 days, 2019-06-30, publicly trusted", utc(2019, 6, 30), 826 * day, true, status::info,
         "lifetime 826 days: issued 2019-06-30, before Apple's 825-day limit (2019-07-01)"},
        {"900 days, 2025", utc(2025, 6, 1), 900 * day, true, status::fail,
         "lifetime 900 days (maximum 825 days for certificates issued from 2019-07-01)"},
        {"398 days exactly, public, 2020-09-01", utc(2020, 9, 1), 398 * day, true, status::pass, "lifetime 398 days"},
        {"398 days + 1 s, public, 2020-09-01", utc(2020, 9, 1), 398 * day + 1, true, status::fail,
         "lifetime 398 days + 1 s; publicly trusted certificates issued from 2020-09-01 are limited to 398 days"},
        {"398 days + 1 s, public, one second before 2020-09-01", utc(2020, 9, 1) - 1, 398 * day + 1, true,
         status::pass, "lifetime 398 days + 1 s"},
        {"500 days, private CA, 2025", utc(2025, 1, 1), 500 * day, false, status::warn,
         "lifetime 500 days: accepted from a private CA, would be refused if publicly trusted (maximum 398 days)"},
        {"openssl -days 398 (notAfter - notBefore = 398 days), public", utc(2025, 1, 1), 398 * day + 1, true,
         status::fail,
         "lifetime 398 days + 1 s; publicly trusted certificates issued from 2020-09-01 are limited to 398 days"},
        {"200 days exactly, public, 2026-03-15", utc(2026, 3, 15), 200 * day, true, status::pass, "lifetime 200 days"},
        {"200 days + 1 s, public, 2026-03-15", utc(2026, 3, 15), 200 * day + 1, true, status::warn,
         "lifetime 200 days + 1 s: CA/B Forum SC-081 limits publicly trusted certificates issued from 2026-03-15 to "
         "200 days; the CA broke its rules and may have to revoke it"},
        {"398 days, public, one second before 2026-03-15", utc(2026, 3, 15) - 1, 398 * day, true, status::pass,
         "lifetime 398 days"},
        {"201 days, private CA, 2026-03-15: SC-081 does not apply", utc(2026, 3, 15), 201 * day, false, status::pass,
         "lifetime 201 days"},
        {"201 days, public trust unknown, 2026-03-15", utc(2026, 3, 15), 201 * day, false, status::pass,
         "lifetime 201 days"},
        {"100 days exactly, public, 2027-03-15", utc(2027, 3, 15), 100 * day, true, status::pass, "lifetime 100 days"},
        {"100 days + 1 s, public, 2027-03-15", utc(2027, 3, 15), 100 * day + 1, true, status::warn,
         "lifetime 100 days + 1 s: CA/B Forum SC-081 limits publicly trusted certificates issued from 2027-03-15 to "
         "100 days; the CA broke its rules and may have to revoke it"},
        {"101 days, public, one second before 2027-03-15", utc(2027, 3, 15) - 1, 101 * day, true, status::pass,
         "lifetime 101 days"},
        {"47 days exactly, public, 2029-03-15", utc(2029, 3, 15), 47 * day, true, status::pass, "lifetime 47 days"},
        {"47 days + 1 s, public, 2029-03-15", utc(2029, 3, 15), 47 * day + 1, true, status::warn,
         "lifetime 47 days + 1 s: CA/B Forum SC-081 limits publicly trusted certificates issued from 2029-03-15 to "
         "47 days; the CA broke its rules and may have to revoke it"},
        {"90 days (Let's Encrypt: notAfter = notBefore + 90 d - 1 s), public, 2029-03-15", utc(2029, 3, 15), 90 * day,
         true, status::warn,
         "lifetime 90 days: CA/B Forum SC-081 limits publicly trusted certificates issued from 2029-03-15 to 47 days; "
         "the CA broke its rules and may have to revoke it"},
        {"90 days, public, one second before 2029-03-15", utc(2029, 3, 15) - 1, 90 * day, true, status::pass,
         "lifetime 90 days"},
        {"1 day", utc(2026, 6, 1), day, true, status::pass, "lifetime 1 day"},
    };
    for (const auto& row : table) {
        INFO(row.label);
        endpoint_facts ep = compliant_endpoint();
        cert_facts& leaf = ep.chain->served[0];
        leaf.not_before = row.not_before;
        leaf.not_after = row.not_before + row.lifetime - 1;
        ep.chain->publicly_trusted = row.publicly_trusted;
        if (std::string_view(row.label).find("unknown") != std::string_view::npos) ep.chain->publicly_trusted.reset();
        auto f = audit_rule(ep, rule_id::lifetime);
        REQUIRE(f.size() == 1);
        CHECK(f[0].result == row.expected);
        CHECK(f[0].evidence == row.evidence);
        if (row.expected == status::fail || row.expected == status::warn)
            CHECK(f[0].remediation.find(" days or less") != std::string::npos);
    }
}

TEST_CASE("audit: findings keep endpoint order, then rules-table order", "[tls][audit]") {
    endpoint_facts a = compliant_endpoint();
    a.name = "a";
    endpoint_facts b = compliant_endpoint();
    b.name = "b";
    report r = audit({a, b}, fixed_now);
    REQUIRE(r.findings.size() == 2 * rules.size());
    REQUIRE(r.endpoints.size() == 2);
    for (std::size_t i = 0; i < r.findings.size(); ++i) {
        CHECK(r.findings[i].endpoint == (i < rules.size() ? "a" : "b"));
        CHECK(r.findings[i].rule == rules[i % rules.size()].id);
        CHECK(r.findings[i].id == rules[i % rules.size()].code);
    }
}
