#include "proxy/server/prometheus.hpp"

namespace atsgate::server::prometheus {

namespace {

void append_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, const std::string& value) {
    out += name;
    out += labels;
    out += ' ';
    out += value;
    out += '\n';
}

}  // namespace

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    std::string out = "{";
    for (const auto& [key, value] : pairs) {
        if (out.size() > 1) out += ',';
        out += key;
        out += "=\"";
        append_label_value(out, value);
        out += '"';
    }
    out += '}';
    return out;
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
    append_sample(out, name, labels, std::to_string(value));
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::int64_t value) {
    append_sample(out, name, labels, std::to_string(value));
}

}  // namespace atsgate::server::prometheus
