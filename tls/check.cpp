#include "tls/check.hpp"

namespace atsgate::tls {

namespace {

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

constexpr std::size_t status_width = 8;  // "UNKNOWN" + 1

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

bool needs_action(status s) noexcept { return s == status::warn || s == status::fail || s == status::unknown; }

std::string padded(std::string_view s, std::size_t width) {
    std::string out(s);
    if (out.size() < width) out.append(width - out.size(), ' ');
    return out;
}

std::string status_word(status s, std::size_t width, bool colour) {
    const std::string_view w = to_string(s);
    std::string out = colour ? std::string(colour_of(s)) + std::string(w) + "\033[0m" : std::string(w);
    if (w.size() < width) out.append(width - w.size(), ' ');
    return out;
}

std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char ch : s) out += (ch < 0x20 || ch == 0x7F) ? '?' : static_cast<char>(ch);
    return out;
}

std::string subject_label(const std::string& subject) {
    std::size_t i = 0;
    while (i < subject.size()) {
        // Component [i, j) ends at an unescaped ',' or '+'.
        std::size_t j = i;
        std::string value;
        const bool is_cn = subject.compare(i, 3, "CN=") == 0;
        if (is_cn) j += 3;
        for (; j < subject.size(); ++j) {
            const char ch = subject[j];
            if (ch == '\\' && j + 1 < subject.size()) {
                if (is_cn) value += subject[j + 1];
                ++j;
                continue;
            }
            if (ch == ',' || ch == '+') break;
            if (is_cn) value += ch;
        }
        if (is_cn) return value;
        i = j + 1;
    }
    return subject;
}

void append_text(std::string& out, const check& c, const text_style& style) {
    std::string line = "  " + status_word(c.result, status_width, style.colour) + padded(printable(c.id), style.id_width + 2);
    if (!c.subject.empty()) line += "[" + printable(subject_label(c.subject)) + "] ";
    line += printable(c.evidence);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
    if (needs_action(c.result) && !c.remediation.empty())
        out += std::string(2 + status_width, ' ') + "-> " + printable(c.remediation) + '\n';
}

void append_json_members(util::json_writer& j, const check& c) {
    j.key("status").str(json_name(c.result));
    j.key("subject").str(c.subject);
    j.key("evidence").str(c.evidence);
    j.key("remediation").str(c.remediation);
}

}  // namespace atsgate::tls
