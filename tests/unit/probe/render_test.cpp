// Report rendering: the exact JSON of a small report (schema in report.hpp / README), the text
// layout, colour only when asked, and peer-controlled text kept on one line.

#include "probe_fixtures.hpp"
#include "proxy/probe/judge.hpp"
#include "proxy/probe/report.hpp"
#include "tls/html.hpp"

#include <catch2/catch.hpp>

#include <regex>

using namespace atsgate::probe;
using namespace atsgate::probe::testing;

namespace {

report small_report() {
    report r;
    profile_report p;
    p.path = "enroll.mobileconfig";
    p.format = "XML plist";
    p.signed_cms = true;
    p.checks.push_back({"profile.http_url", status::exempt, "PayloadContent[1].PayloadContent.URL",
                        "http://scep.example.test/ (SCEP)", ""});
    r.profiles.push_back(p);
    target_report t;
    t.target = "https://mdm.example.test/";
    t.address = "192.0.2.10:443";
    t.sni = "mdm.example.test";
    t.source = "enroll.mobileconfig: PayloadContent[0].ServerURL";
    t.checks.push_back({"probe.ems", status::fail, "", "TLS 1.2 without \"EMS\"", "enable EMS"});
    t.checks.push_back({"cert.san", status::pass, "CN=mdm.example.test,O=Example", "in SAN", ""});
    t.matrix.push_back({"ats_default", "ATS default", status::fail, "no EMS"});
    r.targets.push_back(t);
    return r;
}

}  // namespace

TEST_CASE("render: JSON, schema version 1", "[probe][render]") {
    CHECK(render_json(small_report()) ==
          "{\"version\":1,\"summary\":{\"targets\":1,\"targets_passed\":0,\"targets_failed\":1,\"profiles\":1,"
          "\"profiles_failed\":0,\"pass\":1,\"info\":0,\"warn\":0,\"fail\":1,\"unknown\":0,\"exempt\":1},"
          "\"profiles\":[{\"path\":\"enroll.mobileconfig\",\"format\":\"XML plist\",\"signed\":true,\"result\":\"pass\","
          "\"checks\":[{\"id\":\"profile.http_url\",\"status\":\"exempt\",\"subject\":\"PayloadContent[1].PayloadContent.URL\","
          "\"evidence\":\"http://scep.example.test/ (SCEP)\",\"remediation\":\"\"}]}],"
          "\"targets\":[{\"target\":\"https://mdm.example.test/\",\"address\":\"192.0.2.10:443\",\"sni\":\"mdm.example.test\","
          "\"source\":\"enroll.mobileconfig: PayloadContent[0].ServerURL\",\"result\":\"fail\","
          "\"checks\":[{\"id\":\"probe.ems\",\"status\":\"fail\",\"subject\":\"\",\"evidence\":\"TLS 1.2 without \\\"EMS\\\"\","
          "\"remediation\":\"enable EMS\"},{\"id\":\"cert.san\",\"status\":\"pass\",\"subject\":\"CN=mdm.example.test,O=Example\","
          "\"evidence\":\"in SAN\",\"remediation\":\"\"}],"
          "\"matrix\":[{\"id\":\"ats_default\",\"label\":\"ATS default\",\"result\":\"fail\",\"detail\":\"no EMS\"}]}]}\n");
}

TEST_CASE("render: text layout and summary", "[probe][render]") {
    const std::string text = render_text(small_report(), false);
    CHECK(text ==
          "profile \"enroll.mobileconfig\" (signed XML plist)\n"
          "  EXEMPT  profile.http_url        [PayloadContent[1].PayloadContent.URL] http://scep.example.test/ (SCEP)\n"
          "  => PASS (1 exempt)\n"
          "\n"
          "target \"https://mdm.example.test/\" 192.0.2.10:443 sni mdm.example.test (from enroll.mobileconfig: "
          "PayloadContent[0].ServerURL)\n"
          "  FAIL    probe.ems               TLS 1.2 without \"EMS\"\n"
          "          -> enable EMS\n"
          "  PASS    cert.san                [mdm.example.test] in SAN\n"
          "  ATS matrix (as nscurl --ats-diagnostics):\n"
          "    FAIL    ATS default  no EMS\n"
          "  => FAIL (1 pass, 1 fail)\n"
          "\n"
          "summary: 1 target(s): 0 passed, 1 failed; 1 profile(s): 0 failed; 1 fail, 0 warn: NOT COMPLIANT\n");
    CHECK(text.find('\033') == std::string::npos);
}

TEST_CASE("render: colour only when asked", "[probe][render]") {
    const std::string text = render_text(small_report(), true);
    CHECK_THAT(text, Catch::Contains("\033[1;31mFAIL\033[0m    probe.ems"));
    CHECK_THAT(text, Catch::Contains("\033[32mPASS\033[0m    cert.san"));
    CHECK_THAT(text, Catch::Contains("\033[34mEXEMPT\033[0m  profile.http_url"));
}

TEST_CASE("render: peer-controlled text stays on one line and valid JSON", "[probe][render]") {
    report r;
    target_report t;
    t.target = "https://evil.test/";
    t.checks.push_back({"cert.san", status::fail, "CN=evil\n\033[2Jx", "SAN: DNS:a\r\nFAIL fake\xff", "fix"});
    r.targets.push_back(t);
    const std::string text = render_text(r, false);
    CHECK(text.find('\033') == std::string::npos);
    CHECK_THAT(text, Catch::Contains("[evil??[2Jx] SAN: DNS:a??FAIL fake\xff"));
    const std::string json = render_json(r);
    CHECK_THAT(json, Catch::Contains("\"subject\":\"CN=evil\\n\\u001b[2Jx\""));
    CHECK_THAT(json, Catch::Contains("\"evidence\":\"SAN: DNS:a\\r\\nFAIL fake\\ufffd\""));
}

TEST_CASE("render: a compliant target's real report", "[probe][render]") {
    report r;
    r.targets.push_back(judge_target(compliant(), fixed_now));
    const std::string text = render_text(r, false);
    CHECK_THAT(text, Catch::Contains("  PASS    probe.ats_default       TLS 1.3 TLS_AES_128_GCM_SHA256, X25519, ALPN http/1.1, SNI mdm.example.test\n"));
    CHECK_THAT(text, Catch::Contains("    PASS    TLS 1.2 without PFS  TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256, X25519, EMS\n"));
    CHECK_THAT(text, Catch::EndsWith("summary: 1 target(s): 1 passed, 0 failed; 0 fail, 0 warn: COMPLIANT\n"));
    CHECK_FALSE(r.failed());
}

TEST_CASE("render: HTML report, one section per target, escaped, no script", "[probe][render]") {
    report r = small_report();
    r.targets[0].checks.push_back({"cert.chain", status::fail, "CN=<script>alert(1)</script>",
                                   "issuer \"<img src=x onerror=alert(2)>\"", "serve the intermediate </li><script>"});
    target_report second;
    second.target = "https://ok.example.test/";
    second.address = "192.0.2.11:443";
    second.checks.push_back({"probe.ems", status::pass, "", "EMS negotiated", ""});
    second.matrix.push_back({"ats_default", "ATS default", status::pass, "TLSv1.3 TLS_AES_128_GCM_SHA256"});
    r.targets.push_back(second);
    const std::string page = render_html(r, 1'900'000'000, "9.9.9");
    CHECK(page.find("<script") == std::string::npos);
    CHECK(page.find("<img") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
    CHECK(page.find("content=\"default-src 'none'; style-src 'sha256-") != std::string::npos);
    CHECK(page.find("unsafe-inline") == std::string::npos);
    CHECK_FALSE(std::regex_search(page, std::regex("<[a-z]+[^>]*\\ssrc=")));  // no element loads anything
    CHECK(page.find("<section class=\"target\" id=\"target-0\" data-result=\"fail\">") != std::string::npos);
    CHECK(page.find("<section class=\"target\" id=\"target-1\" data-result=\"pass\">") != std::string::npos);
    CHECK(page.find("<section class=\"profile\" id=\"profile-0\">") != std::string::npos);
    CHECK(page.find("NOT COMPLIANT: 2 target(s), 1 passed, 1 failed; 1 profile(s), 0 failed; 2 fail, 0 warn.") !=
          std::string::npos);
    CHECK(page.find("<h3>What to fix</h3>") != std::string::npos);
    CHECK(page.find("<code>probe.ems</code>: enable EMS</li>") != std::string::npos);
    CHECK(page.find("serve the intermediate &lt;/li&gt;&lt;script&gt;") != std::string::npos);
    CHECK(page.find("TLSv1.3 TLS_AES_128_GCM_SHA256") != std::string::npos);
    CHECK(page.find("2030-03-17") != std::string::npos);
    CHECK(page.find("atsgate 9.9.9 probe") != std::string::npos);
    // The CSP hash covers exactly the inline stylesheet.
    const auto a = page.find("<style>") + 7, b = page.find("</style>");
    CHECK(page.find(atsgate::tls::html::csp_hash(page.substr(a, b - a))) != std::string::npos);
}
