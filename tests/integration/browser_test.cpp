// The dashboard and `probe --html`'s report in a real browser: Debian's chromium, headless, driven
// by playwright-core (npm) through tests/browser/check.mjs. This test starts atsgate, makes the
// traffic the page should show (refused handshakes, a certificate whose subject is markup), writes
// what to expect, and runs the checker, which logs in through the form, looks for each expected
// text, checks the chart, the refresh script, that no request leaves for another origin, that no
// CSP violation or script error happens and that the hostile text stays text, with JavaScript on
// and off, and saves full-page screenshots under BUILD/tests/browser/artifacts/ (test artifacts).
//
// Needs node, npm (playwright-core is installed into BUILD/tests/browser on first use) and
// /usr/bin/chromium (or $ATSGATE_CHROMIUM). Where they are missing the test is skipped the way every
// integration test is (ATSGATE_SKIP_BECAUSE: a ctest skip locally, a failure under
// ATSGATE_REQUIRE_TOOLS=1, as in scripts/test and CI, where scripts/deps installs them).

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace atsgate::itest;

namespace {

const fs::path browser_dir = ATSGATE_BROWSER_DIR;  // build tree: node_modules, check.mjs, artifacts/
const fs::path browser_src = fs::path(ATSGATE_SOURCE_DIR) / "tests" / "browser";

std::string chromium_path() {
    const char* c = std::getenv("ATSGATE_CHROMIUM");
    return c != nullptr && *c != '\0' ? c : "/usr/bin/chromium";
}

// Why the browser cannot run here ("" = it can): tools on PATH, chromium, playwright-core.
std::string browser_unavailable() {
    if (const auto missing = missing_tools({"node", "npm"}); !missing.empty()) return join(missing, ", ") + " not on PATH";
    if (::access(chromium_path().c_str(), X_OK) != 0) return chromium_path() + " not installed (Debian package chromium)";
    fs::create_directories(browser_dir);
    const auto pkg = read_text(browser_src / "package.json");
    if (read_text(browser_dir / "package.json") != pkg || !fs::exists(browser_dir / "node_modules" / "playwright-core")) {
        fs::remove_all(browser_dir / "node_modules");
        std::error_code ec;
        fs::copy_file(browser_src / "package.json", browser_dir / "package.json", fs::copy_options::overwrite_existing, ec);
        command_options o;
        o.timeout = milliseconds(300000);
        const auto r = run_command({"npm", "--prefix", browser_dir.string(), "install", "--no-package-lock", "--no-audit",
                                    "--no-fund", "--loglevel=error"},
                                   o);
        if (r.exit_code != 0) {
            fs::remove(browser_dir / "package.json", ec);
            return "npm install playwright-core failed: " + r.describe();
        }
    }
    std::error_code ec;
    fs::copy_file(browser_src / "check.mjs", browser_dir / "check.mjs", fs::copy_options::overwrite_existing, ec);
    if (ec) return "cannot copy check.mjs: " + ec.message();
    return {};
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
            continue;
        }
        out += c;
    }
    return out + "\"";
}

struct expectation {
    std::string selector, text;
};

// Runs check.mjs on a spec; returns its output (CHECKed for success by the caller).
command_result run_checker(const test_env& env, const std::string& name, const std::string& mode, const std::string& url,
                           const std::string& token, const std::vector<expectation>& expect, bool refresh) {
    const fs::path out = browser_dir / "artifacts";
    fs::create_directories(out);
    std::string spec = "{\"mode\":" + json_string(mode) + ",\"url\":" + json_string(url) + ",\"token\":" + json_string(token) +
                       ",\"out\":" + json_string(out.string()) + ",\"refresh\":" + (refresh ? "true" : "false") +
                       ",\"expect\":[";
    for (std::size_t i = 0; i < expect.size(); ++i)
        spec += std::string(i ? "," : "") + "{\"selector\":" + json_string(expect[i].selector) +
                ",\"text\":" + json_string(expect[i].text) + "}";
    spec += "]}";
    command_options o;
    o.timeout = milliseconds(180000);
    o.env = {{"ATSGATE_CHROMIUM", chromium_path()}};
    return run_command({"node", (browser_dir / "check.mjs").string(), env.write(name + ".json", spec).string()}, o);
}

}  // namespace

TEST_CASE("browser: the dashboard and the probe report in chromium", "[integration][browser]") {
    if (const std::string why = browser_unavailable(); !why.empty()) ATSGATE_SKIP_BECAUSE(why);
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto spec = test_env::leaf_spec();
    spec.common_name = "<script>window.__pwned=1</script>";
    const auto hostile = env.issue("hostile", spec);
    auto c = env.default_config(be.url());
    c.admin_token = "browser-token-5f1c9a0e";
    c.listeners[0].cert = hostile.cert;
    c.listeners[0].key = hostile.key;
    listener_spec legacy = c.listeners[0];  // a report-mode listener: would-refuse clients
    legacy.name = "legacy";
    legacy.extra = "enforcement = \"report\"\n";
    c.listeners.push_back(legacy);
    proxy px(env, c);

    // Refused handshakes (one with a hostile SNI) and would-refuse ones for the chart and the lists.
    tls_client_options no_ems;
    no_ems.max_version = TLS1_2_VERSION;
    no_ems.no_ems = true;
    for (int i = 0; i < 3; ++i) {
        auto o = no_ems;
        if (i == 0) o.sni = "<script>window.__pwned=3</script>";
        tls_client cl(o);
        CHECK_FALSE(cl.connect(px.port()).ok);
    }
    for (int i = 0; i < 2; ++i) {
        tls_client cl(no_ems);
        CHECK(cl.connect(px.port(1)).ok);
    }
    // And completed ones.
    for (int i = 0; i < 2; ++i) {
        tls_client_options ok;
        ok.ca_file = env.root_pem();
        tls_client cl(ok);
        CHECK(cl.connect(px.port()).ok);
    }
    px.wait_for_counter(refused_series("no_ems"), 3);

    const std::string url = "http://127.0.0.1:" + std::to_string(px.admin_port()) + "/";
    const auto dash = run_checker(env, "dashboard", "dashboard", url, c.admin_token,
                                  {{"[data-listener=\"mdm\"]", "mdm"},
                                   {"#certificates .days", "89"},
                                   {"#certificates", "<script>window.__pwned=1</script>"},
                                   {"#reasons", "no_ems"},
                                   {"#reasons", "offered no Extended Master Secret: Apple devices always do"},
                                   {"#recent tr.refusal", "no_ems"},
                                   {"#recent tr.refusal", "would refuse"},
                                   {"#recent tr.refusal", "offered no Extended Master Secret"},
                                   {"#recent", "<script>window.__pwned=3</script>"},
                                   {"[data-listener=\"legacy\"]", "enforcement report"},
                                   {"#verdict", "Not compliant yet: legacy is in report mode"}},
                                  true);
    INFO("dashboard checker:\n" << dash.out << dash.err);
    CHECK(dash.exit_code == 0);

    const auto report = env.path("report.html");
    const auto probe = run_command({atsgate_binary().string(), "probe", "--html", report.string(), "--ca",
                                    env.root_pem().string(), "--timeout", "5",
                                    "https://localhost:" + std::to_string(px.port()) + "/",
                                    "https://localhost:" + std::to_string(free_port()) + "/"});
    INFO("probe: " << probe.describe() << "\n" << probe.out);
    REQUIRE(probe.exit_code == 1);
    const auto rep = run_checker(env, "report", "report", "file://" + report.string(), "",
                                 {{"#verdict", "NOT COMPLIANT"},
                                  {"section.target[data-result=\"pass\"]", "https://localhost:" + std::to_string(px.port())},
                                  {"section.target[data-result=\"fail\"]", "probe.reachability"},
                                  {"section.target[data-result=\"pass\"] table.matrix", "ATS default"},
                                  {"section.target[data-result=\"fail\"] ul.fixes", "probe.reachability"},
                                  {"section.target[data-result=\"pass\"]", "<script>window.__pwned=1</script>"}},
                                 false);
    INFO("report checker:\n" << rep.out << rep.err);
    CHECK(rep.exit_code == 0);
}
