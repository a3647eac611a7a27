#pragma once
// JSON output (RFC 8259): string literals and a small writer for objects and arrays. Used for
// /status, `check --json` and `probe --json`; every string may come from a peer, so invalid UTF-8
// becomes U+FFFD and control characters are escaped.

#include <cstdint>
#include <string>
#include <string_view>

namespace atsgate::util {

// Appends `s` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

// Builds compact JSON left to right; commas are placed for the caller:
//   json_writer j; j.open('{').key("ok").boolean(true).key("n").num(2).close('}'); j.take()
//   == R"({"ok":true,"n":2})"
// The caller keeps open/close balanced and writes a key before every value inside an object.
class json_writer {
public:
    json_writer& key(std::string_view k);
    json_writer& str(std::string_view v);
    json_writer& num(std::int64_t v);
    json_writer& boolean(bool v);
    json_writer& null();
    json_writer& open(char bracket);   // '{' or '['
    json_writer& close(char bracket);  // '}' or ']'
    // A value already rendered as JSON (e.g. a nested document).
    json_writer& raw(std::string_view json);
    std::string take() { return std::move(out_); }

private:
    void separate();
    std::string out_;
    bool fresh_ = true;  // nothing written yet at this level, or a key was just written
};

}  // namespace atsgate::util
