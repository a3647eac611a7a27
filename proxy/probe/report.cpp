#include "proxy/probe/report.hpp"

#include "proxy/probe/judge.hpp"
#include "tls/audit.hpp"
#include "tls/policy.hpp"
#include "util/json.hpp"

#include <algorithm>

namespace atsgate::probe {
namespace {

constexpr status all_statuses[] = {status::pass, status::info, status::warn, status::fail, status::unknown, status::exempt};

bool has_fail(const std::vector<check>& checks) {
    return std::any_of(checks.begin(), checks.end(), [](const check& c) { return c.result == status::fail; });
}

std::string_view colour_of(status s) {
    switch (s) {
        case status::pass: return "\033[32m";
        case status::info: return "\033[36m";
        case status::warn: return "\033[33m";
        case status::fail: return "\033[1;31m";
        case status::unknown: return "\033[35m";
        case status::exempt: return "\033[34m";
    }
    return "";
}

std::string padded(std::string_view s, std::size_t width) {
    std::string out(s);
    if (out.size() < width) out.append(width - out.size(), ' ');
    return out;
}

// The status word padded to `width`, coloured when asked (padding stays outside the colour).
std::string word(status s, std::size_t width, bool colour) {
    std::string_view w = to_string(s);
    std::string out = colour ? std::string(colour_of(s)) + std::string(w) + "\033[0m" : std::string(w);
    if (w.size() < width) out.append(width - w.size(), ' ');
    return out;
}

std::size_t id_width() {
    std::size_t w = 0;
    for (const auto& c : probe_checks) w = std::max(w, c.id.size());
    for (const auto& r : tls::rules) w = std::max(w, r.code.size());
    return w;
}

void render_checks(std::string& out, const std::vector<check>& checks, bool colour) {
    constexpr std::size_t status_width = 8;  // "UNKNOWN" + 1
    const std::size_t code_width = id_width() + 2;
    for (const auto& c : checks) {
        std::string line = "  " + word(c.result, status_width, colour) + padded(tls::printable(c.id), code_width);
        if (!c.subject.empty()) line.append("[").append(tls::printable(tls::subject_label(c.subject))).append("] ");
        line += tls::printable(c.evidence);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + '\n';
        if (!c.remediation.empty() && (c.result == status::warn || c.result == status::fail || c.result == status::unknown))
            out += std::string(2 + status_width, ' ') + "-> " + tls::printable(c.remediation) + '\n';
    }
}

// "(12 pass, 1 warn)": the non-zero counts.
std::string counts(const std::vector<check>& checks) {
    std::vector<std::string> parts;
    for (status s : all_statuses) {
        auto n = std::count_if(checks.begin(), checks.end(), [s](const check& c) { return c.result == s; });
        if (n > 0) parts.push_back(std::to_string(n) + " " + std::string(json_name(s)));
    }
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return "(" + out + ")";
}

void field(std::string& out, std::string_view name, std::string_view value, bool comma = true) {
    if (comma) out += ',';
    out += util::json_quote(name);
    out += ':';
    out += util::json_quote(value);
}

void json_checks(std::string& out, const std::vector<check>& checks) {
    out += "\"checks\":[";
    bool first = true;
    for (const auto& c : checks) {
        if (!first) out += ',';
        first = false;
        out += '{';
        field(out, "id", c.id, false);
        field(out, "status", json_name(c.result));
        field(out, "subject", c.subject);
        field(out, "evidence", c.evidence);
        field(out, "remediation", c.remediation);
        out += '}';
    }
    out += ']';
}

}  // namespace

std::string_view to_string(status s) noexcept {
    switch (s) {
        case status::pass: return "PASS";
        case status::info: return "INFO";
        case status::warn: return "WARN";
        case status::fail: return "FAIL";
        case status::unknown: return "UNKNOWN";
        case status::exempt: return "EXEMPT";
    }
    return "UNKNOWN";
}

std::string_view json_name(status s) noexcept {
    switch (s) {
        case status::pass: return "pass";
        case status::info: return "info";
        case status::warn: return "warn";
        case status::fail: return "fail";
        case status::unknown: return "unknown";
        case status::exempt: return "exempt";
    }
    return "unknown";
}

bool target_report::failed() const noexcept { return has_fail(checks); }
bool profile_report::failed() const noexcept { return has_fail(checks); }

bool report::failed() const noexcept {
    return std::any_of(profiles.begin(), profiles.end(), [](const auto& p) { return p.failed(); }) ||
           std::any_of(targets.begin(), targets.end(), [](const auto& t) { return t.failed(); });
}

std::size_t report::count(status s) const noexcept {
    std::size_t n = 0;
    auto add = [&](const std::vector<check>& cs) {
        n += static_cast<std::size_t>(std::count_if(cs.begin(), cs.end(), [s](const check& c) { return c.result == s; }));
    };
    for (const auto& p : profiles) add(p.checks);
    for (const auto& t : targets) add(t.checks);
    return n;
}

std::string render_text(const report& r, bool colour) {
    std::string out;
    for (const auto& p : r.profiles) {
        if (!out.empty()) out += '\n';
        out += "profile \"" + tls::printable(p.path) + "\" (" + (p.signed_cms ? "signed " : "") + p.format + ")\n";
        render_checks(out, p.checks, colour);
        out += "  => " + word(p.failed() ? status::fail : status::pass, 0, colour) + " " + counts(p.checks) + '\n';
    }
    for (const auto& t : r.targets) {
        if (!out.empty()) out += '\n';
        out += "target \"" + tls::printable(t.target) + "\"";
        if (!t.address.empty()) out += " " + tls::printable(t.address);
        if (!t.sni.empty()) out += " sni " + tls::printable(t.sni);
        if (!t.source.empty() && t.source != "command line") out += " (from " + tls::printable(t.source) + ")";
        out += '\n';
        render_checks(out, t.checks, colour);
        out += "  ATS matrix (as nscurl --ats-diagnostics):\n";
        std::size_t label_width = 0;
        for (const auto& m : t.matrix) label_width = std::max(label_width, m.label.size());
        for (const auto& m : t.matrix) {
            std::string line = "    " + word(m.result, 8, colour) + padded(m.label, label_width + 2) + tls::printable(m.detail);
            while (!line.empty() && line.back() == ' ') line.pop_back();
            out += line + '\n';
        }
        out += "  => " + word(t.failed() ? status::fail : status::pass, 0, colour) + " " + counts(t.checks) + '\n';
    }
    const auto failed_targets =
        std::count_if(r.targets.begin(), r.targets.end(), [](const auto& t) { return t.failed(); });
    const auto failed_profiles =
        std::count_if(r.profiles.begin(), r.profiles.end(), [](const auto& p) { return p.failed(); });
    if (!out.empty()) out += '\n';
    out += "summary: " + std::to_string(r.targets.size()) + " target(s): " +
           std::to_string(r.targets.size() - static_cast<std::size_t>(failed_targets)) + " passed, " +
           std::to_string(failed_targets) + " failed";
    if (!r.profiles.empty())
        out += "; " + std::to_string(r.profiles.size()) + " profile(s): " + std::to_string(failed_profiles) + " failed";
    out += "; " + std::to_string(r.count(status::fail)) + " fail, " + std::to_string(r.count(status::warn)) + " warn";
    out += std::string(": ") + (r.failed() ? "NOT COMPLIANT" : "COMPLIANT") + '\n';
    return out;
}

std::string render_json(const report& r) {
    const auto failed_targets =
        std::count_if(r.targets.begin(), r.targets.end(), [](const auto& t) { return t.failed(); });
    const auto failed_profiles =
        std::count_if(r.profiles.begin(), r.profiles.end(), [](const auto& p) { return p.failed(); });
    std::string out = "{\"version\":1,\"summary\":{";
    out += "\"targets\":" + std::to_string(r.targets.size());
    out += ",\"targets_passed\":" + std::to_string(r.targets.size() - static_cast<std::size_t>(failed_targets));
    out += ",\"targets_failed\":" + std::to_string(failed_targets);
    out += ",\"profiles\":" + std::to_string(r.profiles.size());
    out += ",\"profiles_failed\":" + std::to_string(failed_profiles);
    for (status s : all_statuses) {
        out += ",";
        out += util::json_quote(json_name(s));
        out.append(":").append(std::to_string(r.count(s)));
    }
    out += "},\"profiles\":[";
    bool first = true;
    for (const auto& p : r.profiles) {
        if (!first) out += ',';
        first = false;
        out += '{';
        field(out, "path", p.path, false);
        field(out, "format", p.format);
        out += std::string(",\"signed\":") + (p.signed_cms ? "true" : "false");
        field(out, "result", p.failed() ? "fail" : "pass");
        out += ',';
        json_checks(out, p.checks);
        out += '}';
    }
    out += "],\"targets\":[";
    first = true;
    for (const auto& t : r.targets) {
        if (!first) out += ',';
        first = false;
        out += '{';
        field(out, "target", t.target, false);
        field(out, "address", t.address);
        field(out, "sni", t.sni);
        field(out, "source", t.source);
        field(out, "result", t.failed() ? "fail" : "pass");
        out += ',';
        json_checks(out, t.checks);
        out += ",\"matrix\":[";
        bool mfirst = true;
        for (const auto& m : t.matrix) {
            if (!mfirst) out += ',';
            mfirst = false;
            out += '{';
            field(out, "id", m.id, false);
            field(out, "label", m.label);
            field(out, "result", json_name(m.result));
            field(out, "detail", m.detail);
            out += '}';
        }
        out += "]}";
    }
    out += "]}\n";
    return out;
}

}  // namespace atsgate::probe
