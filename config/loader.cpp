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
    "name",          "kind",           "address",          "port",
    "cert",          "key",            "certificate",      "unknown_sni",
    "trust",         "server_name",    "upstream",         "route",
    "min_version",   "tls12_ciphers",  "tls13_ciphersuites", "groups",
    "session_tickets", "tls13_tickets", "ticket_key_file", "ticket_key_rotation",
    "session_cache", "client_auth",    "client_ca",        "client_cert_header",
    "client_cert_format", "scep_path", "redirect"};
constexpr std::string_view certificate_keys[] = {"cert", "key", "names"};
constexpr std::string_view route_keys[] = {"name",          "host",         "path",
                                           "upstream",      "split",        "sticky",
                                           "static_status", "static_content_type", "static_body",
                                           "static_file"};
constexpr std::string_view split_keys[] = {"upstream", "weight"};
constexpr std::string_view upstream_keys[] = {
    "name",         "url",             "members",        "connect_timeout", "response_timeout",
    "keepalive",    "keepalive_timeout", "warm", "tls_min_version", "tls_ciphers",   "tls_verify",
    "tls_ca",       "tls_sni",         "health_path",    "health_interval", "health_timeout",
    "health_rise",  "health_fall",     "max_fails",      "fail_timeout"};
constexpr std::string_view member_keys[] = {"url", "weight"};
constexpr std::string_view admin_keys[] = {"address", "port", "token", "token_file"};

// Keys that configure TLS: refused on a plaintext (scep) listener.
constexpr std::string_view tls_only_listener_keys[] = {
    "cert", "key", "certificate", "unknown_sni", "trust", "server_name", "min_version", "tls12_ciphers",
    "tls13_ciphersuites", "groups", "session_tickets", "tls13_tickets", "ticket_key_file",
    "ticket_key_rotation", "session_cache", "client_auth", "client_ca", "client_cert_header",
    "client_cert_format"};
constexpr std::string_view scep_only_listener_keys[] = {"scep_path", "redirect"};

struct section_schema {
    std::string_view header;  // as written in the file: "[server]", "[[listener]]"
    std::span<const std::string_view> keys;
};

constexpr section_schema sections[] = {
    {"[server]", server_keys},
    {"[timeouts]", timeout_keys},
    {"[limits]", limit_keys},
    {"[[listener]]", listener_keys},
    {"[[listener.certificate]]", certificate_keys},
    {"[[listener.route]]", route_keys},
    {"[[upstream]]", upstream_keys},
    {"[admin]", admin_keys},
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
constexpr std::int64_t max_weight = 1'000'000;
constexpr std::int64_t max_member_weight = 1000;
constexpr std::size_t max_static_body = 64 * 1024;
constexpr duration min_rotation = 1min;
constexpr duration max_rotation = 24h * 7;

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
// not flood the log. File paths use quote_path(): a cut path names no file.
std::string quote(std::string_view s, std::size_t max_shown = 80) {
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

// A file path in double quotes, escaped like quote() but never cut.
std::string quote_path(std::string_view path) { return quote(path, std::string_view::npos); }

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
    // The listener being read wrote a client_auth value that was refused (already reported): its
    // dependants (client_ca, client_cert_*, sticky = "client_cert") are then not judged against
    // the default "none".
    bool client_auth_refused_ = false;
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
            error(pos(v->source()), s.key(key), s.key(key) + ": cannot read " + quote_path(abs) + ": " + *reason);
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

    // One of `names` (as written) -> the matching value of `values`. Reports anything else.
    template <typename E, std::size_t N>
    std::optional<E> read_enum(const scope& s, std::string_view key, const std::string_view (&names)[N],
                               const E (&values)[N], std::string_view hint = {}) {
        const auto* v = read_string(s, key, false);
        if (v == nullptr) return std::nullopt;
        for (std::size_t i = 0; i < N; ++i)
            if (names[i] == v->get()) return values[i];
        std::string allowed;
        for (std::size_t i = 0; i < N; ++i) {
            if (i > 0) allowed += i + 1 == N ? " or " : ", ";
            allowed += dq(names[i]);
        }
        error(pos(v->source()), s.key(key), s.key(key) + " is " + quote(v->get()) + ", must be " + allowed, hint);
        return std::nullopt;
    }

    // An HTTP header field name (RFC 9110 token) that atsgate may set on forwarded requests.
    std::optional<std::string> read_header_name(const scope& s, std::string_view key) {
        const auto* v = read_string(s, key, false);
        if (v == nullptr) return std::nullopt;
        const std::string& h = v->get();
        const bool token = !h.empty() && h.size() <= 64 && std::all_of(h.begin(), h.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        });
        if (!token) {
            error(pos(v->source()), s.key(key), s.key(key) + " is " + quote(h) + ", must be an HTTP header name",
                  "letters, digits and -, at most 64 characters");
            return std::nullopt;
        }
        static constexpr std::string_view reserved[] = {
            "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
            "upgrade", "proxy-connection", "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"};
        std::string lower;
        for (char c : h) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        if (std::find(std::begin(reserved), std::end(reserved), lower) != std::end(reserved)) {
            error(pos(v->source()), s.key(key), s.key(key) + " is " + quote(h) + ", a header atsgate manages itself",
                  "choose a dedicated name such as \"X-Client-Cert\"");
            return std::nullopt;
        }
        return h;
    }

    // Reads a whole small file (static responses, token files). Reports and returns nullopt when
    // unreadable or larger than `limit`.
    std::optional<std::string> read_small_file(const scope& s, std::string_view key, const std::string& abs,
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

    // [[<path>]] nested inside a table (listener.certificate, listener.route, upstream.members):
    // an array whose elements are tables (array-of-tables or inline tables).
    std::vector<std::pair<std::size_t, const toml::table*>> nested_tables(const scope& s, std::string_view key,
                                                                         std::string_view header) {
        std::vector<std::pair<std::size_t, const toml::table*>> out;
        const toml::node* n = s.table.get(key);
        if (n == nullptr) return out;
        const auto* arr = n->as_array();
        if (arr == nullptr) {
            error(pos(n->source()), s.key(key),
                  s.key(key) + " is " + std::string(a_type(*n)) + ", must be an array of tables",
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

    // `key = []` for a nested array of tables: an error naming what must be listed.
    void report_empty_array(const scope& s, std::string_view key, std::string_view what, std::string_view hint) {
        const toml::node* n = s.table.get(key);
        if (n == nullptr || !n->is_array() || !n->as_array()->empty()) return;
        error(pos(n->source()), s.key(key),
              s.key(key) + " is empty, must list at least one " + std::string(what), hint);
    }

    // Index of the [[upstream]] named `v`, or nullopt after reporting (with the known names).
    std::optional<std::size_t> find_upstream(const std::string& key_path, const toml::value<std::string>& v) {
        for (std::size_t i = 0; i < upstream_names_.size(); ++i) {
            if (upstream_names_[i] == v.get()) {
                upstream_used_[i] = true;
                return i;
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
        error(pos(v.source()), key_path, key_path + " is " + quote(v.get()) + ", no [[upstream]] has that name", known);
        return std::nullopt;
    }

    // A route host: an exact DNS name or a one-label wildcard "*.example.com"; stored lower case.
    static bool is_host_pattern(std::string_view h) {
        if (h.rfind("*.", 0) == 0) return detail::is_dns_name(h.substr(2));
        return detail::is_dns_name(h) || detail::parse_ip(h).has_value();
    }
    static std::string lower(std::string_view in) {
        std::string out(in);
        for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return out;
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

    // An upstream member URL: http[s]://host[:port][/].
    std::optional<detail::upstream_url> read_member_url(const std::string& key_path, const toml::value<std::string>& v) {
        const auto parsed = detail::parse_upstream_url(v.get());
        const std::string head = key_path + " is " + quote(v.get()) + ", ";
        const source_pos where = pos(v.source());
        switch (parsed.problem) {
            case detail::url_problem::ok: return parsed;
            case detail::url_problem::not_http:
                error(where, key_path, head + R"(must be an http:// or https:// URL such as "http://10.0.0.5:8080")");
                break;
            case detail::url_problem::userinfo:
                error(where, key_path, head + "must not contain user information (\"user@\")");
                break;
            case detail::url_problem::query:
                error(where, key_path, head + "must not contain a query (\"?...\")");
                break;
            case detail::url_problem::fragment:
                error(where, key_path, head + "must not contain a fragment (\"#...\")");
                break;
            case detail::url_problem::path:
                error(where, key_path, head + "must not contain a path other than \"/\"");
                break;
            case detail::url_problem::bad_host:
                error(where, key_path, head + "host must be a DNS name, an IPv4 address or a bracketed IPv6 address");
                break;
            case detail::url_problem::bad_port:
                error(where, key_path, head + "port must be between 1 and 65535");
                break;
        }
        return std::nullopt;
    }

    member make_member(const toml::value<std::string>& v, const detail::upstream_url& parsed) {
        member m;
        m.url = v.get();
        m.host = parsed.host;
        m.port = parsed.port;
        m.tls = parsed.tls;
        m.where = pos(v.source());
        return m;
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

        const bool has_url = s.table.contains("url");
        const bool has_members = s.table.contains("members");
        if (has_url && has_members) {
            error(pos(s.table.get("members")->source()), s.key("members"),
                  s.key("members") + " and " + s.key("url") + " are both set",
                  "url is the one-member shorthand; keep one");
        } else if (!has_url && !has_members) {
            error(s.where, s.key("url"), s.key("url") + " is required",
                  "or list members = [{ url = \"...\", weight = 1 }, ...]");
        }
        if (has_url && !has_members) {
            if (const auto* v = read_string(s, "url", true)) {
                if (auto parsed = read_member_url(s.key("url"), *v)) u.members.push_back(make_member(*v, *parsed));
            }
        } else if (has_members && !has_url) {
            const auto tables = nested_tables(s, "members", "members = [{ url = \"...\", weight = 1 }, ...]");
            if (tables.empty() && s.table.get("members")->is_array())
                error(pos(s.table.get("members")->source()), s.key("members"),
                      s.key("members") + " is empty, must list at least one member");
            std::vector<std::size_t> member_index;  // members[] index in the file of each u.members entry
            for (const auto& [i, mt] : tables) {
                const scope ms{*mt, s.key("members[" + std::to_string(i) + "]"), pos(mt->source())};
                check_keys(ms, member_keys, "");
                const auto* v = read_string(ms, "url", true);
                std::optional<detail::upstream_url> parsed;
                if (v != nullptr) parsed = read_member_url(ms.key("url"), *v);
                const auto w = read_integer(ms, "weight", 1, max_member_weight);
                if (!parsed) continue;
                member m = make_member(*v, *parsed);
                m.where = ms.where;
                if (w) m.weight = static_cast<std::uint32_t>(*w);
                // The same backend however it is spelled: scheme, host (case-insensitive; IP
                // literals by value) and port, with the default port filled in.
                const auto dup = std::find_if(u.members.begin(), u.members.end(), [&](const member& o) {
                    if (o.tls != m.tls || o.port != m.port) return false;
                    const auto a = detail::parse_ip(o.host);
                    const auto b = detail::parse_ip(m.host);
                    return a && b ? *a == *b : lower(o.host) == lower(m.host);
                });
                if (dup != u.members.end()) {
                    const auto k = member_index[static_cast<std::size_t>(dup - u.members.begin())];
                    error(pos(v->source()), ms.key("url"),
                          ms.key("url") + " " + quote(m.url) + " is already listed as members[" + std::to_string(k) + "]",
                          dup->url == m.url ? std::string{} : "the same scheme, host and port as " + quote(dup->url));
                    continue;
                }
                u.members.push_back(std::move(m));
                member_index.push_back(i);
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
        if (const auto v = read_integer(s, "warm", 0, max_upstream_keepalive, false, "0 = connect on demand only"))
            u.warm = static_cast<std::uint32_t>(*v);
        if (u.warm > u.keepalive && !s.table.contains("warm")) {
            u.warm = u.keepalive;  // the default follows a smaller keepalive silently
        } else if (u.warm > u.keepalive) {
            const auto* n = s.table.get("warm");
            report(severity::warning, n != nullptr ? pos(n->source()) : s.where, s.key("warm"),
                   s.key("warm") + " is more than keepalive (" + std::to_string(u.keepalive) +
                       "): only keepalive idle connections are kept",
                   {});
            u.warm = u.keepalive;
        }

        // TLS toward https:// members (the internal hop: legacy versions are allowed there).
        static constexpr std::string_view version_names[] = {"1.0", "1.1", "1.2", "1.3"};
        static constexpr tls_version_any version_values[] = {tls_version_any::v1_0, tls_version_any::v1_1,
                                                             tls_version_any::v1_2, tls_version_any::v1_3};
        if (const auto v = read_enum(s, "tls_min_version", version_names, version_values)) u.tls_min_version = *v;
        if (const auto* v = read_string(s, "tls_ciphers", false)) u.tls_ciphers = v->get();
        if (const auto v = read_bool(s, "tls_verify")) u.tls_verify = *v;
        if (auto p = read_path(s, "tls_ca", false)) u.tls_ca = std::move(*p);
        if (const auto* v = read_string(s, "tls_sni", false)) {
            if (detail::is_dns_name(v->get()))
                u.tls_sni = v->get();
            else
                error(pos(v->source()), s.key("tls_sni"),
                      s.key("tls_sni") + " is " + quote(v->get()) + ", must be a DNS name");
        }
        const bool any_tls = std::any_of(u.members.begin(), u.members.end(), [](const member& m) { return m.tls; });
        if (!any_tls && !u.members.empty()) {
            for (std::string_view k : {"tls_min_version", "tls_ciphers", "tls_verify", "tls_ca", "tls_sni"}) {
                if (const auto* n = s.table.get(k))
                    report(severity::warning, pos(n->source()), s.key(k),
                           s.key(k) + " has no effect: no member of " + s.path + " is https://", {});
            }
        } else if (any_tls && !u.tls_ca.empty() && !u.tls_verify &&
                   (s.table.get("tls_verify") == nullptr || s.table.get("tls_verify")->is_boolean())) {
            // A CA bundle suggests the members' certificates are checked; without tls_verify they
            // are not (the internal hop accepts any certificate). A refused tls_verify has its own error.
            report(severity::warning, pos(s.table.get("tls_ca")->source()), s.key("tls_ca"),
                   s.key("tls_ca") + " has no effect: tls_verify is false, members' certificates are not verified",
                   "set tls_verify = true");
        }

        // Health.
        if (const auto* v = read_string(s, "health_path", false)) {
            const std::string& hp = v->get();
            const bool ok = !hp.empty() && hp.front() == '/' && hp.size() <= 1024 &&
                            std::all_of(hp.begin(), hp.end(), [](char c) { return c > 0x20 && c < 0x7f; });
            if (ok)
                u.health_path = hp;
            else
                error(pos(v->source()), s.key("health_path"),
                      s.key("health_path") + " is " + quote(hp) + ", must be a path starting with \"/\" without spaces");
        }
        if (const auto v = read_duration(s, "health_interval", 1s, 1h, "5s")) u.health_interval = *v;
        if (const auto v = read_duration(s, "health_timeout", 100ms, 1min, "2s")) u.health_timeout = *v;
        if (const auto v = read_integer(s, "health_rise", 1, 100)) u.health_rise = static_cast<std::uint32_t>(*v);
        if (const auto v = read_integer(s, "health_fall", 1, 100)) u.health_fall = static_cast<std::uint32_t>(*v);
        if (!s.table.contains("health_path")) {
            // Without health_path there are no active checks: these would be silently ignored.
            for (std::string_view k : {"health_interval", "health_timeout", "health_rise", "health_fall"}) {
                if (const auto* n = s.table.get(k))
                    report(severity::warning, pos(n->source()), s.key(k),
                           s.key(k) + " has no effect: " + s.path + " has no health_path",
                           "active checks run only when health_path = \"/...\" is set");
            }
        }
        if (const auto v = read_integer(s, "max_fails", 0, 1000, false, "0 = no passive ejection"))
            u.max_fails = static_cast<std::uint32_t>(*v);
        if (const auto v = read_duration(s, "fail_timeout", 1s, 1h, "10s")) u.fail_timeout = *v;
        return u;
    }

    certificate read_certificate(const scope& s) {
        certificate c;
        c.where = s.where;
        record_positions(s, c.key_pos);
        if (auto p = read_path(s, "cert", true)) c.cert = std::move(*p);
        if (auto p = read_path(s, "key", true)) c.key = std::move(*p);
        if (auto names = read_string_list(s, "names")) {
            for (const auto& n : *names) {
                if (!is_host_pattern(n.value)) {
                    error(n.where, s.key("names"),
                          s.key("names") + " entry " + quote(n.value) +
                              " must be a DNS name, a wildcard \"*.example.com\" or an IP address");
                    continue;
                }
                c.names.push_back(positioned{lower(n.value), n.where});
            }
        }
        return c;
    }

    std::optional<std::string> read_path_prefix(const scope& s, std::string_view key) {
        const auto* v = read_string(s, key, false);
        if (v == nullptr) return std::nullopt;
        const std::string& p = v->get();
        const bool ok = !p.empty() && p.front() == '/' && p.size() <= 1024 &&
                        std::all_of(p.begin(), p.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '?' && c != '#'; });
        if (ok) return p;
        error(pos(v->source()), s.key(key),
              s.key(key) + " is " + quote(p) + ", must be a path prefix starting with \"/\" (no spaces, query or fragment)");
        return std::nullopt;
    }

    void read_split(const scope& s, route& r) {
        const auto tables = nested_tables(s, "split", "split = [{ upstream = \"blue\", weight = 90 }, ...]");
        if (tables.empty() && s.table.get("split")->is_array())
            error(pos(s.table.get("split")->source()), s.key("split"),
                  s.key("split") + " is empty, must list at least one target");
        std::uint64_t total = 0;
        bool all_ok = true;
        std::vector<std::size_t> target_index;  // split[] index in the file of each r.targets entry
        for (const auto& [i, tt] : tables) {
            const scope ts{*tt, s.key("split[" + std::to_string(i) + "]"), pos(tt->source())};
            check_keys(ts, split_keys, "");
            split_target target;
            std::optional<std::size_t> idx;
            if (const auto* v = read_string(ts, "upstream", true)) {
                idx = find_upstream(ts.key("upstream"), *v);
                if (idx) target.upstream = v->get();
            }
            const auto w = read_integer(ts, "weight", 0, max_weight, true, "0 = no new traffic");
            if (!idx || !w) {
                all_ok = false;
                continue;
            }
            target.upstream_index = *idx;
            target.weight = static_cast<std::uint32_t>(*w);
            const auto dup = std::find_if(r.targets.begin(), r.targets.end(),
                                          [&](const split_target& o) { return o.upstream == target.upstream; });
            if (dup != r.targets.end()) {
                const auto k = target_index[static_cast<std::size_t>(dup - r.targets.begin())];
                error(pos(ts.table.get("upstream")->source()), ts.key("upstream"),
                      ts.key("upstream") + " " + quote(target.upstream) + " is already listed as split[" +
                          std::to_string(k) + "]",
                      "give each upstream one weight");
                all_ok = false;
                continue;
            }
            total += target.weight;
            r.targets.push_back(std::move(target));
            target_index.push_back(i);
        }
        if (!tables.empty() && all_ok && total == 0)
            error(pos(s.table.get("split")->source()), s.key("split"), s.key("split") + " weights add up to 0",
                  "at least one target needs a weight above 0");
    }

    void read_sticky(const scope& s, const listener& l, route& r, bool has_split) {
        const auto* v = read_string(s, "sticky", false);
        if (v == nullptr) return;
        const std::string& st = v->get();
        auto header_char = [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        };
        auto digit = [](char c) { return c >= '0' && c <= '9'; };
        if (st == "none") {
            r.sticky = sticky_kind::none;
        } else if (st == "client_cert") {
            r.sticky = sticky_kind::client_cert;
            if (l.client_auth == client_auth_mode::none && !client_auth_refused_)
                error(pos(v->source()), s.key("sticky"),
                      s.key("sticky") + " is \"client_cert\" but the listener requests no client certificate",
                      "set client_auth = \"optional\" or \"require\" on the listener");
        } else if (st.rfind("header:", 0) == 0 && st.size() > 7 && st.size() <= 71 &&
                   std::all_of(st.begin() + 7, st.end(), header_char)) {
            r.sticky = sticky_kind::header;
            r.sticky_name = st.substr(7);
        } else if (st.rfind("path_segment:", 0) == 0 && st.size() > 13 && st.size() <= 16 &&
                   std::all_of(st.begin() + 13, st.end(), digit) && std::stoul(st.substr(13)) >= 1) {
            r.sticky = sticky_kind::path_segment;
            r.sticky_segment = static_cast<std::uint32_t>(std::stoul(st.substr(13)));
        } else {
            error(pos(v->source()), s.key("sticky"),
                  s.key("sticky") + " is " + quote(st) +
                      R"(, must be "none", "client_cert", "header:NAME" or "path_segment:N")",
                  "N counts path segments from 1: /enroll/<device-id> is path_segment:2");
            return;
        }
        if (r.sticky != sticky_kind::none && !has_split)
            report(severity::warning, pos(v->source()), s.key("sticky"), s.key("sticky") + " has no effect without split", {});
    }

    void read_static(const scope& s, route& r) {
        static_response sr;
        if (const auto v = read_integer(s, "static_status", 200, 599, true)) sr.status = static_cast<std::uint16_t>(*v);
        if (const auto* v = read_string(s, "static_content_type", false)) {
            const std::string& ct = v->get();
            if (!ct.empty() && ct.size() <= 256 &&
                std::all_of(ct.begin(), ct.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
                sr.content_type = ct;
            else
                error(pos(v->source()), s.key("static_content_type"),
                      s.key("static_content_type") + " is " + quote(ct) + ", must be a printable media type");
        }
        const bool body = s.table.contains("static_body");
        const bool file = s.table.contains("static_file");
        std::string file_path;  // absolute, when the body came from static_file
        if (body && file) {
            error(pos(s.table.get("static_file")->source()), s.key("static_file"),
                  s.key("static_file") + " and " + s.key("static_body") + " are both set", "keep one");
        } else if (body) {
            if (const auto* v = read_string(s, "static_body", false)) {
                if (v->get().size() > max_static_body)
                    error(pos(v->source()), s.key("static_body"),
                          s.key("static_body") + " is larger than " + detail::format_size(max_static_body));
                else
                    sr.body = v->get();
            }
        } else if (file) {
            if (auto p = read_path(s, "static_file", false)) {
                file_path = *p;
                if (auto content = read_small_file(s, "static_file", *p, max_static_body)) sr.body = std::move(*content);
            }
        }
        // 204 and 304 responses end at their header section (RFC 9110 sections 15.3.5, 15.4.5): a
        // body sent after one would be read by the device as the start of the next response.
        if ((sr.status == 204 || sr.status == 304) && !sr.body.empty()) {
            const std::string_view k = body ? "static_body" : "static_file";
            error(pos(s.table.get(k)->source()), s.key(k),
                  (body ? s.key(k) : s.key(k) + ": " + quote_path(file_path)) + " is not empty, but a " +
                      std::to_string(sr.status) + " response has no body",
                  "drop the body, or use 200");
        }
        r.static_reply = std::move(sr);
    }

    // `matchable` is false when host or path was written but refused: the route's (host, path) is
    // then unknown and must not be compared with other routes' (it still holds the defaults).
    route read_route(const scope& s, const listener& l, bool& matchable) {
        route r;
        matchable = true;
        r.where = s.where;
        record_positions(s, r.key_pos);
        check_keys(s, route_keys, "[[listener.route]]");
        if (s.table.contains("name")) {
            if (auto name = read_name(s)) r.name = std::move(*name);
        }
        if (const auto* v = read_string(s, "host", false)) {
            if (is_host_pattern(v->get()))
                r.host = lower(v->get());
            else
                error(pos(v->source()), s.key("host"),
                      s.key("host") + " is " + quote(v->get()) +
                          ", must be a DNS name, \"*.example.com\" or an IP address");
        }
        if (s.table.contains("host") && r.host.empty()) matchable = false;
        if (auto p = read_path_prefix(s, "path"))
            r.path = std::move(*p);
        else if (s.table.contains("path"))
            matchable = false;

        const bool has_upstream = s.table.contains("upstream");
        const bool has_split = s.table.contains("split");
        const bool has_static = s.table.contains("static_status") || s.table.contains("static_body") ||
                                s.table.contains("static_file") || s.table.contains("static_content_type");
        const int kinds = int(has_upstream) + int(has_split) + int(has_static);
        if (kinds == 0) {
            error(s.where, s.key("upstream"), s.path + " needs a target",
                  "set upstream = \"...\", split = [{ upstream = \"...\", weight = 1 }, ...] or static_status");
        } else if (kinds > 1) {
            error(s.where, s.path, s.path + " has more than one target",
                  "use exactly one of upstream, split or static_*");
        } else if (has_upstream) {
            if (const auto* v = read_string(s, "upstream", true)) {
                if (auto i = find_upstream(s.key("upstream"), *v)) r.targets.push_back(split_target{v->get(), *i, 1});
            }
        } else if (has_split) {
            read_split(s, r);
        } else {
            read_static(s, r);
        }
        read_sticky(s, l, r, has_split);
        return r;
    }

    listener read_listener(std::size_t index, const toml::table& t) {
        listener l;
        client_auth_refused_ = false;
        const scope s{t, "listener[" + std::to_string(index) + "]", pos(t.source())};
        l.where = s.where;
        record_positions(s, l.key_pos);
        check_keys(s, listener_keys, "[[listener]]");

        if (auto name = read_name(s)) l.name = std::move(*name);

        static constexpr std::string_view kind_names[] = {"https", "scep"};
        static constexpr listener_kind kind_values[] = {listener_kind::https, listener_kind::scep};
        if (const auto v = read_enum(s, "kind", kind_names, kind_values,
                                     "scep is the only plaintext kind: Apple exempts SCEP from ATS"))
            l.kind = *v;
        const bool https = l.kind == listener_kind::https;
        // Keys that do not apply to this kind are errors, never silently ignored.
        const std::span<const std::string_view> foreign =
            https ? std::span<const std::string_view>(scep_only_listener_keys)
                  : std::span<const std::string_view>(tls_only_listener_keys);
        for (std::string_view k : foreign) {
            if (const auto* n = s.table.get(k))
                error(pos(n->source()), s.key(k),
                      s.key(k) + " is not allowed on " + std::string(https ? "an https" : "a scep") + " listener",
                      https ? "scep_path and redirect apply to kind = \"scep\""
                            : "a scep listener is plaintext: it has no TLS settings");
        }

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

        if (https)
            read_listener_tls(s, l);
        else
            read_listener_scep(s, l);

        if (const auto* v = read_string(s, "upstream", false)) {
            if (auto i = find_upstream(s.key("upstream"), *v)) {
                l.upstream = v->get();
                l.upstream_index = *i;
            }
        } else if (s.table.contains("upstream")) {
            upstream_reference_broken_ = true;
        }

        // Per entry of l.routes: its key path (an inline non-table element is skipped, so l.routes
        // indexes may differ from the file's) and whether its (host, path) is known (read_route).
        std::vector<std::string> route_path;
        std::vector<bool> matchable;
        for (const auto& [i, rt] : nested_tables(s, "route", "[[listener.route]]")) {
            const scope rs{*rt, s.key("route[" + std::to_string(i) + "]"), pos(rt->source())};
            bool ok = true;
            l.routes.push_back(read_route(rs, l, ok));
            route_path.push_back(rs.path);
            matchable.push_back(ok);
        }
        // `route = []` routes nothing: without an upstream the listener would answer 404 to everything.
        report_empty_array(s, "route", "route", "write [[listener.route]] entries, or omit the key");
        if (!s.table.contains("upstream") && !s.table.contains("route")) {
            upstream_reference_broken_ = true;
            error(s.where, s.key("upstream"), s.key("upstream") + " is required", "or give [[listener.route]] entries");
        }
        // Route names are unique per listener; (host, path) pairs too.
        for (std::size_t j = 0; j < l.routes.size(); ++j) {
            const std::string& bj = route_path[j];
            for (std::size_t i = 0; i < j; ++i) {
                const route& a = l.routes[i];
                const route& b = l.routes[j];
                const std::string& ai = route_path[i];
                if (!b.name.empty() && a.name == b.name) {
                    const auto name_pos = b.key_pos.find("name");
                    error(name_pos != b.key_pos.end() ? name_pos->second : b.where, bj + ".name",
                          bj + ".name " + quote(b.name) + " is already used by " + ai);
                    break;
                }
                if (matchable[i] && matchable[j] && a.host == b.host && a.path == b.path) {
                    error(b.where, bj, bj + " matches the same host and path as " + ai,
                          "the later one could never be chosen");
                    break;
                }
            }
        }
        return l;
    }

    void read_listener_scep(const scope& s, listener& l) {
        if (auto p = read_path_prefix(s, "scep_path")) l.scep_path = std::move(*p);
        if (const auto* v = read_string(s, "redirect", false)) {
            const auto parsed = detail::parse_upstream_url(v->get());
            if (parsed.problem == detail::url_problem::ok && parsed.tls) {
                std::string origin = v->get();
                if (!origin.empty() && origin.back() == '/') origin.pop_back();
                l.redirect = std::move(origin);
            } else {
                error(pos(v->source()), s.key("redirect"),
                      s.key("redirect") + " is " + quote(v->get()) +
                          ", must be an https:// origin such as \"https://mdm.example.com\"",
                      "non-SCEP requests are redirected there, path and query kept");
            }
        }
    }

    void read_listener_tls(const scope& s, listener& l) {
        // Certificates: the cert/key shorthand first, then [[listener.certificate]].
        const bool has_cert = s.table.contains("cert");
        const bool has_key = s.table.contains("key");
        if (has_cert || has_key) {
            certificate c;
            c.shorthand = true;
            c.where = s.where;
            if (auto p = read_path(s, "cert", true)) c.cert = std::move(*p);
            if (auto p = read_path(s, "key", true)) c.key = std::move(*p);
            for (const char* k : {"cert", "key"})
                if (const auto* n = s.table.get(k)) c.key_pos.emplace(k, pos(n->source()));
            l.certificates.push_back(std::move(c));
        }
        for (const auto& [i, ct] : nested_tables(s, "certificate", "[[listener.certificate]]")) {
            const scope cs{*ct, s.key("certificate[" + std::to_string(i) + "]"), pos(ct->source())};
            check_keys(cs, certificate_keys, "[[listener.certificate]]");
            l.certificates.push_back(read_certificate(cs));
            l.certificates.back().shorthand_offset = has_cert || has_key;
        }
        // `certificate = []` is no certificate at all (the shorthand aside): never a silent no-op.
        report_empty_array(s, "certificate", "certificate",
                           "write [[listener.certificate]] entries, or omit the key and set cert and key");
        if (!has_cert && !has_key && !s.table.contains("certificate"))
            error(s.where, s.key("cert"), s.key("cert") + " is required",
                  "set cert and key, or add [[listener.certificate]] entries");

        static constexpr std::string_view sni_names[] = {"default", "refuse"};
        static constexpr unknown_sni_mode sni_values[] = {unknown_sni_mode::default_cert, unknown_sni_mode::refuse};
        if (const auto v = read_enum(s, "unknown_sni", sni_names, sni_values)) l.unknown_sni = *v;

        if (auto p = read_path(s, "trust", false)) l.trust = std::move(*p);

        if (const auto* v = read_string(s, "server_name", false)) {
            const std::string& sn = v->get();
            if (detail::is_dns_name(sn) || detail::parse_ip(sn)) {
                l.server_name = sn;
            } else {
                const bool wildcard = sn.rfind("*.", 0) == 0;
                error(pos(v->source()), s.key("server_name"),
                      s.key("server_name") + " is " + quote(sn) + ", must be a DNS name or an IP address",
                      wildcard ? "wildcards are not allowed here; give the exact name devices connect to" : "");
            }
        }

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

        if (const auto v = read_bool(s, "session_tickets")) l.session_tickets = *v;
        if (const auto v = read_integer(s, "tls13_tickets", 0, 8)) l.tls13_tickets = static_cast<std::uint32_t>(*v);
        if (auto p = read_path(s, "ticket_key_file", false)) l.ticket_key_file = std::move(*p);
        if (const auto v = read_duration(s, "ticket_key_rotation", min_rotation, max_rotation, "12h"))
            l.ticket_key_rotation = *v;
        if (const auto v = read_integer(s, "session_cache", 0, 1'000'000, false, "0 = no server-side session cache"))
            l.session_cache = static_cast<std::uint32_t>(*v);

        static constexpr std::string_view auth_names[] = {"none", "optional", "require"};
        static constexpr client_auth_mode auth_values[] = {client_auth_mode::none, client_auth_mode::optional,
                                                           client_auth_mode::require};
        if (const auto v = read_enum(s, "client_auth", auth_names, auth_values))
            l.client_auth = *v;
        else if (s.table.contains("client_auth"))
            client_auth_refused_ = true;
        if (auto p = read_path(s, "client_ca", false)) l.client_ca = std::move(*p);
        static constexpr std::string_view format_names[] = {"escaped-pem", "rfc9440"};
        static constexpr client_cert_format format_values[] = {client_cert_format::escaped_pem,
                                                               client_cert_format::rfc9440};
        if (const auto v = read_enum(s, "client_cert_format", format_names, format_values)) l.cert_format = *v;
        if (auto h = read_header_name(s, "client_cert_header")) l.client_cert_header = std::move(*h);
        if (client_auth_refused_) {
            // Its own error says what is wrong; "needs client_auth" here would only mislead.
        } else if (l.client_auth == client_auth_mode::none) {
            for (std::string_view k : {"client_ca", "client_cert_header", "client_cert_format"}) {
                if (const auto* n = s.table.get(k))
                    error(pos(n->source()), s.key(k), s.key(k) + " needs client_auth = \"optional\" or \"require\"");
            }
        } else if (l.client_cert_header.empty()) {
            l.client_cert_header = l.cert_format == client_cert_format::rfc9440 ? "Client-Cert" : "X-Client-Cert";
        }
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

        // Token first: it decides whether a non-loopback address is acceptable.
        const toml::node* token_node = nullptr;
        std::optional<std::string> token;
        std::string token_path;  // set when the token comes from token_file
        // A token was written (it may still be refused, with its own error).
        const bool token_given = s.table.contains("token") || s.table.contains("token_file");
        if (s.table.contains("token") && s.table.contains("token_file")) {
            error(pos(s.table.get("token_file")->source()), s.key("token_file"),
                  s.key("token_file") + " and " + s.key("token") + " are both set", "keep one");
        } else if (const auto* v = read_string(s, "token", false)) {
            token_node = v;
            token = v->get();
        } else if (auto p = read_path(s, "token_file", false)) {
            token_node = s.table.get("token_file");
            token_path = *p;
            token = read_small_file(s, "token_file", *p, 4096);
            while (token && !token->empty() && (token->back() == '\n' || token->back() == '\r' || token->back() == ' '))
                token->pop_back();
        }
        if (token) {
            const bool printable = std::all_of(token->begin(), token->end(), [](char c) { return c > 0x20 && c < 0x7f; });
            if (token->size() < 16 || !printable) {
                constexpr std::string_view shape = "at least 16 printable characters without spaces";
                if (token_path.empty())
                    error(pos(token_node->source()), s.key("token"),
                          s.key("token") + " must be " + std::string(shape), "generate one with: openssl rand -hex 24");
                else
                    error(pos(token_node->source()), s.key("token_file"),
                          s.key("token_file") + ": " + quote_path(token_path) + " must hold " + std::string(shape),
                          "a trailing newline is ignored; generate one with: openssl rand -hex 24 > " + token_path);
            } else {
                a.token = std::move(*token);
            }
        }

        std::optional<detail::ip_address> ip = detail::parse_ip(a.address);
        if (const auto* v = read_string(s, "address", false)) {
            ip = detail::parse_ip(v->get());
            if (ip && (ip->is_loopback() || !a.token.empty() || token_given)) {
                // token_given without a.token: the token was refused and that error says why;
                // "unless a token is set" would contradict what the operator wrote.
                a.address = v->get();
            } else if (ip) {
                ip.reset();
                error(pos(v->source()), s.key("address"),
                      s.key("address") + " is " + quote(v->get()) +
                          ", must be a loopback address (127.0.0.0/8 or ::1) unless a token is set",
                      admin_hint);
            } else {
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
                                     "cannot read " + quote_path(path) + ": " + *reason, {}});
        return r;
    }
    return load_string(text, path);
}

}  // namespace atsgate::config
