// The pure judge: facts in, verdicts out. One row per situation, each changing one aspect of a
// compliant baseline; every check's status is compared (not only the one the row is about), and
// the matrix too, so a change that moves any other verdict fails here.

#include "probe_fixtures.hpp"
#include "proxy/probe/judge.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <map>

using namespace atsgate;
using namespace atsgate::probe;
using namespace atsgate::probe::testing;

namespace {

using statuses = std::map<std::string, status>;

// Every check of a compliant target, all PASS.
statuses baseline() {
    statuses s;
    for (const char* id : {"probe.reachability", "probe.tls_versions", "probe.ats_default", "probe.ems", "probe.suites",
                           "probe.non_pfs", "cert.key_strength", "cert.signature_hash", "cert.validity",
                           "cert.self_signed", "cert.chain", "cert.san", "cert.eku", "cert.lifetime",
                           "probe.plaintext_port80", "probe.redirect"})
        s[id] = status::pass;
    return s;
}

statuses cert_all(status st) {
    statuses s;
    for (const char* id : {"cert.key_strength", "cert.signature_hash", "cert.validity", "cert.self_signed", "cert.chain",
                           "cert.san", "cert.eku", "cert.lifetime"})
        s[id] = st;
    return s;
}

// Worst status per id (a cert rule may yield one finding per certificate).
statuses actual(const target_report& r) {
    auto rank = [](status s) {
        switch (s) {
            case status::fail: return 5;
            case status::unknown: return 4;
            case status::warn: return 3;
            case status::exempt: return 2;
            case status::info: return 1;
            case status::pass: return 0;
        }
        return 0;
    };
    statuses out;
    for (const auto& c : r.checks) {
        auto it = out.find(c.id);
        if (it == out.end() || rank(c.result) > rank(it->second)) out[c.id] = c.result;
    }
    return out;
}

std::string describe(const statuses& s) {
    std::string out;
    for (const auto& [id, st] : s) out += id + "=" + std::string(json_name(st)) + " ";
    return out;
}

std::vector<status> matrix_of(const target_report& r) {
    std::vector<status> out;
    for (const auto& m : r.matrix) out.push_back(m.result);
    return out;
}

constexpr status P = status::pass, F = status::fail, U = status::unknown;

struct row {
    const char* label;
    std::function<void(target_facts&)> mutate;
    statuses changes;              // overrides of the baseline ("" removal not needed)
    std::vector<status> matrix;    // ATS default, TLS 1.3 only, TLS 1.2 only, TLS 1.2 without PFS
    bool replace = false;          // `changes` is the complete expected set (not baseline + changes)
};

void tls10_only(target_facts& f) {
    f.tls10 = ok_hs(TLS1_VERSION, "ECDHE-ECDSA-AES128-SHA");
    f.tls11 = refused();
    f.tls12 = refused();
    f.tls13 = refused();
    f.ats_default = refused();
    f.ats_tls13 = refused();
    f.ats_tls12 = refused();
    f.tls12_no_pfs = refused();
    for (auto& s : f.suites) s.hs = refused();
    f.chain_source = "TLS 1.0 connection";
}

void rsa_kx_only(target_facts& f) {
    f.tls13 = refused();
    f.tls12 = ok_hs(TLS1_2_VERSION, "AES256-GCM-SHA384", true, "");
    f.ats_default = refused(40);
    f.ats_tls13 = refused();
    f.ats_tls12 = refused(40);
    f.tls12_no_pfs = ok_hs(TLS1_2_VERSION, "AES128-GCM-SHA256", true, "");
    for (auto& s : f.suites) s.hs = s.tls13 ? refused() : refused(40);
    f.non_pfs_accepted = {"AES256-GCM-SHA384", "AES128-GCM-SHA256"};
    f.chain_source = "TLS 1.2 connection";
}

void no_ems(target_facts& f) {
    f.tls13 = refused();
    f.tls12.ems = false;
    f.ats_default = ok_hs(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", false);
    f.ats_tls13 = refused();
    f.ats_tls12 = ok_hs(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", false);
    f.tls12_no_pfs = ok_hs(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", false);
    for (auto& s : f.suites) {
        if (s.tls13) s.hs = refused();
        else if (s.hs.ok) s.hs.ems = false;
    }
}

void tls13_only(target_facts& f) {
    f.tls12 = refused();
    f.ats_tls12 = refused();
    f.tls12_no_pfs = refused();
    for (auto& s : f.suites)
        if (!s.tls13) s.hs = refused();
}

void stalled(target_facts& f) {
    f.ats_default = timed_out();
    for (auto* h : {&f.tls10, &f.tls11, &f.tls12, &f.tls13, &f.ats_tls13, &f.ats_tls12, &f.tls12_no_pfs}) *h = skipped();
    for (auto& s : f.suites) s.hs = skipped();
    f.non_pfs_checked = false;
    f.non_pfs_skipped = "skipped after an earlier handshake timed out";
    f.endpoint.reset();
    f.redirect = {};
    f.redirect.not_checked = "no TLS connection completed";
}

statuses with(statuses base, const statuses& changes) {
    for (const auto& [id, st] : changes) base[id] = st;
    return base;
}

const std::vector<row>& rows() {
    static const std::vector<row> table = {
        {"compliant", [](target_facts&) {}, {}, {P, P, P, P}},
        {"TLS 1.0 only", tls10_only,
         {{"probe.tls_versions", F}, {"probe.ats_default", F}, {"probe.ems", status::info},
          {"probe.suites", status::info}, {"probe.non_pfs", status::info}},
         {F, F, F, F}},
        {"TLS 1.0 and 1.1 accepted as well",
         [](target_facts& f) {
             f.tls10 = ok_hs(TLS1_VERSION, "ECDHE-ECDSA-AES128-SHA");
             f.tls11 = ok_hs(TLS1_1_VERSION, "ECDHE-ECDSA-AES128-SHA");
         },
         {{"probe.tls_versions", status::warn}},
         {P, P, P, P}},
        {"TLS 1.2 only (no TLS 1.3)",
         [](target_facts& f) {
             f.tls13 = refused();
             f.ats_default = ok_hs(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
             f.ats_tls13 = refused();
             for (auto& s : f.suites)
                 if (s.tls13) s.hs = refused();
         },
         {{"probe.tls_versions", status::warn}},
         {P, F, P, P}},
        {"TLS 1.2 with RSA key exchange only", rsa_kx_only,
         {{"probe.tls_versions", status::warn}, {"probe.ats_default", F}, {"probe.suites", F},
          {"probe.non_pfs", status::warn}},
         {F, F, F, P}},
        {"TLS 1.2 without EMS", no_ems,
         {{"probe.tls_versions", status::warn}, {"probe.ats_default", F}, {"probe.ems", F}},
         {F, F, F, F}},
        {"TLS 1.3 only", tls13_only, {}, {P, P, F, F}},
        {"CBC and CHACHA20 suites accepted on TLS 1.2",
         [](target_facts& f) {
             set_suite(f, "ECDHE-ECDSA-AES128-SHA", true);
             set_suite(f, "ECDHE-ECDSA-CHACHA20-POLY1305", true);
         },
         {{"probe.suites", status::warn}},
         {P, P, P, P}},
        {"TLS 1.2 only with non-ATS suites, TLS 1.3 fine",
         [](target_facts& f) {
             for (auto& s : f.suites)
                 if (!s.tls13) s.hs = refused(40);
             f.tls12 = ok_hs(TLS1_2_VERSION, "AES128-GCM-SHA256", true, "");
             f.ats_tls12 = refused(40);
             f.tls12_no_pfs = ok_hs(TLS1_2_VERSION, "AES128-GCM-SHA256", true, "");
             f.non_pfs_accepted = {"AES128-GCM-SHA256"};
         },
         {{"probe.suites", status::warn}, {"probe.non_pfs", status::warn}},
         {P, P, F, P}},
        {"RSA-1024 leaf",
         [](target_facts& f) {
             auto s = leaf_spec();
             s.key = test::key_type::rsa_1024;
             f.endpoint = endpoint_with_leaf(s);
         },
         {{"probe.ats_default", F}, {"cert.key_strength", F}},
         {F, F, F, F}},
        {"SHA-1 signed leaf",
         [](target_facts& f) {
             auto s = leaf_spec();
             s.sig = test::digest::sha1;
             f.endpoint = endpoint_with_leaf(s);
         },
         {{"probe.ats_default", F}, {"cert.signature_hash", F}},
         {F, F, F, F}},
        {"expired leaf",
         [](target_facts& f) {
             auto s = leaf_spec();
             s.not_before = -100 * day;
             s.not_after = -day;
             f.endpoint = endpoint_with_leaf(s);
         },
         {{"probe.ats_default", F}, {"cert.validity", F}},
         {F, F, F, F}},
        {"leaf expiring in 10 days (WARN does not break the connection)",
         [](target_facts& f) {
             auto s = leaf_spec();
             s.not_after = 10 * day;
             f.endpoint = endpoint_with_leaf(s);
         },
         {{"cert.validity", status::warn}},
         {P, P, P, P}},
        {"self-signed leaf",
         [](target_facts& f) {
             const auto& p = pki::get();
             auto leaf = p.factory.make(leaf_spec(), nullptr);
             f.endpoint = endpoint_for({&leaf}, {&p.root});
         },
         {{"probe.ats_default", F}, {"cert.self_signed", F}, {"cert.chain", F}},
         {F, F, F, F}},
        {"wrong host name",
         [](target_facts& f) {
             const auto& p = pki::get();
             auto leaf = p.factory.leaf(p.inter, "other.example.test");
             f.endpoint = endpoint_for({&leaf, &p.inter}, {&p.root});
         },
         {{"probe.ats_default", F}, {"cert.san", F}},
         {F, F, F, F}},
        {"missing intermediate",
         [](target_facts& f) {
             const auto& p = pki::get();
             auto leaf = p.factory.leaf(p.inter, host);
             f.endpoint = endpoint_for({&leaf}, {&p.root});
         },
         {{"probe.ats_default", F}, {"cert.chain", F}},
         {F, F, F, F}},
        {"no serverAuth EKU",
         [](target_facts& f) {
             auto s = leaf_spec();
             s.usage = test::eku::client_auth;
             f.endpoint = endpoint_with_leaf(s);
         },
         // The chain check verifies with purpose sslserver, so it fails too (as on a device).
         {{"probe.ats_default", F}, {"cert.eku", F}, {"cert.chain", F}},
         {F, F, F, F}},
        {"port 80 answers 200",
         [](target_facts& f) {
             f.plaintext.open = true;
             f.plaintext.responded = true;
             f.plaintext.status = 200;
         },
         {{"probe.plaintext_port80", status::warn}},
         {P, P, P, P}},
        {"port 80 redirects to https",
         [](target_facts& f) {
             f.plaintext.open = true;
             f.plaintext.responded = true;
             f.plaintext.status = 301;
             f.plaintext.location = "https://mdm.example.test/";
         },
         {},
         {P, P, P, P}},
        {"port 80 redirects to http",
         [](target_facts& f) {
             f.plaintext.open = true;
             f.plaintext.responded = true;
             f.plaintext.status = 302;
             f.plaintext.location = "http://www.example.test/";
         },
         {{"probe.plaintext_port80", status::warn}},
         {P, P, P, P}},
        {"port 80 open without HTTP",
         [](target_facts& f) {
             f.plaintext.open = true;
             f.plaintext.error = "timed out waiting for the response";
         },
         {{"probe.plaintext_port80", status::info}},
         {P, P, P, P}},
        {"URL redirects to http://",
         [](target_facts& f) {
             f.redirect.hops = {{f.tgt.url(), 302, "http://mdm.example.test/mdm", ""}};
         },
         {{"probe.redirect", F}},
         {P, P, P, P}},
        {"URL redirects over https, then to http://",
         [](target_facts& f) {
             f.redirect.hops = {{f.tgt.url(), 301, "https://b.example.test/", ""},
                                {"https://b.example.test/", 302, "http://c.example.test/", ""}};
         },
         {{"probe.redirect", F}},
         {P, P, P, P}},
        {"URL redirects over https only",
         [](target_facts& f) {
             f.redirect.hops = {{f.tgt.url(), 301, "https://b.example.test/", ""},
                                {"https://b.example.test/", 200, "", ""}};
         },
         {},
         {P, P, P, P}},
        {"redirect loop",
         [](target_facts& f) {
             f.redirect.hops = {{f.tgt.url(), 301, "https://b.example.test/", ""},
                                {"https://b.example.test/", 301, f.tgt.url(), ""}};
             f.redirect.loop = true;
         },
         {{"probe.redirect", status::warn}},
         {P, P, P, P}},
        {"no HTTP response over TLS",
         [](target_facts& f) { f.redirect.hops = {{f.tgt.url(), 0, "", "timed out waiting for the response"}}; },
         {{"probe.redirect", U}},
         {P, P, P, P}},
        {"one version probe timed out",
         [](target_facts& f) { f.tls10 = timed_out(); },
         {{"probe.tls_versions", U}},
         {P, P, P, P}},
        {"handshakes time out (server accepts TCP, never answers)", stalled,
         with(with(baseline(), cert_all(U)),
              {{"probe.tls_versions", U}, {"probe.ats_default", F}, {"probe.ems", U}, {"probe.suites", U},
               {"probe.non_pfs", U}, {"probe.redirect", U}}),
         {F, U, U, U}, true},
        {"DNS fails", [](target_facts& f) { f.resolve_error = "Name or service not known"; },
         {{"probe.reachability", F}}, {F, F, F, F}, true},
        {"TCP connect refused",
         [](target_facts& f) {
             f.address.clear();
             f.connect_error = "Connection refused";
         },
         {{"probe.reachability", F}}, {F, F, F, F}, true},
        {"http:// target",
         [](target_facts& f) {
             std::string err;
             f.tgt = *parse_target("http://mdm.example.test/mdm", err);
         },
         {{"http.https_only", F}}, {F, F, F, F}, true},
    };
    return table;
}

}  // namespace

TEST_CASE("judge: every situation gives exactly the expected verdicts", "[probe][judge]") {
    for (const auto& r : rows()) {
        DYNAMIC_SECTION(r.label) {
            target_facts f = compliant();
            r.mutate(f);
            const target_report rep = judge_target(f, fixed_now);
            const statuses want = r.replace ? r.changes : with(baseline(), r.changes);
            const statuses got = actual(rep);
            INFO("want: " << describe(want));
            INFO("got:  " << describe(got));
            CHECK(got == want);
            CHECK(matrix_of(rep) == r.matrix);
            bool any_fail = false;
            for (const auto& [id, st] : want) any_fail = any_fail || st == status::fail;
            CHECK(rep.failed() == any_fail);
        }
    }
}

TEST_CASE("judge: an http:// target is reported without connection details", "[probe][judge]") {
    target_facts f = compliant();
    std::string err;
    f.tgt = *parse_target("http://mdm.example.test/mdm", err);
    const auto rep = judge_target(f, fixed_now);
    CHECK(rep.sni.empty());
    REQUIRE(rep.checks.size() == 1);
    CHECK(rep.checks[0].evidence == "http://mdm.example.test/mdm is plain HTTP: devices refuse it (ATS)");
}

TEST_CASE("judge: checks come in the documented order", "[probe][judge]") {
    const auto rep = judge_target(compliant(), fixed_now);
    std::vector<std::string> ids;
    for (const auto& c : rep.checks) ids.push_back(c.id);
    CHECK(ids == std::vector<std::string>{"probe.reachability", "probe.tls_versions", "probe.ats_default", "probe.ems",
                                          "probe.suites", "probe.non_pfs", "cert.key_strength", "cert.signature_hash",
                                          "cert.validity", "cert.self_signed", "cert.chain", "cert.san", "cert.eku",
                                          "cert.lifetime", "probe.plaintext_port80", "probe.redirect"});
    std::vector<std::string> rows_ids;
    for (const auto& m : rep.matrix) rows_ids.push_back(m.id);
    CHECK(rows_ids == std::vector<std::string>{"ats_default", "tls13", "tls12", "tls12_no_pfs"});
}

TEST_CASE("judge: the ATS default connection names the requirement that broke it", "[probe][judge]") {
    auto evidence = [](const std::function<void(target_facts&)>& mutate) {
        target_facts f = compliant();
        mutate(f);
        for (const auto& c : judge_target(f, fixed_now).checks)
            if (c.id == "probe.ats_default") return c.evidence + " | " + c.remediation;
        return std::string{};
    };
    CHECK_THAT(evidence(tls10_only), Catch::Contains("no TLS 1.2+ (the server accepts TLS 1.0)"));
    CHECK_THAT(evidence(rsa_kx_only), Catch::Contains("no common ECDHE suite") &&
                                          Catch::Contains("AES256-GCM-SHA384, AES128-GCM-SHA256"));
    CHECK_THAT(evidence(no_ems), Catch::Contains("completed, but devices refuse it: no EMS") &&
                                     Catch::Contains("Extended Master Secret"));
    CHECK_THAT(evidence([](target_facts& f) {
                   auto s = leaf_spec();
                   s.key = test::key_type::rsa_1024;
                   f.endpoint = endpoint_with_leaf(s);
               }),
               Catch::Contains("certificate: cert.key_strength"));
    CHECK_THAT(evidence([](target_facts&) {}), Catch::Contains("TLS 1.3 TLS_AES_128_GCM_SHA256, X25519, ALPN http/1.1"));
}

TEST_CASE("judge: cert.* come from tls::audit, with probe-specific chain remediation", "[probe][judge]") {
    target_facts f = compliant();
    const auto& p = pki::get();
    auto leaf = p.factory.leaf(p.inter, host);
    f.endpoint = endpoint_for({&leaf}, {&p.root});
    const auto rep = judge_target(f, fixed_now);
    const check* chain = nullptr;
    for (const auto& c : rep.checks)
        if (c.id == "cert.chain") chain = &c;
    REQUIRE(chain != nullptr);
    CHECK(chain->result == status::fail);
    CHECK_THAT(chain->remediation, Catch::StartsWith("configure the server to send the intermediate") &&
                                       Catch::Contains("atsgate test intermediate"));
    CHECK(chain->subject.find("mdm.example.test") != std::string::npos);
}

TEST_CASE("judge: the fallback chain's source is named", "[probe][judge]") {
    target_facts f = compliant();
    tls10_only(f);
    for (const auto& c : judge_target(f, fixed_now).checks)
        if (c.id == "cert.chain") CHECK_THAT(c.evidence, Catch::EndsWith("chain from the TLS 1.0 connection (the ATS default connection failed)"));
}

TEST_CASE("judge: PASS and INFO carry no remediation, WARN/FAIL/UNKNOWN always do", "[probe][judge]") {
    for (const auto& r : rows()) {
        target_facts f = compliant();
        r.mutate(f);
        for (const auto& c : judge_target(f, fixed_now).checks) {
            INFO(r.label << ": " << c.id << " " << json_name(c.result) << " " << c.evidence);
            if (c.result == status::pass || c.result == status::info)
                CHECK(c.remediation.empty());
            else
                CHECK_FALSE(c.remediation.empty());
            CHECK_FALSE(c.evidence.empty());
        }
    }
}

// ---- profiles ----------------------------------------------------------------------------------

namespace {

profile_url url(std::string path, std::string u, bool scep = false) {
    profile_url p;
    p.key_path = std::move(path);
    p.https = u.rfind("https://", 0) == 0;
    p.url = std::move(u);
    p.scep_exempt = scep;
    return p;
}

}  // namespace

TEST_CASE("judge: profiles", "[probe][judge][profile]") {
    struct prow {
        const char* label;
        profile_facts facts;
        statuses want;
        std::size_t http_url_findings;
    };
    profile_facts unsigned_https;
    unsigned_https.path = "enroll.mobileconfig";
    unsigned_https.format = "XML plist";
    unsigned_https.urls = {url("PayloadContent[0].ServerURL", "https://mdm.example.test/mdm")};

    profile_facts signed_ok = unsigned_https;
    signed_ok.signed_cms = true;
    signed_ok.signers = {"CN=Profile Signer"};
    signed_ok.signature_valid = true;

    profile_facts signed_broken = signed_ok;
    signed_broken.signature_valid = false;
    signed_broken.signature_error = "content verify error";

    profile_facts http = unsigned_https;
    http.urls.push_back(url("PayloadContent[0].CheckInURL", "http://mdm.example.test/checkin"));

    profile_facts scep = unsigned_https;
    scep.urls.push_back(url("PayloadContent[1].PayloadContent.URL", "http://scep.example.test/scep", true));

    profile_facts invalid = unsigned_https;
    invalid.urls.push_back(url("PayloadContent[0].CheckInURL", "https://$SERVER/checkin"));
    invalid.urls.back().invalid = "invalid host name \"$server\"";

    profile_facts both = http;
    both.urls.push_back(url("PayloadContent[1].PayloadContent.URL", "http://scep.example.test/scep", true));

    const std::vector<prow> table = {
        {"unsigned, https only", unsigned_https,
         {{"profile.signature", status::info}, {"profile.urls", status::info}, {"profile.http_url", P}}, 1},
        {"signed, valid", signed_ok,
         {{"profile.signature", status::info}, {"profile.urls", status::info}, {"profile.http_url", P}}, 1},
        {"signed, broken signature", signed_broken,
         {{"profile.signature", status::warn}, {"profile.urls", status::info}, {"profile.http_url", P}}, 1},
        {"an http:// URL", http,
         {{"profile.signature", status::info}, {"profile.urls", status::info}, {"profile.http_url", F}}, 1},
        {"a SCEP http:// URL is exempt, not a pass", scep,
         {{"profile.signature", status::info}, {"profile.urls", status::info}, {"profile.http_url", status::exempt}}, 1},
        {"an https URL that cannot be probed", invalid,
         {{"profile.signature", status::info}, {"profile.urls", status::info}, {"profile.http_url", P},
          {"profile.url_invalid", F}},
         1},
        {"http and SCEP: one finding each", both,
         {{"profile.signature", status::info}, {"profile.urls", status::info}, {"profile.http_url", F}}, 2},
    };
    for (const auto& r : table) {
        DYNAMIC_SECTION(r.label) {
            const auto rep = judge_profile(r.facts);
            statuses got;
            std::size_t http_findings = 0;
            for (const auto& c : rep.checks) {
                if (c.id == "profile.http_url") ++http_findings;
                if (!got.count(c.id) || c.result == status::fail) got[c.id] = c.result;
            }
            INFO(describe(got));
            CHECK(got == r.want);
            CHECK(http_findings == r.http_url_findings);
            CHECK(rep.failed() == (r.want.at("profile.http_url") == status::fail || r.want.count("profile.url_invalid") > 0));
        }
    }
    const auto rep = judge_profile(both);
    const check& exempt = rep.checks.back();
    CHECK(exempt.result == status::exempt);
    CHECK(exempt.subject == "PayloadContent[1].PayloadContent.URL");
    CHECK(exempt.remediation.empty());
}
