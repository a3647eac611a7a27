#include "proxy/probe/report.hpp"

#include "tls/audit.hpp"
#include "tls/html.hpp"

#include <algorithm>

namespace atsgate::probe {
namespace {

using util::html_escape;
namespace html = tls::html;

using html::badge;
using html::status_class;
using tls::needs_action;

void checks_table(std::string& o, const std::vector<check>& checks) {
    o += "<table class=\"checks\"><thead><tr><th>status</th><th>check</th><th>subject</th><th>evidence</th></tr></thead><tbody>";
    for (const auto& c : checks) {
        o += "<tr class=\"" + std::string(status_class(c.result)) + "\"><td>" + badge(c.result) + "</td><td><code>" +
             html_escape(c.id) + "</code></td><td>" + html_escape(tls::subject_label(c.subject)) + "</td><td>" +
             html_escape(c.evidence);
        if (!c.remediation.empty() && needs_action(c.result))
            o += "<br><span class=\"remedy\">&rarr; " + html_escape(c.remediation) + "</span>";
        o += "</td></tr>";
    }
    if (checks.empty()) o += "<tr><td colspan=\"4\" class=\"muted\">no checks</td></tr>";
    o += "</tbody></table>";
}

void fixes(std::string& o, const std::vector<check>& checks) {
    std::vector<std::string> lines;
    for (const auto& c : checks) {
        if (!needs_action(c.result) || c.remediation.empty()) continue;
        std::string line = "<li>" + badge(c.result) + " <code>" + html_escape(c.id) + "</code>: " + html_escape(c.remediation) + "</li>";
        if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(std::move(line));
    }
    if (lines.empty()) return;
    o += "<h3>What to fix</h3><ul class=\"fixes\">";
    for (const auto& l : lines) o += l;
    o += "</ul>";
}

}  // namespace

std::string render_html(const report& r, std::int64_t generated_at, std::string_view version) {
    const auto failed_targets = static_cast<std::size_t>(
        std::count_if(r.targets.begin(), r.targets.end(), [](const auto& t) { return t.failed(); }));
    const auto failed_profiles = static_cast<std::size_t>(
        std::count_if(r.profiles.begin(), r.profiles.end(), [](const auto& p) { return p.failed(); }));
    std::string o;
    o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src " +
         html::csp_hash(html::stylesheet()) +  // base64 and quotes: safe in a double-quoted attribute
         "; base-uri 'none'; form-action 'none'\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"referrer\" content=\"no-referrer\"><title>ATS readiness report</title><style>";
    o += html::stylesheet();
    o += "</style></head><body><header><h1>ATS readiness report</h1><span class=\"meta\">atsgate " +
         html_escape(version) + " probe &middot; " + html::utc_time(generated_at) + "</span></header><main>";

    const bool failed = r.failed();
    o += std::string("<div class=\"banner ") + (failed ? "fail" : "pass") + "\" id=\"verdict\">" +
         (failed ? "NOT COMPLIANT" : "COMPLIANT") + ": " + std::to_string(r.targets.size()) + " target(s), " +
         std::to_string(r.targets.size() - failed_targets) + " passed, " + std::to_string(failed_targets) + " failed";
    if (!r.profiles.empty())
        o += "; " + std::to_string(r.profiles.size()) + " profile(s), " + std::to_string(failed_profiles) + " failed";
    o += "; " + std::to_string(r.count(status::fail)) + " fail, " + std::to_string(r.count(status::warn)) + " warn.</div>";
    o += "<p class=\"muted\">Each target was connected to the way an Apple device does under App Transport Security "
         "(TLS 1.2 with ECDHE and Extended Master Secret, or TLS 1.3; SHA-256+ certificates with RSA 2048+ or ECDSA "
         "256+ keys, a trusted chain, valid dates). FAIL means Apple devices will refuse the connection.</p>";

    o += "<section id=\"overview\"><h2>Overview</h2><table><thead><tr><th>result</th><th>target</th><th>address</th>"
         "<th>SNI</th><th>source</th></tr></thead><tbody>";
    for (std::size_t i = 0; i < r.targets.size(); ++i) {
        const auto& t = r.targets[i];
        o += "<tr><td>" + badge(t.failed() ? status::fail : status::pass) + "</td><td><a href=\"#target-" +
             std::to_string(i) + "\"><code>" + html_escape(t.target) + "</code></a></td><td><code>" +
             html_escape(t.address) + "</code></td><td><code>" + html_escape(t.sni) + "</code></td><td>" +
             html_escape(t.source) + "</td></tr>";
    }
    for (std::size_t i = 0; i < r.profiles.size(); ++i) {
        const auto& p = r.profiles[i];
        o += "<tr><td>" + badge(p.failed() ? status::fail : status::pass) + "</td><td><a href=\"#profile-" +
             std::to_string(i) + "\">profile <code>" + html_escape(p.path) + "</code></a></td><td></td><td></td><td>" +
             html_escape(p.format) + "</td></tr>";
    }
    o += "</tbody></table></section>";

    for (std::size_t i = 0; i < r.profiles.size(); ++i) {
        const auto& p = r.profiles[i];
        o += "<section class=\"profile\" id=\"profile-" + std::to_string(i) + "\"><h2>" +
             badge(p.failed() ? status::fail : status::pass) + " profile <code>" + html_escape(p.path) +
             "</code> <span class=\"muted\">" + (p.signed_cms ? "signed " : "") + html_escape(p.format) + "</span></h2>";
        checks_table(o, p.checks);
        fixes(o, p.checks);
        o += "</section>";
    }
    for (std::size_t i = 0; i < r.targets.size(); ++i) {
        const auto& t = r.targets[i];
        o += "<section class=\"target\" id=\"target-" + std::to_string(i) + "\" data-result=\"" +
             (t.failed() ? "fail" : "pass") + "\"><h2>" + badge(t.failed() ? status::fail : status::pass) + " <code>" +
             html_escape(t.target) + "</code></h2><p class=\"muted\">";
        o += t.address.empty() ? std::string("not reachable") : "connected to <code>" + html_escape(t.address) + "</code>";
        if (!t.sni.empty()) o += " &middot; SNI <code>" + html_escape(t.sni) + "</code>";
        if (!t.source.empty()) o += " &middot; from " + html_escape(t.source);
        o += "</p>";
        checks_table(o, t.checks);
        o += "<h3>ATS matrix (as nscurl --ats-diagnostics)</h3><table class=\"matrix\"><thead><tr><th>result</th>"
             "<th>client configuration</th><th>detail</th></tr></thead><tbody>";
        for (const auto& m : t.matrix)
            o += "<tr><td>" + badge(m.result) + "</td><td>" + html_escape(m.label) + "</td><td>" + html_escape(m.detail) +
                 "</td></tr>";
        if (t.matrix.empty()) o += "<tr><td colspan=\"3\" class=\"muted\">not attempted</td></tr>";
        o += "</tbody></table>";
        fixes(o, t.checks);
        o += "</section>";
    }
    o += "</main></body></html>\n";
    return o;
}

}  // namespace atsgate::probe
