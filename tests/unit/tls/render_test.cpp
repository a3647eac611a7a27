// Report rendering: exact JSON (schema in audit.hpp) and text goldens for small fixed reports.

#include "tls_fixtures.hpp"
#include "tls/html.hpp"

#include <catch2/catch.hpp>

using namespace atsgate;
using namespace atsgate::tls;
using namespace atsgate::tls::testing;

namespace {

finding make(std::string endpoint, rule_id id, status s, std::string subject, std::string evidence,
             std::string remediation = {}) {
    finding f;
    f.endpoint = std::move(endpoint);
    f.rule = id;
    f.id = std::string(rule_for(id).code);
    f.result = s;
    f.subject = std::move(subject);
    f.evidence = std::move(evidence);
    f.remediation = std::move(remediation);
    return f;
}

report small_report() {
    report r;
    r.endpoints = {{"listener", "mdm", "0.0.0.0:8443"}};
    r.findings.push_back(make("mdm", rule_id::tls_version, status::pass, "", "TLS 1.2\u20131.3"));
    r.findings.push_back(make("mdm", rule_id::key_strength, status::fail, "CN=mdm.example.test,O=Example\\, Inc.",
                              "leaf RSA 1024 (minimum RSA 2048)",
                              "reissue the certificate with an ECDSA P-256 or RSA-2048+ key"));
    r.findings.push_back(make("mdm", rule_id::validity, status::warn, "CN=mdm.example.test",
                              "leaf expires in 12 days on 2026-01-13", "renew the certificate"));
    r.findings.push_back(make("mdm", rule_id::key_match, status::unknown, "", "cannot read \"/k.pem\"",
                              "resolve the problem shown as evidence, then audit again"));
    return r;
}

}  // namespace

TEST_CASE("render_json: exact schema", "[tls][render]") {
    const std::string expected =
        R"~({"version":1,"summary":{"pass":1,"info":0,"warn":1,"fail":1,"unknown":1},"report_only":[],"findings":[)~"
        R"~({"endpoint":"mdm","rule":"tls.version","status":"pass","subject":"","evidence":"TLS 1.2)~"
        "\xE2\x80\x93"
        R"~(1.3","remediation":"","ats_exception":"NSExceptionMinimumTLSVersion"},)~"
        R"~({"endpoint":"mdm","rule":"cert.key_strength","status":"fail","subject":"CN=mdm.example.test,O=Example\\, Inc.",)~"
        R"~("evidence":"leaf RSA 1024 (minimum RSA 2048)",)~"
        R"~("remediation":"reissue the certificate with an ECDSA P-256 or RSA-2048+ key",)~"
        R"~("ats_exception":"NSExceptionAllowsInsecureHTTPLoads"},)~"
        R"~({"endpoint":"mdm","rule":"cert.validity","status":"warn","subject":"CN=mdm.example.test",)~"
        R"~("evidence":"leaf expires in 12 days on 2026-01-13","remediation":"renew the certificate",)~"
        R"~("ats_exception":"NSExceptionAllowsInsecureHTTPLoads"},)~"
        R"~({"endpoint":"mdm","rule":"cert.key_match","status":"unknown","subject":"",)~"
        R"~("evidence":"cannot read \"/k.pem\"","remediation":"resolve the problem shown as evidence, then audit again",)~"
        R"~("ats_exception":""}]})~";
    CHECK(render_json(small_report()) == expected);
}

TEST_CASE("render_json: escaping", "[tls][render]") {
    report r;
    std::string nasty = std::string("q\"b\\n\nr\rt\tc\x01 del\x7F utf8 \xC3\xA9 bad \xC3 \xFF end");
    r.findings.push_back(make("e\"p", rule_id::san, status::fail, nasty, "x"));
    const std::string json = render_json(r);
    const std::string expected_subject =
        R"~("subject":"q\"b\\n\nr\rt\tc\u0001 del\u007f utf8 )~"
        "\xC3\xA9"
        R"~( bad \ufffd \ufffd end")~";
    CHECK(json.find(expected_subject) != std::string::npos);
    CHECK(json.find(R"~("endpoint":"e\"p")~") != std::string::npos);
    CHECK(render_json(report{}) == R"~({"version":1,"summary":{"pass":0,"info":0,"warn":0,"fail":0,"unknown":0},"report_only":[],"findings":[]})~");
}

TEST_CASE("render_text: blocks, remediation lines, summary", "[tls][render]") {
    const std::string expected =
        "listener \"mdm\" 0.0.0.0:8443\n"
        "  PASS    tls.version          TLS 1.2\xE2\x80\x93" "1.3\n"
        "  FAIL    cert.key_strength    [mdm.example.test] leaf RSA 1024 (minimum RSA 2048)\n"
        "          -> reissue the certificate with an ECDSA P-256 or RSA-2048+ key\n"
        "  WARN    cert.validity        [mdm.example.test] leaf expires in 12 days on 2026-01-13\n"
        "          -> renew the certificate\n"
        "  UNKNOWN cert.key_match       cannot read \"/k.pem\"\n"
        "          -> resolve the problem shown as evidence, then audit again\n"
        "\n"
        "summary: 1 pass, 1 warn, 1 fail, 1 unknown: NOT COMPLIANT\n";
    CHECK(render_text(small_report()) == expected);
}

TEST_CASE("render_text: verdicts and hostile strings", "[tls][render]") {
    report r;
    r.findings.push_back(make("x", rule_id::https_only, status::pass, "", "HTTPS"));
    CHECK(render_text(r) == "listener \"x\"\n  PASS    http.https_only      HTTPS\n\nsummary: 1 pass, 0 warn, 0 fail, 0 unknown: COMPLIANT\n");
    r.findings.push_back(make("x", rule_id::san, status::unknown, "O=no cn", "evil\n\x1b[31mred", "fix"));
    std::string text = render_text(r);
    CHECK(text.find("[O=no cn] evil??[31mred\n") != std::string::npos);
    CHECK(text.find("summary: 1 pass, 0 warn, 0 fail, 1 unknown: INCOMPLETE\n") != std::string::npos);
}

TEST_CASE("render_text: an audited compliant endpoint", "[tls][render]") {
    const auto& p = pki::get();
    auto leaf = p.factory.leaf(p.inter, host);
    endpoint_facts ep = endpoint_for_leaf(leaf);
    ep.kind = "probe";
    std::string text = render_text(audit({ep}, fixed_now));
    CHECK(text.rfind("probe \"mdm\" 0.0.0.0:8443\n", 0) == 0);
    CHECK(text.find("  PASS    cert.validity        leaf valid until 2026-03-31, 89 days left; "
                    "intermediate valid until 2030-12-30, 1824 days left\n") != std::string::npos);
    CHECK(text.find("summary: 13 pass, 0 warn, 0 fail, 0 unknown: COMPLIANT\n") != std::string::npos);
}

TEST_CASE("html: UTC times and badges", "[tls][render][html]") {
    namespace html = atsgate::tls::html;
    CHECK(html::utc_time(0) == "1970-01-01 00:00:00 UTC");
    CHECK(html::utc_time(1'900'000'000) == "2030-03-17 17:46:40 UTC");
    CHECK(html::utc_time(-1) == "1969-12-31 23:59:59 UTC");
    CHECK(html::utc_date(1'900'000'000) == "2030-03-17");
    CHECK(html::badge(atsgate::tls::status::fail) == "<span class=\"badge fail\">FAIL</span>");
    CHECK(html::badge("x\"y", "<b>") == "<span class=\"badge x&quot;y\">&lt;b&gt;</span>");
}
