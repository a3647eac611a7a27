#include "proxy/probe/report.hpp"

#include "proxy/probe/judge.hpp"
#include "tls/audit.hpp"
#include "tls/policy.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <algorithm>

namespace atsgate::probe {
namespace {

using tls::padded;
using tls::printable;

constexpr status all_statuses[] = {status::pass, status::info, status::warn, status::fail, status::unknown, status::exempt};

bool has_fail(const std::vector<check>& checks) {
    return std::any_of(checks.begin(), checks.end(), [](const check& c) { return c.result == status::fail; });
}

std::size_t id_width() {
    std::size_t w = 0;
    for (const auto& c : probe_checks) w = std::max(w, c.id.size());
    for (const auto& r : tls::rules) w = std::max(w, r.code.size());
    return w;
}

void render_checks(std::string& out, const std::vector<check>& checks, bool colour) {
    const tls::text_style style{id_width(), colour};
    for (const auto& c : checks) tls::append_text(out, c, style);
}

std::string word(status s, std::size_t width, bool colour) { return tls::status_word(s, width, colour); }

// "(12 pass, 1 warn)": the non-zero counts.
std::string counts(const std::vector<check>& checks) {
    std::vector<std::string> parts;
    for (status s : all_statuses) {
        auto n = std::count_if(checks.begin(), checks.end(), [s](const check& c) { return c.result == s; });
        if (n > 0) parts.push_back(std::to_string(n) + " " + std::string(json_name(s)));
    }
    return "(" + util::join(parts) + ")";
}

void json_checks(util::json_writer& j, const std::vector<check>& checks) {
    j.key("checks").open('[');
    for (const auto& c : checks) {
        j.open('{').key("id").str(c.id);
        tls::append_json_members(j, c);
        j.close('}');
    }
    j.close(']');
}

}  // namespace

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
        out += "profile \"" + printable(p.path) + "\" (" + (p.signed_cms ? "signed " : "") + p.format + ")\n";
        render_checks(out, p.checks, colour);
        out += "  => " + word(p.failed() ? status::fail : status::pass, 0, colour) + " " + counts(p.checks) + '\n';
    }
    for (const auto& t : r.targets) {
        if (!out.empty()) out += '\n';
        out += "target \"" + printable(t.target) + "\"";
        if (!t.address.empty()) out += " " + printable(t.address);
        if (!t.sni.empty()) out += " sni " + printable(t.sni);
        if (!t.source.empty() && t.source != "command line") out += " (from " + printable(t.source) + ")";
        out += '\n';
        render_checks(out, t.checks, colour);
        out += "  ATS matrix (as nscurl --ats-diagnostics):\n";
        std::size_t label_width = 0;
        for (const auto& m : t.matrix) label_width = std::max(label_width, m.label.size());
        for (const auto& m : t.matrix) {
            std::string line = "    " + word(m.result, 8, colour) + padded(m.label, label_width + 2) + printable(m.detail);
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
    util::json_writer j;
    j.open('{').key("version").num(1).key("summary").open('{');
    j.key("targets").num(static_cast<std::int64_t>(r.targets.size()));
    j.key("targets_passed").num(static_cast<std::int64_t>(r.targets.size()) - failed_targets);
    j.key("targets_failed").num(failed_targets);
    j.key("profiles").num(static_cast<std::int64_t>(r.profiles.size()));
    j.key("profiles_failed").num(failed_profiles);
    for (status s : all_statuses) j.key(json_name(s)).num(static_cast<std::int64_t>(r.count(s)));
    j.close('}').key("profiles").open('[');
    for (const auto& p : r.profiles) {
        j.open('{').key("path").str(p.path).key("format").str(p.format).key("signed").boolean(p.signed_cms);
        j.key("result").str(p.failed() ? "fail" : "pass");
        json_checks(j, p.checks);
        j.close('}');
    }
    j.close(']').key("targets").open('[');
    for (const auto& t : r.targets) {
        j.open('{').key("target").str(t.target).key("address").str(t.address).key("sni").str(t.sni);
        j.key("source").str(t.source).key("result").str(t.failed() ? "fail" : "pass");
        json_checks(j, t.checks);
        j.key("matrix").open('[');
        for (const auto& m : t.matrix) {
            j.open('{').key("id").str(m.id).key("label").str(m.label).key("result").str(json_name(m.result));
            j.key("detail").str(m.detail).close('}');
        }
        j.close(']').close('}');
    }
    j.close(']').close('}');
    return j.take() + "\n";
}

}  // namespace atsgate::probe
