#include "config/reader.hpp"

#include "util/hex.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <sstream>
#include <system_error>

namespace atsgate::config {

using detail::parse_status;

std::string quote(std::string_view s, std::size_t max_shown) {
    std::string out = "\"";
    std::size_t shown = 0;
    for (char c : s) {
        if (shown++ == max_shown) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\u00";
            util::append_hex(out, u, util::hex_case::upper);
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string quote_path(std::string_view path) { return quote(path, std::string_view::npos); }

std::string dq(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string lower(std::string_view in) {
    std::string out(in);
    for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return out;
}

std::string one_line(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (static_cast<unsigned char>(c) < 0x20) out += '?';
        else out += c;
    }
    return out;
}

namespace {

// "a string", "an integer", ... for type mismatch messages.
std::string_view a_type(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::array: return n.is_array_of_tables() ? "an array of tables" : "an array";
        case toml::node_type::table: return "a table";
        case toml::node_type::none: break;
    }
    return "a value";
}

// The value as written for scalars ("10s" quoted, 10, true, 1.5), the type for arrays/tables.
std::string describe(const toml::node& n) {
    if (const auto* s = n.as_string()) return quote(s->get());
    if (n.is_array() || n.is_table()) return std::string(a_type(n));
    std::ostringstream os;
    n.visit([&os](const auto& v) {
        if constexpr (toml::is_value<decltype(v)>) os << v;
    });
    return os.str();
}

// A key as it would be written in a key path: bare when TOML allows it bare, quoted otherwise
// (so a quoted key holding a newline cannot break the one-line diagnostic format).
std::string key_text(std::string_view k) {
    const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-';
    });
    return bare ? std::string(k) : quote(k);
}

bool contains(std::span<const std::string_view> keys, std::string_view key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Reason the file at `path` cannot be read, or nullopt when one byte can be read from it (or it
// is empty). Uses std::error_code for the text: strerror() is not thread-safe.
std::optional<std::string> unreadable_reason(const std::string& path) {
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return std::error_code(errno, std::generic_category()).message();
    char byte = 0;
    std::optional<std::string> reason;
    errno = 0;
    if (std::fread(&byte, 1, 1, f) != 1 && std::ferror(f) != 0)  // e.g. a directory: EISDIR
        reason = std::error_code(errno, std::generic_category()).message();
    std::fclose(f);
    return reason;
}

// A default duration as the README writes defaults ("60s", "12h"): whole hours, else seconds
// (minutes are not used: "60s" reads better as a timeout than "1m"), else milliseconds.
std::string example_duration(duration d) {
    const auto ms = d.count();
    if (ms != 0 && ms % (60 * 60 * 1000) == 0) return std::to_string(ms / (60 * 60 * 1000)) + "h";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

}  // namespace

reader::reader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (path.empty()) {
        base_dir_ = std::filesystem::current_path(ec);
    } else {
        const auto abs = std::filesystem::absolute(path, ec);
        base_dir_ = (ec ? std::filesystem::path(path) : abs).parent_path();
    }
}

void reader::report(severity level, source_pos where, std::string key_path, std::string message,
                    std::string_view hint) {
    diags_.push_back(diagnostic{level, std::move(where), std::move(key_path), std::move(message), std::string(hint)});
}

void reader::error(source_pos where, std::string key_path, std::string message, std::string_view hint) {
    report(severity::error, std::move(where), std::move(key_path), std::move(message), hint);
}

void reader::warning(source_pos where, std::string key_path, std::string message, std::string_view hint) {
    report(severity::warning, std::move(where), std::move(key_path), std::move(message), hint);
}

diagnostics reader::take_sorted() {
    // File order; problems with no position (the whole file) last. Stable: same position keeps
    // discovery order.
    std::stable_sort(diags_.begin(), diags_.end(), [](const diagnostic& a, const diagnostic& b) {
        auto key = [](const diagnostic& d) {
            constexpr auto last = std::numeric_limits<std::uint32_t>::max();
            return std::pair(d.where.line == 0 ? last : d.where.line, d.where.column);
        };
        return key(a) < key(b);
    });
    return std::move(diags_);
}

void reader::check_keys(const scope& s, std::span<const std::string_view> known, std::string_view own_header) {
    for (auto&& [k, v] : s.table) {
        const std::string_view name = k.str();
        if (contains(known, name)) continue;
        std::string hint;
        if (const auto m = detail::closest_match(name, known)) {
            hint = "did you mean " + dq(*m) + "?";
        } else if (!own_header.empty() && contains(schema::top_keys, name)) {
            // `listener = [...]` written below [server] lands inside [server].
            hint = std::string(name) + " is a top-level key; move it above the first table header";
        } else {
            for (const auto& sec : schema::sections) {
                if (sec.header == own_header || !contains(sec.keys, name)) continue;
                hint += hint.empty() ? "it belongs in " : " or ";
                hint += sec.header;
            }
        }
        const std::string path = s.key(key_text(name));
        error(pos(k.source()), path, path + ": unknown key", hint);
    }
}

const toml::node* reader::get(const scope& s, std::string_view key, bool required) {
    const toml::node* n = s.table.get(key);
    if (n == nullptr && required) error(s.where, s.key(key), s.key(key) + " is required");
    return n;
}

void reader::record_positions(const scope& s, std::map<std::string, source_pos>& key_pos) const {
    for (auto&& [k, v] : s.table) key_pos.emplace(std::string(k.str()), pos(v.source()));
}

const toml::table* reader::expect_table(const toml::node& n, std::string_view name) {
    if (const auto* t = n.as_table()) return t;
    const std::string key(name);
    if (n.is_array_of_tables())
        error(pos(n.source()), key, key + " is an array of tables, must be a table",
              "write [" + key + "], not [[" + key + "]]");
    else
        error(pos(n.source()), key, key + " is " + std::string(a_type(n)) + ", must be a table");
    return nullptr;
}

indexed_tables reader::expect_tables(const toml::node* n, std::string_view name, bool& wrong_shape) {
    indexed_tables out;
    wrong_shape = false;
    if (n == nullptr) return out;
    const std::string key(name);
    const auto* arr = n->as_array();
    if (arr == nullptr) {
        wrong_shape = true;
        const std::string hint = n->is_table() ? "write [[" + key + "]] for each " + key + ", not [" + key + "]"
                                               : "write [[" + key + "]] for each " + key;
        error(pos(n->source()), key, key + " is " + std::string(a_type(*n)) + ", must be an array of tables", hint);
        return out;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = *arr->get(i);
        if (const auto* t = e.as_table()) {
            out.emplace_back(i, t);
        } else {
            const std::string path = key + "[" + std::to_string(i) + "]";
            error(pos(e.source()), path, path + " is " + std::string(a_type(e)) + ", must be a table");
        }
    }
    return out;
}

indexed_tables reader::nested_tables(const scope& s, std::string_view key, std::string_view header) {
    indexed_tables out;
    const toml::node* n = s.table.get(key);
    if (n == nullptr) return out;
    const auto* arr = n->as_array();
    if (arr == nullptr) {
        error(pos(n->source()), s.key(key), s.key(key) + " is " + std::string(a_type(*n)) + ", must be an array of tables",
              "write " + std::string(header) + " for each entry");
        return out;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = *arr->get(i);
        const std::string path = s.key(key) + "[" + std::to_string(i) + "]";
        if (const auto* t = e.as_table())
            out.emplace_back(i, t);
        else
            error(pos(e.source()), path, path + " is " + std::string(a_type(e)) + ", must be a table");
    }
    return out;
}

void reader::report_empty_array(const scope& s, std::string_view key, std::string_view what, std::string_view hint) {
    const toml::node* n = s.table.get(key);
    if (n == nullptr || !n->is_array() || !n->as_array()->empty()) return;
    error(pos(n->source()), s.key(key), s.key(key) + " is empty, must list at least one " + std::string(what), hint);
}

void reader::type_error(const scope& s, std::string_view key, const toml::node& n, std::string_view want,
                        std::string_view hint) {
    error(pos(n.source()), s.key(key), s.key(key) + " is " + std::string(a_type(n)) + ", must be " + std::string(want),
          hint);
}

std::optional<std::int64_t> reader::read_integer(const scope& s, std::string_view key, std::int64_t min,
                                                 std::int64_t max, bool required, std::string_view range_hint) {
    const toml::node* n = get(s, key, required);
    if (n == nullptr) return std::nullopt;
    const auto* v = n->as_integer();
    if (v == nullptr) {
        type_error(s, key, *n, "an integer");
        return std::nullopt;
    }
    const std::int64_t x = v->get();
    if (x < min || x > max) {
        error(pos(n->source()), s.key(key),
              s.key(key) + " is " + std::to_string(x) + ", must be between " + std::to_string(min) + " and " +
                  std::to_string(max),
              range_hint);
        return std::nullopt;
    }
    return x;
}

std::optional<bool> reader::read_bool(const scope& s, std::string_view key, bool required) {
    const toml::node* n = get(s, key, required);
    if (n == nullptr) return std::nullopt;
    if (const auto* v = n->as_boolean()) return v->get();
    type_error(s, key, *n, "a boolean");
    return std::nullopt;
}

const toml::value<std::string>* reader::read_string(const scope& s, std::string_view key, bool required,
                                                    std::string_view type_hint) {
    const toml::node* n = get(s, key, required);
    if (n == nullptr) return nullptr;
    if (const auto* v = n->as_string()) return v;
    type_error(s, key, *n, "a string", type_hint);
    return nullptr;
}

std::optional<duration> reader::read_duration(const scope& s, std::string_view key, duration min, duration max,
                                              duration example, bool required) {
    const toml::node* n = get(s, key, required);
    if (n == nullptr) return std::nullopt;
    const std::string shape = "must be a duration string such as " + dq(example_duration(example));
    const auto* v = n->as_string();
    if (v == nullptr) {
        error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", " + shape);
        return std::nullopt;
    }
    const auto d = detail::parse_duration(v->get());
    if (d.status == parse_status::bad_shape) {
        error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", " + shape, "units: ms, s, m, h");
        return std::nullopt;
    }
    if (!d.ok() || d.value < min || d.value > max) {
        const std::string range = min == duration::zero() ? "must be at most " + detail::format_duration(max)
                                                          : "must be between " + detail::format_duration(min) +
                                                                " and " + detail::format_duration(max);
        error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", " + range);
        return std::nullopt;
    }
    return d.value;
}

std::optional<std::uint64_t> reader::read_size(const scope& s, std::string_view key, std::uint64_t min,
                                               std::uint64_t max, std::uint64_t example, std::string_view zero_hint,
                                               bool required) {
    const toml::node* n = get(s, key, required);
    if (n == nullptr) return std::nullopt;
    detail::parsed<std::uint64_t> size;
    if (const auto* i = n->as_integer()) {
        if (i->get() >= 0) size = {parse_status::ok, static_cast<std::uint64_t>(i->get())};
        else size.status = parse_status::overflow;  // negative: out of range below
    } else if (const auto* str = n->as_string()) {
        size = detail::parse_size(str->get());
        if (size.status == parse_status::bad_shape) {
            error(pos(n->source()), s.key(key),
                  s.key(key) + " is " + describe(*n) + ", must be a byte count or a size such as " +
                      dq(detail::format_size(example)),
                  "use a k, M or G suffix, or KiB, MiB, GiB; all are binary multiples");
            return std::nullopt;
        }
    } else {
        error(pos(n->source()), s.key(key),
              s.key(key) + " is " + describe(*n) + ", must be an integer or a size string such as " +
                  dq(detail::format_size(example)));
        return std::nullopt;
    }
    if (!size.ok() || size.value < min || size.value > max) {
        const std::string range = min == 0 ? "must be at most " + detail::format_size(max)
                                           : "must be between " + detail::format_size(min) + " and " +
                                                 detail::format_size(max);
        error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", " + range, zero_hint);
        return std::nullopt;
    }
    return size.value;
}

std::optional<std::size_t> reader::read_enum(const scope& s, std::string_view key,
                                             std::span<const std::string_view> names, std::string_view hint,
                                             bool strict_type, bool required) {
    // Up to four names read as a sentence ("a", "b" or "c"); longer lists as "one of a, b, ...".
    const bool long_list = names.size() > 4;
    std::string allowed = long_list ? "one of " : "";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) allowed += long_list || i + 1 < names.size() ? ", " : " or ";
        allowed += dq(names[i]);
    }
    const toml::node* n = strict_type ? get(s, key, required) : nullptr;
    if (strict_type && n != nullptr && !n->is_string()) {
        error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", must be the string " + allowed, hint);
        return std::nullopt;
    }
    const auto* v = read_string(s, key, strict_type ? false : required);
    if (v == nullptr) return std::nullopt;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == v->get()) return i;
    error(pos(v->source()), s.key(key), s.key(key) + " is " + quote(v->get()) + ", must be " + allowed, hint);
    return std::nullopt;
}

std::optional<std::string> reader::read_text(const scope& s, std::string_view key, schema::text_check check,
                                             bool required) {
    const auto* v = read_string(s, key, required);
    if (v == nullptr) return std::nullopt;
    if (check != nullptr) {
        if (const auto refused = check(v->get())) {
            error(pos(v->source()), s.key(key), s.key(key) + " is " + quote(v->get()) + refused->tail, refused->hint);
            return std::nullopt;
        }
    }
    return v->get();
}

std::string reader::absolute(std::string_view text) const {
    std::filesystem::path p(text);
    if (p.is_relative()) p = base_dir_ / p;
    return p.lexically_normal().string();
}

std::optional<std::string> reader::read_path(const scope& s, std::string_view key, bool required) {
    const auto* v = read_string(s, key, required);
    if (v == nullptr) return std::nullopt;
    if (v->get().empty()) {
        error(pos(v->source()), s.key(key), s.key(key) + " is empty, must be a file path");
        return std::nullopt;
    }
    std::filesystem::path p(v->get());
    if (p.is_relative()) p = base_dir_ / p;
    std::string abs = p.lexically_normal().string();
    if (const auto reason = unreadable_reason(abs)) {
        error(pos(v->source()), s.key(key), s.key(key) + ": cannot read " + quote_path(abs) + ": " + *reason);
        return std::nullopt;
    }
    if (std::find(files_.begin(), files_.end(), abs) == files_.end()) files_.push_back(abs);
    return abs;
}

std::optional<std::vector<positioned>> reader::read_string_list(const scope& s, std::string_view key, bool required) {
    const toml::node* n = get(s, key, required);
    if (n == nullptr) return std::nullopt;
    const auto* arr = n->as_array();
    if (arr == nullptr) {
        std::string hint;
        if (const auto* str = n->as_string()) hint = "write " + std::string(key) + " = [" + quote(str->get()) + "]";
        type_error(s, key, *n, "an array of strings", hint);
        return std::nullopt;
    }
    if (arr->empty()) {
        error(pos(n->source()), s.key(key), s.key(key) + " is empty, must list at least one entry",
              "omit the key to use the default list");
        return std::nullopt;
    }
    std::vector<positioned> out;
    bool ok = true;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = *arr->get(i);
        const std::string index = std::string(key) + "[" + std::to_string(i) + "]";
        const auto* str = e.as_string();
        if (str == nullptr) {
            type_error(s, index, e, "a string");
            ok = false;
            continue;
        }
        if (str->get().empty()) {
            error(pos(e.source()), s.key(index), s.key(index) + " is empty, must be a non-empty string");
            ok = false;
            continue;
        }
        const auto first =
            std::find_if(out.begin(), out.end(), [&](const positioned& p) { return p.value == str->get(); });
        if (first != out.end()) {
            // out holds only valid entries so far; find the first index in the array instead.
            std::size_t j = 0;
            while (j < i && !(arr->get(j)->is_string() && arr->get(j)->as_string()->get() == str->get())) ++j;
            error(pos(e.source()), s.key(index),
                  s.key(index) + " " + quote(str->get()) + " is already listed as " + std::string(key) + "[" +
                      std::to_string(j) + "]");
            ok = false;
            continue;
        }
        out.push_back(positioned{str->get(), pos(e.source())});
    }
    if (!ok) return std::nullopt;
    return out;
}

std::optional<std::string> reader::read_name(const scope& s, bool required) {
    const auto* v = read_string(s, "name", required);
    if (v == nullptr) return std::nullopt;
    if (!detail::is_valid_name(v->get())) {
        error(pos(v->source()), s.key("name"), s.key("name") + " is " + quote(v->get()) + ", must match [A-Za-z0-9_.-]{1,64}");
        return std::nullopt;
    }
    return v->get();
}

std::optional<std::string> reader::read_small_file(const scope& s, std::string_view key, const std::string& abs,
                                                   std::size_t limit) {
    std::FILE* f = std::fopen(abs.c_str(), "rb");
    if (f == nullptr) {
        error(file_pos(), s.key(key), s.key(key) + ": cannot read " + quote_path(abs));
        return std::nullopt;
    }
    std::string out;
    char buf[4096];
    std::size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0 && out.size() <= limit) out.append(buf, got);
    std::fclose(f);
    if (out.size() > limit) {
        const auto* n = s.table.get(key);
        error(n != nullptr ? pos(n->source()) : s.where, s.key(key),
              s.key(key) + ": " + quote_path(abs) + " is larger than " + detail::format_size(limit));
        return std::nullopt;
    }
    return out;
}

}  // namespace atsgate::config
