#pragma once
// The generic part of reading a TOML document: positions, diagnostics, typed readers for every
// value kind of config/schema.hpp, unknown keys with "did you mean". Private to config/ (it
// includes toml++); the section readers (config/read_*.cpp) build on it.
// Every reader reports its own problems and returns nullopt/nullptr on any of them; none stops
// the run.

#include "config/config.hpp"
#include "config/detail_values.hpp"
#include "config/diagnostic.hpp"
#include "config/schema.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atsgate::config {

// `s` in double quotes with TOML-style escapes; long values are cut at `max_shown` characters so
// a pasted certificate does not flood the log. File paths use quote_path(): a cut path names no file.
std::string quote(std::string_view s, std::size_t max_shown = 80);
std::string quote_path(std::string_view path);
// `s` in double quotes, as is (for names the schema spells).
std::string dq(std::string_view s);
// ASCII lower case.
std::string lower(std::string_view in);
// Control characters escaped so that one diagnostic stays one line (toml++'s error descriptions
// may quote raw input: "saw 'fals\n'").
std::string one_line(std::string_view text);

// A table being read and the key path that names it ("server", "listener[0]").
struct scope {
    const toml::table& table;
    std::string path;
    source_pos where;

    std::string key(std::string_view k) const {
        return path.empty() ? std::string(k) : path + "." + std::string(k);
    }
};

// Elements of an array of tables, with their index in the array.
using indexed_tables = std::vector<std::pair<std::size_t, const toml::table*>>;

// One document's reading context: where relative paths are anchored and the diagnostics found.
class reader {
public:
    // `path` names the document in diagnostics and anchors relative file paths (its directory).
    explicit reader(const std::string& path);

    const std::string& file() const { return path_; }

    source_pos pos(const toml::source_region& r) const { return source_pos{path_, r.begin.line, r.begin.column}; }
    source_pos file_pos() const { return source_pos{path_, 0, 0}; }

    void error(source_pos where, std::string key_path, std::string message, std::string_view hint = {});
    void warning(source_pos where, std::string key_path, std::string message, std::string_view hint = {});

    // Every diagnostic, in file order (position-less ones last, discovery order among equals).
    diagnostics take_sorted();

    // ---- Keys and tables ----------------------------------------------------------------------

    // Reports every key of `s` not in `known` ("unknown key", with "did you mean", or where the
    // key belongs). `own_header` is the table's header ("[server]"), "" for inline tables.
    void check_keys(const scope& s, std::span<const std::string_view> known, std::string_view own_header);

    // The key's node; "KEY is required" at the table when missing and `required`.
    const toml::node* get(const scope& s, std::string_view key, bool required);

    // Where each key present in `s` was written, for later layers' diagnostics.
    void record_positions(const scope& s, std::map<std::string, source_pos>& key_pos) const;

    // [name] must be a table.
    const toml::table* expect_table(const toml::node& n, std::string_view name);
    // [[name]] must be an array of tables: each element that is a table; every other shape is
    // reported. `wrong_shape` is set when the key is not an array at all.
    indexed_tables expect_tables(const toml::node* n, std::string_view name, bool& wrong_shape);
    // `key` inside a table as an array of tables (listener.certificate, listener.route,
    // upstream.members, route split): each element that is a table; `header` is how to write one.
    indexed_tables nested_tables(const scope& s, std::string_view key, std::string_view header);
    // `key = []` for a nested array of tables: an error naming what must be listed.
    void report_empty_array(const scope& s, std::string_view key, std::string_view what, std::string_view hint);

    // ---- Values -------------------------------------------------------------------------------

    void type_error(const scope& s, std::string_view key, const toml::node& n, std::string_view want,
                    std::string_view hint = {});
    std::optional<std::int64_t> read_integer(const scope& s, std::string_view key, std::int64_t min,
                                             std::int64_t max, bool required = false,
                                             std::string_view range_hint = {});
    std::optional<bool> read_bool(const scope& s, std::string_view key, bool required = false);
    const toml::value<std::string>* read_string(const scope& s, std::string_view key, bool required,
                                                std::string_view type_hint = {});
    // `example` is the member's default, shown in "such as".
    std::optional<duration> read_duration(const scope& s, std::string_view key, duration min, duration max,
                                          duration example, bool required = false);
    // Integer bytes or a size string. `zero_hint` explains 0 when 0 is allowed.
    std::optional<std::uint64_t> read_size(const scope& s, std::string_view key, std::uint64_t min,
                                           std::uint64_t max, std::uint64_t example,
                                           std::string_view zero_hint = {}, bool required = false);
    // One of `names`; returns its index. `strict_type`: a non-string is told the allowed strings
    // and the hint too.
    std::optional<std::size_t> read_enum(const scope& s, std::string_view key, std::span<const std::string_view> names,
                                         std::string_view hint = {}, bool strict_type = false,
                                         bool required = false);
    // A string that `check` (if any) accepts.
    std::optional<std::string> read_text(const scope& s, std::string_view key, schema::text_check check,
                                         bool required = false);
    // `p` resolved against the config file's directory (unchanged when absolute).
    std::string absolute(std::string_view p) const;
    // A file path: non-empty, resolved against the config file's directory, readable.
    std::optional<std::string> read_path(const scope& s, std::string_view key, bool required);
    // The files read_path() accepted so far (absolute): config::files, for server.watch.
    const std::vector<std::string>& files() const noexcept { return files_; }
    // A non-empty array of non-empty, distinct strings (meaning checked later, e.g. by tls/).
    std::optional<std::vector<positioned>> read_string_list(const scope& s, std::string_view key,
                                                            bool required = false);
    // A listener/upstream/route name, [A-Za-z0-9_.-]{1,64}.
    std::optional<std::string> read_name(const scope& s, bool required);
    // A whole small file (static responses, token files), at most `limit` bytes.
    std::optional<std::string> read_small_file(const scope& s, std::string_view key, const std::string& abs,
                                               std::size_t limit);

    // Reads every scalar key of `keys` that `s` holds and that applies to `on` (custom keys are
    // left to the caller) into `out`, in table order. Returns the keys that were written but
    // refused (already reported), for rules that depend on them.
    template <class S, std::size_t N>
    std::vector<std::string_view> read_keys(const scope& s, const schema::key<S> (&keys)[N], S& out,
                                            schema::applies on = schema::applies::any);

    // Reports each key of `keys` written in `s` that does not apply to `on` (TLS keys on a
    // plaintext listener and the other way round).
    template <class S, std::size_t N>
    void refuse_foreign_keys(const scope& s, const schema::key<S> (&keys)[N], schema::applies on);

private:
    void report(severity level, source_pos where, std::string key_path, std::string message, std::string_view hint);

    std::string path_;
    std::filesystem::path base_dir_;
    std::vector<std::string> files_;  // every path read_path() accepted, in order, without duplicates
    diagnostics diags_;
};

// ---- Templates ----------------------------------------------------------------------------------

inline bool applies_to(schema::applies key_on, schema::applies on) {
    return key_on == schema::applies::any || key_on == on || on == schema::applies::any;
}

template <class S, std::size_t N>
std::vector<std::string_view> reader::read_keys(const scope& s, const schema::key<S> (&keys)[N], S& out,
                                                schema::applies on) {
    using schema::value_kind;
    std::vector<std::string_view> refused;
    for (const auto& k : keys) {
        if (k.kind == value_kind::custom || !applies_to(k.opt.on, on)) continue;
        const bool required = k.opt.is_required;
        bool ok = false;
        switch (k.kind) {
            case value_kind::integer:
                if (const auto v = read_integer(s, k.name, k.min, k.max, required, k.opt.hint_text)) {
                    k.set_number(out, static_cast<std::uint64_t>(*v));
                    ok = true;
                }
                break;
            case value_kind::size:
                if (const auto v = read_size(s, k.name, static_cast<std::uint64_t>(k.min),
                                             static_cast<std::uint64_t>(k.max), k.default_number(), k.opt.hint_text,
                                             required)) {
                    k.set_number(out, *v);
                    ok = true;
                }
                break;
            case value_kind::duration:
                if (const auto v = read_duration(s, k.name, duration(k.min), duration(k.max),
                                                 duration(static_cast<std::int64_t>(k.default_number())), required)) {
                    k.set_number(out, static_cast<std::uint64_t>(v->count()));
                    ok = true;
                }
                break;
            case value_kind::boolean:
                if (const auto v = read_bool(s, k.name, required)) {
                    k.set_number(out, *v ? 1 : 0);
                    ok = true;
                }
                break;
            case value_kind::enumeration:
                if (const auto v = read_enum(s, k.name, k.names, k.opt.hint_text, k.opt.strict_type, required)) {
                    k.set_number(out, *v);
                    ok = true;
                }
                break;
            case value_kind::text:
                if (auto v = read_text(s, k.name, k.check, required)) {
                    k.set_text(out, std::move(*v));
                    ok = true;
                }
                break;
            case value_kind::path:
                if (auto v = read_path(s, k.name, required)) {
                    k.set_text(out, std::move(*v));
                    ok = true;
                }
                break;
            case value_kind::string_list:
                if (auto v = read_string_list(s, k.name, required)) {
                    k.set_list(out, std::move(*v));
                    ok = true;
                }
                break;
            case value_kind::custom: break;
        }
        if (!ok && s.table.contains(k.name)) refused.push_back(k.name);
    }
    return refused;
}

template <class S, std::size_t N>
void reader::refuse_foreign_keys(const scope& s, const schema::key<S> (&keys)[N], schema::applies on) {
    const bool https = on == schema::applies::https;
    for (const auto& k : keys) {
        if (applies_to(k.opt.on, on)) continue;
        if (const auto* n = s.table.get(k.name))
            error(pos(n->source()), s.key(k.name),
                  s.key(k.name) + " is not allowed on " + std::string(https ? "an https" : "a scep") + " listener",
                  https ? "scep_path and redirect apply to kind = \"scep\""
                        : "a scep listener is plaintext: it has no TLS settings");
    }
}

}  // namespace atsgate::config
