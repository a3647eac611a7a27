#include "proxy/server/dashboard.hpp"

#include "tls/html.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdio>

namespace atsgate::server {

namespace {

using util::html_escape;
namespace html = tls::html;

// The refresh script. Constant text: dashboard_csp() allows exactly these bytes by hash. It only
// moves server-rendered (escaped) HTML from a same-origin fetch into the page; it never builds
// markup from strings.
constexpr std::string_view script = R"JS(
(function () {
  'use strict';
  var secs = parseInt(document.body.getAttribute('data-refresh'), 10) || 15;
  var note = document.getElementById('refresh');
  function say(t) { if (note) note.textContent = t; }
  function tick() {
    fetch(location.pathname + location.search, { credentials: 'same-origin', cache: 'no-store', redirect: 'error' })
      .then(function (r) {
        if (r.status === 401) throw new Error('session expired: reload the page to log in again');
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var next = doc.querySelector('main'), cur = document.querySelector('main');
        if (next && cur) cur.replaceWith(document.adoptNode(next));
        say('auto-refresh every ' + secs + ' s, last ' + new Date().toLocaleTimeString());
        setTimeout(tick, secs * 1000);
      })
      .catch(function (e) { say('refresh failed: ' + e.message); setTimeout(tick, secs * 1000); });
  }
  say('auto-refresh every ' + secs + ' s');
  setTimeout(tick, secs * 1000);
})();
)JS";

std::string num(std::uint64_t n) { return std::to_string(n); }

// html_escape line by line, keeping the line breaks (for <pre>).
std::string html_escape_multiline(std::string_view s) {
    std::string out;
    while (!s.empty()) {
        const auto nl = s.find('\n');
        out += html_escape(s.substr(0, nl));
        if (nl == std::string_view::npos) break;
        out += '\n';
        s.remove_prefix(nl + 1);
    }
    return out;
}

std::string hhmm(std::int64_t t) {
    const std::string s = html::utc_time(t);  // "YYYY-MM-DD HH:MM:SS UTC"
    return s.substr(11, 5);
}

std::string duration_text(std::int64_t s) {
    if (s < 0) s = 0;
    const std::int64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
    if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h " + std::to_string(m) + "m";
    if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
    return std::to_string(m) + "m " + std::to_string(s % 60) + "s";
}

int severity(tls::status s) noexcept {
    switch (s) {
        case tls::status::pass: return 0;
        case tls::status::info: return 0;
        case tls::status::exempt: return 0;
        case tls::status::warn: return 1;
        case tls::status::unknown: return 2;
        case tls::status::fail: return 3;
    }
    return 2;
}

tls::status verdict_of(const std::vector<tls::finding>& fs) {
    tls::status worst = tls::status::pass;
    for (const auto& f : fs)
        if (severity(f.result) > severity(worst)) worst = f.result;
    return worst;
}

std::string head(std::string_view title) {
    std::string o;
    o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"referrer\" content=\"no-referrer\"><title>";
    o += html_escape(title);
    o += "</title><style>";
    o += html::stylesheet();
    o += "</style></head>";
    return o;
}

// ---- sections ----------------------------------------------------------------------------------

void banner(std::string& o, const dashboard_view& v) {
    std::vector<std::string> failing, warning, report;
    for (const auto& l : v.listeners) {
        const auto s = verdict_of(l.findings);
        if (s == tls::status::fail || s == tls::status::unknown) failing.push_back(l.name);
        else if (s == tls::status::warn) warning.push_back(l.name);
        if (l.enforcement == "report") report.push_back(l.name);
    }
    auto names = [](const std::vector<std::string>& ns) { return html_escape(util::join(ns)); };
    if (!failing.empty()) {
        o += "<div class=\"banner fail\" id=\"verdict\">Not compliant: " + names(failing) +
             " fail the ATS audit (this configuration would not be served; see below).</div>";
    } else if (!report.empty()) {
        o += "<div class=\"banner warn\" id=\"verdict\">Not compliant yet: " + names(report) +
             (report.size() == 1 ? " is" : " are") +
             " in report mode (enforcement = \"report\"): handshakes strict mode would refuse are served and "
             "listed below. Switch to \"strict\" with a reload when the list is clean or accepted.</div>";
    } else if (!warning.empty()) {
        o += "<div class=\"banner warn\" id=\"verdict\">Compliant, with warnings on " + names(warning) + ".</div>";
    } else {
        o += "<div class=\"banner pass\" id=\"verdict\">Compliant: " + num(v.listeners.size()) +
             (v.listeners.size() == 1 ? " listener passes" : " listeners pass") + " the ATS audit.</div>";
    }
}

void summary(std::string& o, const dashboard_view& v) {
    o += "<p class=\"muted\" id=\"summary\">atsgate " + html_escape(v.version) + " &middot; generation " +
         num(v.generation) + " &middot; up " + duration_text(v.now - v.started) + " &middot; " + num(v.workers) +
         " workers &middot; " + num(v.connections_active) + " connections open &middot; " + num(v.handshakes) +
         " handshakes and " + num(v.requests) + " requests since start" + (v.draining ? " &middot; <b>draining</b>" : "") +
         " &middot; rendered " + html::utc_time(v.now) + "</p>";
}

// One bar chart: `series[i]` stacked values per minute, with colours `classes`.
void bar_chart(std::string& o, std::string_view id, std::string_view label, const dashboard_view& v,
               const std::vector<std::vector<std::uint64_t>>& stacks, const std::vector<std::string_view>& fills,
               const std::vector<std::string_view>& words) {
    constexpr int width = 720, height = 150, left = 48, right = 6, top = 8, bottom = 20;
    const double plot_w = width - left - right, plot_h = height - top - bottom;
    const std::size_t n = stacks.size();
    std::uint64_t max = 0;
    for (const auto& s : stacks) {
        std::uint64_t t = 0;
        for (auto x : s) t += x;
        max = std::max(max, t);
    }
    const std::uint64_t scale = std::max<std::uint64_t>(max, 1);
    char buf[256];
    o += "<svg id=\"" + html_escape(id) + "\" role=\"img\" aria-label=\"" + html_escape(label) +
         "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" xmlns=\"http://www.w3.org/2000/svg\"><title>" + html_escape(label) + "</title>";
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#dde2ea\"/>"
                  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#dde2ea\"/>",
                  left, top, width - right, top, left, height - bottom, width - right, height - bottom);
    o += buf;
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\" fill=\"#5b6474\">%llu</text>"
                  "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\" fill=\"#5b6474\">0</text>",
                  left - 4, top + 10, static_cast<unsigned long long>(max), left - 4, height - bottom);
    o += buf;
    const double slot = n ? plot_w / static_cast<double>(n) : plot_w;
    for (std::size_t i = 0; i < n; ++i) {
        double y = height - bottom;
        const double x = left + slot * static_cast<double>(i) + slot * 0.12;
        std::string tip = hhmm(v.minutes[i].minute) + " UTC:";
        for (std::size_t k = 0; k < stacks[i].size(); ++k) tip += " " + num(stacks[i][k]) + " " + std::string(words[k]);
        for (std::size_t k = 0; k < stacks[i].size(); ++k) {
            const std::uint64_t val = stacks[i][k];
            if (val == 0) continue;
            const double h = std::max(1.0, plot_h * static_cast<double>(val) / static_cast<double>(scale));
            y -= h;
            std::snprintf(buf, sizeof buf, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">",
                          x, y, slot * 0.76, h, std::string(fills[k]).c_str());
            o += buf;
            o += "<title>" + html_escape(tip) + "</title></rect>";
        }
    }
    for (std::size_t i : {std::size_t{0}, n / 2, n ? n - 1 : 0}) {
        if (i >= n) continue;
        std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"%s\" fill=\"#5b6474\">",
                      left + slot * (static_cast<double>(i) + 0.5), height - 5,
                      i == 0 ? "start" : i + 1 == n ? "end" : "middle");
        o += buf;
        o += hhmm(v.minutes[i].minute) + "</text>";
    }
    if (max == 0) {
        std::snprintf(buf, sizeof buf, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" fill=\"#5b6474\">",
                      left + static_cast<int>(plot_w / 2), top + static_cast<int>(plot_h / 2));
        o += buf;
        o += "none in the last hour</text>";
    }
    o += "</svg>";
}

void chart(std::string& o, const dashboard_view& v) {
    const std::size_t nr = v.refusal_reasons.size(), nw = v.would_refuse_reasons.size();
    std::vector<std::vector<std::uint64_t>> hs, bad;
    std::vector<std::uint64_t> by_reason(nr, 0), by_would(nw, 0);
    std::uint64_t hs_hour = 0;
    for (const auto& m : v.minutes) {
        auto at = [&](std::size_t i) { return i < m.values.size() ? m.values[i] : 0; };
        hs.push_back({at(0)});
        hs_hour += at(0);
        std::uint64_t r = 0, w = 0;
        for (std::size_t i = 0; i < nr; ++i) {
            r += at(1 + i);
            by_reason[i] += at(1 + i);
        }
        for (std::size_t i = 0; i < nw; ++i) {
            w += at(1 + nr + i);
            by_would[i] += at(1 + nr + i);
        }
        bad.push_back({r, w});
    }
    o += "<section class=\"chart\" id=\"handshakes\"><h2>Handshakes, last hour (per minute, UTC)</h2><div class=\"grid\"><div>";
    o += "<div class=\"legend\"><span><i class=\"sw hs\"></i>completed handshakes: " + num(hs_hour) + "</span></div>";
    bar_chart(o, "chart-handshakes", "completed handshakes per minute", v, hs, {"#2f81f7"}, {"handshakes"});
    std::uint64_t r_hour = 0, w_hour = 0;
    for (auto x : by_reason) r_hour += x;
    for (auto x : by_would) w_hour += x;
    o += "</div><div><div class=\"legend\"><span><i class=\"sw ref\"></i>refused: " + num(r_hour) +
         "</span><span><i class=\"sw wr\"></i>would refuse (report mode): " + num(w_hour) + "</span></div>";
    bar_chart(o, "chart-refusals", "refused and would-refuse handshakes per minute", v, bad, {"#cf222e", "#d4a72c"},
              {"refused", "would refuse"});
    o += "</div></div>";
    o += "<h3>By reason</h3><table id=\"reasons\"><thead><tr><th>reason</th><th class=\"num\">refused, last hour</th>"
         "<th class=\"num\">would refuse, last hour</th><th class=\"num\">refused since start</th>"
         "<th class=\"num\">would refuse since start</th><th>what it means</th></tr></thead><tbody>";
    // Every reason named anywhere, in the order refusals list them.
    std::vector<std::string> reasons = v.refusal_reasons;
    for (const auto& r : v.would_refuse_reasons)
        if (std::find(reasons.begin(), reasons.end(), r) == reasons.end()) reasons.push_back(r);
    auto total_of = [](const std::vector<std::pair<std::string, std::uint64_t>>& t, const std::string& r) {
        for (const auto& [k, n] : t)
            if (k == r) return n;
        return std::uint64_t{0};
    };
    auto hour_of = [](const std::vector<std::string>& names, const std::vector<std::uint64_t>& counts, const std::string& r) {
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == r) return counts[i];
        return std::uint64_t{0};
    };
    bool any = false;
    for (const auto& r : reasons) {
        const auto rh = hour_of(v.refusal_reasons, by_reason, r), wh = hour_of(v.would_refuse_reasons, by_would, r);
        const auto rt = total_of(v.refused_total, r), wt = total_of(v.would_refuse_total, r);
        if (rh + wh + rt + wt == 0) continue;
        any = true;
        o += "<tr><td><code>" + html_escape(r) + "</code></td><td class=\"num\">" + num(rh) + "</td><td class=\"num\">" +
             num(wh) + "</td><td class=\"num\">" + num(rt) + "</td><td class=\"num\">" + num(wt) + "</td><td>" +
             html_escape(explain_reason(r)) + "</td></tr>";
    }
    if (!any) o += "<tr><td colspan=\"6\" class=\"muted\">No handshake refused since start.</td></tr>";
    o += "</tbody></table></section>";
}

void recent(std::string& o, const dashboard_view& v) {
    o += "<section id=\"recent\"><h2>Recent refused and would-refuse handshakes</h2>";
    if (v.recent.empty()) {
        o += "<p class=\"muted\">None since start.</p></section>";
        return;
    }
    o += "<table><thead><tr><th>time</th><th>listener</th><th>client</th><th>SNI</th><th>max version</th>"
         "<th class=\"num\">suites</th><th>EMS</th><th>groups</th><th>outcome</th><th>reason</th></tr></thead><tbody>";
    for (const auto& c : v.recent) {
        o += "<tr class=\"refusal\"><td>" + html::utc_time(c.at) + "</td><td>" + html_escape(c.listener) +
             "</td><td><code>" + html_escape(c.client) + "</code></td><td><code>" +
             (c.sni.empty() ? std::string("<span class=\"muted\">(none)</span>") : html_escape(c.sni)) + "</code></td><td>" +
             html_escape(c.max_version) + "</td><td class=\"num\">" + num(c.suites) + "</td><td>" +
             (c.ems ? "yes" : "no") + "</td><td><code>" + html_escape(c.groups) + "</code></td><td>" +
             (c.would_refuse ? html::badge("warn", "would refuse") : html::badge("fail", "refused")) +
             "</td><td><code>" + html_escape(c.reason) + "</code><br><span class=\"remedy\">" +
             html_escape(explain_reason(c.reason)) + "</span></td></tr>";
    }
    o += "</tbody></table></section>";
}

void listeners(std::string& o, const dashboard_view& v) {
    o += "<section id=\"listeners\"><h2>Listeners and their audit</h2>";
    for (const auto& l : v.listeners) {
        const auto verdict = verdict_of(l.findings);
        o += "<div class=\"listener\" data-listener=\"" + html_escape(l.name) + "\"><h3>" + html::badge(verdict) + " " +
             html_escape(l.name) + " <span class=\"muted\">" + html_escape(l.kind) + " " + html_escape(l.address);
        if (!l.enforcement.empty()) o += " &middot; enforcement " + html_escape(l.enforcement);
        o += "</span></h3>";
        o += "<table><thead><tr><th>status</th><th>rule</th><th>certificate</th><th>evidence</th></tr></thead><tbody>";
        for (const auto& f : l.findings) {
            o += "<tr><td>" + html::badge(f.result) + "</td><td><code>" + html_escape(f.id) + "</code></td><td>" +
                 html_escape(tls::subject_label(f.subject)) + "</td><td>" + html_escape(f.evidence);
            if (f.result != tls::status::pass && !f.remediation.empty())
                o += "<br><span class=\"remedy\">&rarr; " + html_escape(f.remediation) + "</span>";
            o += "</td></tr>";
        }
        if (l.findings.empty()) o += "<tr><td colspan=\"4\" class=\"muted\">no findings</td></tr>";
        o += "</tbody></table></div>";
    }
    o += "</section>";
}

void certificates(std::string& o, const dashboard_view& v) {
    o += "<section id=\"certificates\"><h2>Certificates</h2><table><thead><tr><th>listener</th><th>subject</th>"
         "<th>names</th><th>key</th><th>expires</th><th class=\"num\">days left</th></tr></thead><tbody>";
    for (const auto& c : v.certificates) {
        const std::int64_t secs = c.not_after - v.now;
        const std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        const char* cls = days < 0 ? "expired" : days < 7 ? "urgent" : days < 30 ? "soon" : "ok";
        const std::string names = html_escape(util::join(c.names));
        o += std::string("<tr class=\"cert ") + cls + "\"><td>" + html_escape(c.listener) + "</td><td>" +
             html_escape(tls::subject_label(c.subject)) + "<br><span class=\"muted mono\">" + html_escape(c.subject) +
             "</span></td><td><code>" + names + "</code></td><td>" + html_escape(c.key) + "</td><td>" +
             html::utc_date(c.not_after) + "</td><td class=\"num\"><span class=\"days " + cls + "\">" +
             std::to_string(days) + "</span>" +
             (days < 0 ? " (expired)" : days < 7 ? " (renew now)" : days < 30 ? " (renew soon)" : "") + "</td></tr>";
    }
    if (v.certificates.empty()) o += "<tr><td colspan=\"6\" class=\"muted\">no TLS listeners</td></tr>";
    o += "</tbody></table></section>";
}

void acme(std::string& o, const dashboard_view& v) {
    if (v.acme.empty()) return;
    o += "<section id=\"acme\"><h2>ACME certificates</h2><table><thead><tr><th>certificate</th><th>names</th>"
         "<th>state</th><th>expires</th><th>next attempt</th><th>last error / audit refusal</th></tr></thead><tbody>";
    for (const auto& c : v.acme) {
        std::string names;
        for (const auto& n : c.names) names += (names.empty() ? "" : ", ") + html_escape(n);
        std::string state;
        if (c.state == "valid") state = html::badge("pass", "valid");
        else if (c.state == "failing") state = html::badge(c.overdue ? "fail" : "warn", c.overdue ? "renewal overdue" : "renewal failing");
        else state = html::badge("warn", "pending");
        if (c.failures > 0) state += " <span class=\"muted\">" + num(c.failures) + " failed in a row</span>";
        std::string detail = html_escape(c.last_error);
        if (!c.waiting_for.empty()) detail += (detail.empty() ? "" : "<br>") + html_escape(c.waiting_for);
        for (const auto& r : c.rejected) detail += (detail.empty() ? "" : "<br>") + html::badge("fail", "refused") + " " + html_escape(r);
        if (detail.empty()) detail = "<span class=\"muted\">none</span>";
        o += "<tr class=\"acme " + html_escape(c.state) + "\" data-acme=\"" + html_escape(c.id) + "\"><td><code>" +
             html_escape(c.id) + "</code></td><td><code>" + names + "</code></td><td>" + state + "</td><td>" +
             (c.not_after > 0 ? html::utc_date(c.not_after) : std::string("<span class=\"muted\">none served</span>")) +
             "</td><td>" + html::utc_time(c.next_attempt) + " <span class=\"muted\">(" + html_escape(c.reason) +
             ")</span></td><td>" + detail + "</td></tr>";
    }
    o += "</tbody></table></section>";
}

void routes(std::string& o, const dashboard_view& v) {
    o += "<section id=\"routes\"><h2>Routes</h2><table><thead><tr><th>listener</th><th>route</th><th>host</th>"
         "<th>path</th><th>targets (weight, share)</th></tr></thead><tbody>";
    for (const auto& r : v.routes) {
        std::uint64_t sum = 0;
        for (const auto& t : r.targets) sum += t.second;
        std::string targets;
        for (const auto& [u, w] : r.targets) {
            char share[32];
            std::snprintf(share, sizeof share, "%.0f%%", sum ? 100.0 * w / static_cast<double>(sum) : 0.0);
            targets += (targets.empty() ? "" : "<br>") + html_escape(u) + " &times; " + std::to_string(w) +
                       (r.targets.size() > 1 ? std::string(" (") + share + ")" : "");
        }
        if (r.static_status) targets += (targets.empty() ? "" : "<br>") + std::string("static ") + std::to_string(*r.static_status);
        o += "<tr><td>" + html_escape(r.listener) + "</td><td>" +
             (r.name.empty() ? std::string("<span class=\"muted\">(default)</span>") : html_escape(r.name)) +
             "</td><td><code>" + html_escape(r.host.empty() ? "*" : r.host) + "</code></td><td><code>" +
             html_escape(r.path.empty() ? "/" : r.path) + "</code></td><td>" + targets + "</td></tr>";
    }
    if (v.routes.empty()) o += "<tr><td colspan=\"5\" class=\"muted\">no routes</td></tr>";
    o += "</tbody></table></section>";
}

void members(std::string& o, const dashboard_view& v) {
    o += "<section id=\"pools\"><h2>Upstream pools</h2><table><thead><tr><th>upstream</th><th>member</th>"
         "<th class=\"num\">weight</th><th>health</th><th class=\"num\">passive failures</th>"
         "<th class=\"num\">ejections</th></tr></thead><tbody>";
    for (const auto& m : v.members) {
        std::string health;
        if (m.ejected) health = html::badge("fail", "ejected");
        else if (m.health_checks && !m.healthy) health = html::badge("fail", "down");
        else if (m.usable) health = html::badge("pass", m.health_checks ? "up" : "usable");
        else health = html::badge("warn", "unusable");
        if (!m.health_checks) health += " <span class=\"muted\">(no active checks)</span>";
        o += "<tr><td>" + html_escape(m.upstream) + "</td><td><code>" + html_escape(m.url) + "</code></td><td class=\"num\">" +
             std::to_string(m.weight) + "</td><td>" + health + "</td><td class=\"num\">" + num(m.passive_failures) +
             "</td><td class=\"num\">" + num(m.ejections) + "</td></tr>";
    }
    if (v.members.empty()) o += "<tr><td colspan=\"6\" class=\"muted\">no upstreams</td></tr>";
    o += "</tbody></table></section>";
}

void reloads(std::string& o, const dashboard_view& v) {
    o += "<section id=\"reloads\"><h2>Last reloads</h2>";
    if (v.reloads.empty()) {
        o += "<p class=\"muted\">No reload since start (generation " + num(v.generation) + ").</p></section>";
        return;
    }
    o += "<table><thead><tr><th>time</th><th>trigger</th><th>result</th><th class=\"num\">generation</th>"
         "<th>message</th></tr></thead><tbody>";
    for (const auto& r : v.reloads) {
        const auto nl = r.message.find('\n');
        const std::string first = r.message.substr(0, nl);
        o += "<tr><td>" + html::utc_time(r.at) + "</td><td>" + html_escape(r.trigger) + "</td><td>" +
             (r.ok ? html::badge("pass", "applied") : html::badge("fail", "refused")) + "</td><td class=\"num\">" +
             num(r.generation) + "</td><td>" + html_escape(first);
        if (nl != std::string::npos && nl + 1 < r.message.size())
            o += "<details><summary>details</summary><pre class=\"mono\">" + html_escape_multiline(r.message) + "</pre></details>";
        o += "</td></tr>";
    }
    o += "</tbody></table></section>";
}

}  // namespace

std::string_view explain_reason(std::string_view r) noexcept {
    if (r == "protocol_version")
        return "offered only TLS 1.1 or older: Apple devices offer TLS 1.2 and 1.3, so this is an old library, agent or "
               "script";
    if (r == "no_pfs_suite")
        return "offered no forward-secret (ECDHE) suite: Apple devices always do; typically a client pinned to RSA key "
               "exchange or CBC suites, or a scanner";
    if (r == "no_ems")
        return "offered no Extended Master Secret: Apple devices always do, so this is not an Apple device or an old OS";
    if (r == "no_shared_group")
        return "offered none of X25519, P-256 or P-384: Apple devices offer X25519 and P-256, so this is an unusual TLS "
               "stack";
    if (r == "no_shared_sigalg")
        return "offered no SHA-256-or-stronger signature for this certificate's key: Apple devices do; a very old TLS stack";
    if (r == "unknown_sni")
        return "asked for a name this listener has no certificate for (unknown_sni = \"refuse\"): a wrong URL, a DNS "
               "record pointing here, or a scanner";
    if (r == "no_application_protocol")
        return "offered ALPN without http/1.1 (only h2, say): a client that cannot speak HTTP/1.1 to this proxy";
    if (r == "no_client_certificate")
        return "sent no client certificate where client_auth = \"require\": not an enrolled device";
    if (r == "bad_client_certificate")
        return "sent a client certificate that does not chain to client_ca: not enrolled here, or the wrong CA";
    if (r == "certificate_pending")
        return "asked for a name whose ACME certificate is not issued (or not audited) yet: see acme on /status for "
               "the order's state";
    return "see the README, section 'What the proxy does'";
}

const std::string& dashboard_csp() {
    static const std::string csp = "default-src 'none'; style-src " + html::csp_hash(html::stylesheet()) +
                                   "; script-src " + html::csp_hash(script) +
                                   "; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
    return csp;
}

std::string render_dashboard(const dashboard_view& v) {
    std::string o = head("atsgate dashboard");
    o += "<body data-refresh=\"" + std::to_string(std::clamp(v.refresh_seconds, 2u, 3600u)) + "\"><header><h1>atsgate</h1>";
    o += "<span class=\"meta\">ATS compliance dashboard</span><span id=\"refresh\">"
         "<noscript>JavaScript is off: reload the page to refresh</noscript></span>";
    if (v.session)
        o += "<form class=\"inline\" method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>";
    o += "</header><main>";
    banner(o, v);
    summary(o, v);
    chart(o, v);
    recent(o, v);
    listeners(o, v);
    certificates(o, v);
    acme(o, v);
    routes(o, v);
    members(o, v);
    reloads(o, v);
    o += "</main><script>";
    o += script;
    o += "</script></body></html>\n";
    return o;
}

std::string render_login(std::string_view error) {
    std::string o = head("atsgate dashboard: log in");
    o += "<body><header><h1>atsgate</h1><span class=\"meta\">ATS compliance dashboard</span></header><main>"
         "<form class=\"login\" method=\"post\" action=\"/login\"><h2>Admin token</h2>";
    if (!error.empty()) o += "<p class=\"error\">" + html_escape(error) + "</p>";
    o += "<label for=\"token\">The [admin] token of this atsgate</label>"
         "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>"
         "<button type=\"submit\">Open the dashboard</button>"
         "<p class=\"muted\">The token is sent once in this form's body and exchanged for a session cookie "
         "(HttpOnly, SameSite=Strict, 12 hours) that only opens read-only pages. It never appears in a URL.</p>"
         "</form></main></body></html>\n";
    return o;
}

}  // namespace atsgate::server
