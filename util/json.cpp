#include "util/json.hpp"

#include "util/hex.hpp"
#include "util/text.hpp"

namespace atsgate::util {


void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"': out += "\\\""; ++i; continue;
            case '\\': out += "\\\\"; ++i; continue;
            case '\b': out += "\\b"; ++i; continue;
            case '\f': out += "\\f"; ++i; continue;
            case '\n': out += "\\n"; ++i; continue;
            case '\r': out += "\\r"; ++i; continue;
            case '\t': out += "\\t"; ++i; continue;
            default: break;
        }
        if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            append_hex(out, c);
            ++i;
            continue;
        }
        const std::size_t n = utf8_length(s, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    out += '"';
}

std::string json_quote(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

void json_writer::separate() {
    if (!fresh_ && !out_.empty() && out_.back() != ':') out_ += ',';
    fresh_ = false;
}

json_writer& json_writer::key(std::string_view k) {
    separate();
    append_json_string(out_, k);
    out_ += ':';
    fresh_ = true;
    return *this;
}

json_writer& json_writer::raw(std::string_view json) {
    separate();
    out_ += json;
    fresh_ = false;
    return *this;
}

json_writer& json_writer::str(std::string_view v) {
    separate();
    append_json_string(out_, v);
    fresh_ = false;
    return *this;
}

json_writer& json_writer::num(std::int64_t v) { return raw(std::to_string(v)); }
json_writer& json_writer::boolean(bool v) { return raw(v ? "true" : "false"); }
json_writer& json_writer::null() { return raw("null"); }

json_writer& json_writer::open(char bracket) {
    separate();
    out_ += bracket;
    fresh_ = true;
    return *this;
}

json_writer& json_writer::close(char bracket) {
    out_ += bracket;
    fresh_ = false;
    return *this;
}

}  // namespace atsgate::util
