// TOML -> validated config. Reads the whole document with toml++, then walks the known sections,
// checking every key against its schema and collecting one diagnostic per problem. Nothing here
// stops at the first problem except a TOML syntax error (after which there is no tree to walk).

#include "config/loader.hpp"

#include "config/detail_values.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <sstream>
#include <system_error>
#include <utility>

namespace atsgate::config {

namespace {

using namespace std::chrono_literals;
using detail::parse_status;

// ---- Schema: the keys each table accepts, in documentation order (also the order in which
// "did you mean" breaks ties). --------------------------------------------------------------

constexpr std::string_view top_keys[] = {"server", "timeouts", "limits", "listener", "upstream", "admin"};
constexpr std::string_view server_keys[] = {"workers", "drain_timeout", "log_level", "access_log"};
constexpr std::string_view timeout_keys[] = {"handshake", "request_header", "keepalive", "body"};
constexpr std::string_view limit_keys[] = {"max_connections",       "header_bytes",
                                           "header_count",          "body_bytes",
                                           "response_header_bytes", "requests_per_connection"};
constexpr std::string_view listener_keys[] = {
    "name",        "address",  "port",        "cert",          "key",                "trust",
    "server_name", "upstream", "min_version", "tls12_ciphers", "tls13_ciphersuites", "groups"};
constexpr std::string_view upstream_keys[] = {"name",     "url",      "connect_timeout", "response_timeout",
                                              "keepalive", "keepalive_timeout"};
constexpr std::string_view admin_keys[] = {"address", "port"};

struct section_schema {
    std::string_view header;  // as written in the file: "[server]", "[[listener]]"
    std::span<const std::string_view> keys;
};

constexpr section_schema sections[] = {
    {"[server]", server_keys},         {"[timeouts]", timeout_keys}, {"[limits]", limit_keys},
    {"[[listener]]", listener_keys},   {"[[upstream]]", upstream_keys}, {"[admin]", admin_keys},
};

constexpr std::string_view log_level_names[] = {"trace", "debug", "info", "warn", "error", "off"};
constexpr log_level log_level_values[] = {log_level::trace, log_level::debug, log_level::info,
                                          log_level::warn,  log_level::error, log_level::off};

// ---- Ranges (documented next to each field in config.hpp). ----------------------------------

constexpr std::int64_t max_workers = 256;
constexpr std::int64_t max_connections_limit = 1'000'000;
constexpr std::uint64_t min_header_bytes = 1024;
constexpr std::uint64_t max_header_bytes = 1024 * 1024;
constexpr std::int64_t max_header_count = 1000;
constexpr std::uint64_t max_body_bytes = 1024ull << 30;  // 1024GiB; 0 = no limit
constexpr std::int64_t max_requests_per_connection = 1'000'000;
constexpr std::int64_t max_upstream_keepalive = 10'000;

constexpr duration min_handshake = 100ms;
constexpr duration max_handshake = 10min;
constexpr duration max_drain = 1h;
constexpr duration min_connect = 100ms;
constexpr duration max_connect = 10min;
constexpr duration min_general = 1s;   // request_header, keepalive, body, response_timeout,
constexpr duration max_general = 24h;  // keepalive_timeout

constexpr std::string_view admin_hint = "the admin endpoint is plain HTTP; keep it on loopback";
constexpr std::string_view ats_version_hint = "ATS: TLS 1.2+";

// ---- Rendering values in messages. ----------------------------------------------------------

// `s` in double quotes with TOML-style escapes; long values are cut so a pasted certificate does
// not flood the log.
std::string quote(std::string_view s) {
    constexpr std::size_t max_shown = 80;
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
            constexpr char hex[] = "0123456789ABCDEF";
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

// toml++'s error descriptions may quote raw input ("saw 'fals\n'"): escape control characters so
// one diagnostic stays one line.
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

std::string dq(std::string_view s) { return "\"" + std::string(s) + "\""; }

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

// An endpoint that will be bound: a listener or the admin endpoint.
struct endpoint {
    std::string owner;      // "listener[0]" or "admin"
    std::string key_path;   // where to point: "listener[0].port"
    source_pos where;
    std::string address;    // as written
    detail::ip_address ip;
    std::uint16_t port = 0;

    std::string text() const {
        return (ip.v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
    }
};

// One pass over one document. Not reusable: construct, run() once.
class loader {
public:
    explicit loader(const std::string& path) : path_(path) {
        std::error_code ec;
        if (path.empty()) {
            base_dir_ = std::filesystem::current_path(ec);
        } else {
            const auto abs = std::filesystem::absolute(path, ec);
            base_dir_ = (ec ? std::filesystem::path(path) : abs).parent_path();
        }
    }

    load_result run(std::string_view text) {
        toml::table root;
        try {
            root = toml::parse(text, std::string_view(path_));
        } catch (const toml::parse_error& e) {
            error(pos(e.source()), {}, "TOML syntax error: " + one_line(e.description()));
            return finish({});
        }
        config out;
        out.path = path_;
        read_root(root, out);
        return finish(std::move(out));
    }

private:
    // A table being read and the key path that names it ("server", "listener[0]").
    struct scope {
        const toml::table& table;
        std::string path;
        source_pos where;

        std::string key(std::string_view k) const {
            return path.empty() ? std::string(k) : path + "." + std::string(k);
        }
    };

    std::string path_;
    std::filesystem::path base_dir_;
    diagnostics diags_;

    // Raw [[upstream]] index -> its name when written as a string, for listener resolution.
    std::vector<std::optional<std::string>> upstream_names_;
    std::vector<bool> upstream_used_;
    bool upstream_reference_broken_ = false;  // some listener.upstream did not resolve
    std::vector<endpoint> endpoints_;

    // ---- Diagnostics ---------------------------------------------------------------------

    source_pos pos(const toml::source_region& r) const {
        return source_pos{path_, r.begin.line, r.begin.column};
    }
    source_pos file_pos() const { return source_pos{path_, 0, 0}; }

    void report(severity level, source_pos where, std::string key_path, std::string message,
                std::string_view hint) {
        diags_.push_back(diagnostic{level, std::move(where), std::move(key_path), std::move(message),
                                    std::string(hint)});
    }
    void error(source_pos where, std::string key_path, std::string message, std::string_view hint = {}) {
        report(severity::error, std::move(where), std::move(key_path), std::move(message), hint);
    }

    load_result finish(std::optional<config> value) {
        // File order; problems with no position (the whole file) last. Stable: same position keeps
        // discovery order.
        std::stable_sort(diags_.begin(), diags_.end(), [](const diagnostic& a, const diagnostic& b) {
            auto key = [](const diagnostic& d) {
                constexpr auto last = std::numeric_limits<std::uint32_t>::max();
                return std::pair(d.where.line == 0 ? last : d.where.line, d.where.column);
            };
            return key(a) < key(b);
        });
        load_result r;
        if (!has_errors(diags_)) r.value = std::move(value);
        r.diags = std::move(diags_);
        return r;
    }

    // ---- Generic key readers: each reports its own problems and returns nullopt/nullptr on any.

    void check_keys(const scope& s, std::span<const std::string_view> known,
                    std::string_view own_header) {
        for (auto&& [k, v] : s.table) {
            const std::string_view name = k.str();
            if (contains(known, name)) continue;
            std::string hint;
            if (const auto m = detail::closest_match(name, known)) {
                hint = "did you mean " + dq(*m) + "?";
            } else if (!own_header.empty() && contains(top_keys, name)) {
                // `listener = [...]` written below [server] lands inside [server].
                hint = std::string(name) + " is a top-level key; move it above the first table header";
            } else {
                for (const auto& sec : sections) {
                    if (sec.header == own_header || !contains(sec.keys, name)) continue;
                    hint += hint.empty() ? "it belongs in " : " or ";
                    hint += sec.header;
                }
            }
            const std::string path = s.key(key_text(name));
            error(pos(k.source()), path, path + ": unknown key", hint);
        }
    }

    const toml::node* get(const scope& s, std::string_view key, bool required) {
        const toml::node* n = s.table.get(key);
        if (n == nullptr && required) error(s.where, s.key(key), s.key(key) + " is required");
        return n;
    }

    void type_error(const scope& s, std::string_view key, const toml::node& n, std::string_view want,
                    std::string_view hint = {}) {
        error(pos(n.source()), s.key(key),
              s.key(key) + " is " + std::string(a_type(n)) + ", must be " + std::string(want), hint);
    }

    std::optional<std::int64_t> read_integer(const scope& s, std::string_view key, std::int64_t min,
                                             std::int64_t max, bool required = false,
                                             std::string_view range_hint = {}) {
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
                  s.key(key) + " is " + std::to_string(x) + ", must be between " + std::to_string(min) +
                      " and " + std::to_string(max),
                  range_hint);
            return std::nullopt;
        }
        return x;
    }

    std::optional<bool> read_bool(const scope& s, std::string_view key) {
        const toml::node* n = get(s, key, false);
        if (n == nullptr) return std::nullopt;
        if (const auto* v = n->as_boolean()) return v->get();
        type_error(s, key, *n, "a boolean");
        return std::nullopt;
    }

    const toml::value<std::string>* read_string(const scope& s, std::string_view key, bool required,
                                                std::string_view type_hint = {}) {
        const toml::node* n = get(s, key, required);
        if (n == nullptr) return nullptr;
        if (const auto* v = n->as_string()) return v;
        type_error(s, key, *n, "a string", type_hint);
        return nullptr;
    }

    // `example` is the documented default as written in config.hpp, shown in "such as".
    std::optional<duration> read_duration(const scope& s, std::string_view key, duration min,
                                          duration max, std::string_view example) {
        const toml::node* n = get(s, key, false);
        if (n == nullptr) return std::nullopt;
        const std::string shape = "must be a duration string such as " + dq(example);
        const auto* v = n->as_string();
        if (v == nullptr) {
            error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", " + shape);
            return std::nullopt;
        }
        const auto d = detail::parse_duration(v->get());
        if (d.status == parse_status::bad_shape) {
            error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", " + shape,
                  "units: ms, s, m, h");
            return std::nullopt;
        }
        if (!d.ok() || d.value < min || d.value > max) {
            const std::string range = min == duration::zero()
                                          ? "must be at most " + detail::format_duration(max)
                                          : "must be between " + detail::format_duration(min) + " and " +
                                                detail::format_duration(max);
            error(pos(n->source()), s.key(key), s.key(key) + " is " + describe(*n) + ", " + range);
            return std::nullopt;
        }
        return d.value;
    }

    // Integer bytes or a size string. `zero_hint` explains 0 when 0 is allowed.
    std::optional<std::uint64_t> read_size(const scope& s, std::string_view key, std::uint64_t min,
                                           std::uint64_t max, std::uint64_t example,
                                           std::string_view zero_hint = {}) {
        const toml::node* n = get(s, key, false);
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

    // A file path: non-empty, resolved against the config file's directory, readable.
    std::optional<std::string> read_path(const scope& s, std::string_view key, bool required) {
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
            error(pos(v->source()), s.key(key), s.key(key) + ": cannot read " + quote(abs) + ": " + *reason);
            return std::nullopt;
        }
        return abs;
    }

    // A non-empty array of non-empty, distinct strings (meaning checked later by tls/).
    std::optional<std::vector<positioned>> read_string_list(const scope& s, std::string_view key) {
        const toml::node* n = get(s, key, false);
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
            const auto first = std::find_if(out.begin(), out.end(),
                                            [&](const positioned& p) { return p.value == str->get(); });
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

    // A listener/upstream name; returns it when valid.
    std::optional<std::string> read_name(const scope& s) {
        const auto* v = read_string(s, "name", true);
        if (v == nullptr) return std::nullopt;
        if (!detail::is_valid_name(v->get())) {
            error(pos(v->source()), s.key("name"),
                  s.key("name") + " is " + quote(v->get()) + ", must match [A-Za-z0-9_.-]{1,64}");
            return std::nullopt;
        }
        return v->get();
    }

    void record_positions(const scope& s, std::map<std::string, source_pos>& key_pos) const {
        for (auto&& [k, v] : s.table) key_pos.emplace(std::string(k.str()), pos(v.source()));
    }

    // ---- Table shapes --------------------------------------------------------------------

    // [name] must be a table. Reports and returns nullptr otherwise.
    const toml::table* expect_table(const toml::node& n, std::string_view name) {
        if (const auto* t = n.as_table()) return t;
        const std::string key(name);
        if (n.is_array_of_tables())
            error(pos(n.source()), key, key + " is an array of tables, must be a table",
                  "write [" + key + "], not [[" + key + "]]");
        else
            error(pos(n.source()), key, key + " is " + std::string(a_type(n)) + ", must be a table");
        return nullptr;
    }

    // [[name]] must be an array of tables. Returns (index, table) for each element that is a table;
    // reports every other shape. `wrong_shape` is set when the key is not an array at all (so the
    // caller does not add "none defined" on top).
    std::vector<std::pair<std::size_t, const toml::table*>> expect_tables(const toml::node* n,
                                                                         std::string_view name,
                                                                         bool& wrong_shape) {
        std::vector<std::pair<std::size_t, const toml::table*>> out;
        wrong_shape = false;
        if (n == nullptr) return out;
        const std::string key(name);
        const auto* arr = n->as_array();
        if (arr == nullptr) {
            wrong_shape = true;
            const std::string hint = n->is_table() ? "write [[" + key + "]] for each " + key + ", not [" + key + "]"
                                                   : "write [[" + key + "]] for each " + key;
            error(pos(n->source()), key, key + " is " + std::string(a_type(*n)) + ", must be an array of tables",
                  hint);
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

    // ---- Sections ------------------------------------------------------------------------

    void read_root(const toml::table& root, config& out) {
        const scope top{root, "", file_pos()};
        check_keys(top, top_keys, "");

        if (const auto* n = root.get("server"))
            if (const auto* t = expect_table(*n, "server")) read_server(*t, out.server);
        if (const auto* n = root.get("timeouts"))
            if (const auto* t = expect_table(*n, "timeouts")) read_timeouts(*t, out.timeouts);
        if (const auto* n = root.get("limits"))
            if (const auto* t = expect_table(*n, "limits")) read_limits(*t, out.limits);

        bool upstreams_misshaped = false;
        const auto upstream_tables = expect_tables(root.get("upstream"), "upstream", upstreams_misshaped);
        const std::size_t upstream_count = root.get("upstream") && root.get("upstream")->is_array()
                                               ? root.get("upstream")->as_array()->size()
                                               : 0;
        upstream_names_.assign(upstream_count, std::nullopt);
        upstream_used_.assign(upstream_count, false);
        for (const auto& [i, t] : upstream_tables) out.upstreams.push_back(read_upstream(i, *t));
        check_duplicate_names("upstream", upstream_tables);

        bool listeners_misshaped = false;
        const auto listener_tables = expect_tables(root.get("listener"), "listener", listeners_misshaped);
        for (const auto& [i, t] : listener_tables) out.listeners.push_back(read_listener(i, *t));
        const bool no_listeners = listener_tables.empty() &&
                                  !(root.get("listener") && root.get("listener")->is_array() &&
                                    !root.get("listener")->as_array()->empty());
        if (no_listeners && !listeners_misshaped)
            error(file_pos(), "listener", "no [[listener]] is defined; at least one is required");
        if (upstream_count == 0 && !upstreams_misshaped)
            error(file_pos(), "upstream", "no [[upstream]] is defined; at least one is required");
        check_duplicate_names("listener", listener_tables);

        if (const auto* n = root.get("admin"))
            if (const auto* t = expect_table(*n, "admin")) out.admin = read_admin(*t);

        check_endpoints();

        // An upstream no listener routes to is probably a leftover. Not reported while a listener's
        // reference is broken: that error already lists the names, and the "unused" one is its
        // intended target. Duplicate names get their own error instead.
        if (!listener_tables.empty() && !upstream_reference_broken_) {
            for (const auto& [i, t] : upstream_tables) {
                const auto& name = upstream_names_[i];
                if (!name || upstream_used_[i] || !detail::is_valid_name(*name)) continue;
                const auto first = std::find(upstream_names_.begin(), upstream_names_.end(), name);
                if (first != upstream_names_.begin() + static_cast<std::ptrdiff_t>(i)) continue;
                const std::string path = "upstream[" + std::to_string(i) + "]";
                report(severity::warning, pos(t->source()), path,
                       path + " " + quote(*name) + " is not used by any listener", {});
            }
        }
    }

    void read_server(const toml::table& t, server_settings& out) {
        const scope s{t, "server", pos(t.source())};
        check_keys(s, server_keys, "[server]");
        if (const auto v = read_integer(s, "workers", 0, max_workers, false, "0 = one per online CPU"))
            out.workers = static_cast<std::uint32_t>(*v);
        if (const auto v = read_duration(s, "drain_timeout", 0ms, max_drain, "30s"))
            out.drain_timeout = *v;
        if (const auto* v = read_string(s, "log_level", false)) {
            const auto it = std::find(std::begin(log_level_names), std::end(log_level_names), v->get());
            if (it == std::end(log_level_names))
                error(pos(v->source()), s.key("log_level"),
                      s.key("log_level") + " is " + quote(v->get()) +
                          R"(, must be one of "trace", "debug", "info", "warn", "error", "off")");
            else
                out.level = log_level_values[it - std::begin(log_level_names)];
        }
        if (const auto v = read_bool(s, "access_log")) out.access_log = *v;
    }

    void read_timeouts(const toml::table& t, timeout_settings& out) {
        const scope s{t, "timeouts", pos(t.source())};
        check_keys(s, timeout_keys, "[timeouts]");
        if (const auto v = read_duration(s, "handshake", min_handshake, max_handshake, "10s")) out.handshake = *v;
        if (const auto v = read_duration(s, "request_header", min_general, max_general, "30s"))
            out.request_header = *v;
        if (const auto v = read_duration(s, "keepalive", min_general, max_general, "60s")) out.keepalive = *v;
        if (const auto v = read_duration(s, "body", min_general, max_general, "60s")) out.body = *v;
    }

    void read_limits(const toml::table& t, limit_settings& out) {
        const scope s{t, "limits", pos(t.source())};
        check_keys(s, limit_keys, "[limits]");
        const limit_settings def;
        if (const auto v = read_integer(s, "max_connections", 1, max_connections_limit))
            out.max_connections = static_cast<std::uint32_t>(*v);
        if (const auto v = read_size(s, "header_bytes", min_header_bytes, max_header_bytes, def.header_bytes))
            out.header_bytes = static_cast<std::uint32_t>(*v);
        if (const auto v = read_integer(s, "header_count", 1, max_header_count))
            out.header_count = static_cast<std::uint32_t>(*v);
        if (const auto v = read_size(s, "body_bytes", 0, max_body_bytes, def.body_bytes, "0 = no limit"))
            out.body_bytes = *v;
        if (const auto v = read_size(s, "response_header_bytes", min_header_bytes, max_header_bytes,
                                     def.response_header_bytes))
            out.response_header_bytes = static_cast<std::uint32_t>(*v);
        if (const auto v = read_integer(s, "requests_per_connection", 0, max_requests_per_connection, false,
                                        "0 = no limit"))
            out.requests_per_connection = static_cast<std::uint32_t>(*v);
    }

    upstream read_upstream(std::size_t index, const toml::table& t) {
        upstream u;
        const scope s{t, "upstream[" + std::to_string(index) + "]", pos(t.source())};
        u.where = s.where;
        record_positions(s, u.key_pos);
        check_keys(s, upstream_keys, "[[upstream]]");

        if (const auto* v = s.table.get("name"); v != nullptr && v->is_string())
            upstream_names_[index] = v->as_string()->get();
        if (auto name = read_name(s)) u.name = std::move(*name);

        if (const auto* v = read_string(s, "url", true)) {
            const auto parsed = detail::parse_upstream_url(v->get());
            const std::string head = s.key("url") + " is " + quote(v->get()) + ", ";
            const source_pos where = pos(v->source());
            switch (parsed.problem) {
                case detail::url_problem::ok:
                    u.url = v->get();
                    u.host = parsed.host;
                    u.port = parsed.port;
                    break;
                case detail::url_problem::https:
                    error(where, s.key("url"), head + R"(scheme "https" is not supported yet; use http://)",
                          "the backend hop is internal");
                    break;
                case detail::url_problem::not_http:
                    error(where, s.key("url"), head + R"(must be an http:// URL such as "http://10.0.0.5:8080")");
                    break;
                case detail::url_problem::userinfo:
                    error(where, s.key("url"), head + "must not contain user information (\"user@\")");
                    break;
                case detail::url_problem::query:
                    error(where, s.key("url"), head + "must not contain a query (\"?...\")");
                    break;
                case detail::url_problem::fragment:
                    error(where, s.key("url"), head + "must not contain a fragment (\"#...\")");
                    break;
                case detail::url_problem::path:
                    error(where, s.key("url"), head + "must not contain a path other than \"/\"");
                    break;
                case detail::url_problem::bad_host:
                    error(where, s.key("url"),
                          head + "host must be a DNS name, an IPv4 address or a bracketed IPv6 address");
                    break;
                case detail::url_problem::bad_port:
                    error(where, s.key("url"), head + "port must be between 1 and 65535");
                    break;
            }
        }
        if (const auto v = read_duration(s, "connect_timeout", min_connect, max_connect, "5s"))
            u.connect_timeout = *v;
        if (const auto v = read_duration(s, "response_timeout", min_general, max_general, "60s"))
            u.response_timeout = *v;
        if (const auto v = read_integer(s, "keepalive", 0, max_upstream_keepalive, false,
                                        "0 = close after each request"))
            u.keepalive = static_cast<std::uint32_t>(*v);
        if (const auto v = read_duration(s, "keepalive_timeout", min_general, max_general, "30s"))
            u.keepalive_timeout = *v;
        return u;
    }

    listener read_listener(std::size_t index, const toml::table& t) {
        listener l;
        const scope s{t, "listener[" + std::to_string(index) + "]", pos(t.source())};
        l.where = s.where;
        record_positions(s, l.key_pos);
        check_keys(s, listener_keys, "[[listener]]");

        if (auto name = read_name(s)) l.name = std::move(*name);

        l.address = "0.0.0.0";
        std::optional<detail::ip_address> ip = detail::parse_ip(l.address);
        if (const auto* v = read_string(s, "address", false)) {
            ip = detail::parse_ip(v->get());
            if (ip)
                l.address = v->get();
            else
                error(pos(v->source()), s.key("address"),
                      s.key("address") + " is " + quote(v->get()) + ", must be an IPv4 or IPv6 address",
                      R"("0.0.0.0" = every IPv4 address, "::" = every IPv6 address)");
        } else if (s.table.contains("address")) {
            ip.reset();
        }
        const auto port = read_integer(s, "port", 1, 65535, true);
        if (port) l.port = static_cast<std::uint16_t>(*port);
        if (ip && port) {
            const auto* port_node = s.table.get("port");
            endpoints_.push_back(endpoint{s.path, s.key("port"), pos(port_node->source()), l.address, *ip, l.port});
        }

        if (auto p = read_path(s, "cert", true)) l.cert = std::move(*p);
        if (auto p = read_path(s, "key", true)) l.key = std::move(*p);
        if (auto p = read_path(s, "trust", false)) l.trust = std::move(*p);

        if (const auto* v = read_string(s, "server_name", false)) {
            const std::string& sn = v->get();
            if (detail::is_dns_name(sn) || detail::parse_ip(sn)) {
                l.server_name = sn;
            } else {
                const bool wildcard = sn.rfind("*.", 0) == 0;
                error(pos(v->source()), s.key("server_name"),
                      s.key("server_name") + " is " + quote(sn) + ", must be a DNS name or an IP address",
                      wildcard ? "wildcards are not allowed here; give the exact name devices connect to"
                               : "");
            }
        }

        if (const auto* v = read_string(s, "upstream", true))
            resolve_upstream(s, *v, l);
        else
            upstream_reference_broken_ = true;

        if (const auto* n = s.table.get("min_version")) {
            if (const auto* v = n->as_string(); v != nullptr && (v->get() == "1.2" || v->get() == "1.3")) {
                l.min_version = v->get() == "1.2" ? tls_version::v1_2 : tls_version::v1_3;
            } else if (n->is_string()) {
                error(pos(n->source()), s.key("min_version"),
                      s.key("min_version") + " is " + describe(*n) + R"(, must be "1.2" or "1.3")",
                      ats_version_hint);
            } else {
                error(pos(n->source()), s.key("min_version"),
                      s.key("min_version") + " is " + describe(*n) + R"(, must be the string "1.2" or "1.3")",
                      ats_version_hint);
            }
        }

        if (auto v = read_string_list(s, "tls12_ciphers")) l.tls12_ciphers = std::move(*v);
        if (auto v = read_string_list(s, "tls13_ciphersuites")) l.tls13_ciphersuites = std::move(*v);
        if (auto v = read_string_list(s, "groups")) l.groups = std::move(*v);
        return l;
    }

    void resolve_upstream(const scope& s, const toml::value<std::string>& v, listener& l) {
        for (std::size_t i = 0; i < upstream_names_.size(); ++i) {
            if (upstream_names_[i] == v.get()) {
                l.upstream = v.get();
                l.upstream_index = i;
                upstream_used_[i] = true;
                return;
            }
        }
        std::string known;
        for (std::size_t i = 0; i < upstream_names_.size(); ++i) {
            const auto& name = upstream_names_[i];
            if (!name) continue;
            const auto first = std::find(upstream_names_.begin(), upstream_names_.end(), name);
            if (first != upstream_names_.begin() + static_cast<std::ptrdiff_t>(i)) continue;  // listed once
            known += known.empty() ? "known: " : ", ";
            known += quote(*name);
        }
        if (known.empty()) known = "no [[upstream]] is defined";
        upstream_reference_broken_ = true;
        error(pos(v.source()), s.key("upstream"),
              s.key("upstream") + " is " + quote(v.get()) + ", no [[upstream]] has that name", known);
    }

    // listener[1].name "mdm" is already used by listener[0]
    void check_duplicate_names(std::string_view kind,
                               const std::vector<std::pair<std::size_t, const toml::table*>>& tables) {
        std::vector<std::pair<std::string, std::size_t>> seen;  // name, index of first use
        for (const auto& [i, t] : tables) {
            const auto* n = t->get("name");
            if (n == nullptr || !n->is_string() || !detail::is_valid_name(n->as_string()->get())) continue;
            const std::string& name = n->as_string()->get();
            const auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == name; });
            const std::string path = std::string(kind) + "[" + std::to_string(i) + "].name";
            if (it == seen.end()) {
                seen.emplace_back(name, i);
                continue;
            }
            error(pos(n->source()), path,
                  path + " " + quote(name) + " is already used by " + std::string(kind) + "[" +
                      std::to_string(it->second) + "]");
        }
    }

    admin_settings read_admin(const toml::table& t) {
        admin_settings a;
        const scope s{t, "admin", pos(t.source())};
        a.where = s.where;
        check_keys(s, admin_keys, "[admin]");
        std::optional<detail::ip_address> ip = detail::parse_ip(a.address);
        if (const auto* v = read_string(s, "address", false)) {
            ip = detail::parse_ip(v->get());
            if (ip && ip->is_loopback()) {
                a.address = v->get();
            } else {
                ip.reset();
                error(pos(v->source()), s.key("address"),
                      s.key("address") + " is " + quote(v->get()) +
                          ", must be a loopback address (127.0.0.0/8 or ::1)",
                      admin_hint);
            }
        } else if (s.table.contains("address")) {
            ip.reset();
        }
        const auto port = read_integer(s, "port", 1, 65535, true);
        if (port) a.port = static_cast<std::uint16_t>(*port);
        if (ip && port)
            endpoints_.push_back(endpoint{"admin", "admin.port", pos(s.table.get("port")->source()), a.address,
                                          *ip, a.port});
        return a;
    }

    // Two sockets on the same (address, port) cannot both be bound; neither can a specific address
    // and the wildcard of the same family. IPv4 vs "::" is not flagged: whether "::" also takes
    // IPv4 depends on IPV6_V6ONLY, which the listener layer decides.
    void check_endpoints() {
        for (std::size_t j = 1; j < endpoints_.size(); ++j) {
            const endpoint& b = endpoints_[j];
            for (std::size_t i = 0; i < j; ++i) {
                const endpoint& a = endpoints_[i];
                if (a.port != b.port || a.ip.v6 != b.ip.v6) continue;
                if (a.ip == b.ip) {
                    error(b.where, b.key_path,
                          b.owner + " endpoint " + b.text() + " is already used by " + a.owner);
                    break;
                }
                if (a.ip.is_unspecified() || b.ip.is_unspecified()) {
                    error(b.where, b.key_path,
                          b.owner + " endpoint " + b.text() + " overlaps " + a.owner + " endpoint " + a.text(),
                          "a wildcard address covers every address of its family");
                    break;
                }
            }
        }
    }
};

}  // namespace

load_result load_string(std::string_view toml_text, const std::string& path) {
    return loader(path).run(toml_text);
}

load_result load_file(const std::string& path) {
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    std::string text;
    std::optional<std::string> reason;
    if (f == nullptr) {
        reason = std::error_code(errno, std::generic_category()).message();
    } else {
        char buf[16384];
        std::size_t got = 0;
        errno = 0;
        while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, got);
        if (std::ferror(f) != 0) reason = std::error_code(errno, std::generic_category()).message();
        std::fclose(f);
    }
    if (reason) {
        load_result r;
        r.diags.push_back(diagnostic{severity::error, source_pos{path, 0, 0}, {},
                                     "cannot read " + quote(path) + ": " + *reason, {}});
        return r;
    }
    return load_string(text, path);
}

}  // namespace atsgate::config
