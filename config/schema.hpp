#pragma once
// The config file's keys, described once. Private to config/ (the section readers, the README
// test); no toml++ here.
//
// How to add a config key
// -----------------------
// 1. Add the member to its struct in config/config.hpp with a comment giving its default, its
//    effect, its range and a security note where relevant (the default is the member initialiser).
// 2. Add one line to the section's table below, at the place the key should take in the
//    documentation (the order is also how "did you mean" breaks ties), e.g.
//        integer_key<&listener::tls13_tickets>("tls13_tickets", 0, 8, opt.https()),
//    Scalars (integer, size, duration, boolean, enumeration, text, path, string list) are then
//    read, range-checked and reported (FILE:LINE:COLUMN, key path, hint) by the generic reader;
//    unknown-key and "did you mean" handling follow from the table. A `custom` line only reserves
//    the name: its section file (config/read_*.cpp) reads it, for tables, arrays of tables and
//    rules that involve several keys. Names of other tables (`upstream = "..."`) are resolved in
//    config/resolve.cpp, after everything is read.
// 3. Document it in the README's configuration reference under the same table header
//    (tests/unit/config/schema_test.cpp fails until every key here is there and vice versa).
// 4. Add a golden case (tests/unit/config/golden/) when the key brings a new kind of error.

#include "config/config.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::config::schema {

using namespace std::chrono_literals;

enum class value_kind : std::uint8_t {
    integer,      // a TOML integer in [min, max]
    size,         // integer bytes or a size string ("32k", "4GiB") in [min, max]
    duration,     // a duration string ("500ms", "30s", "2m", "1h") in [min, max] milliseconds
    boolean,      // true | false
    enumeration,  // one of `names` (stored as the enum value of the same index)
    text,         // a string; `check` (when set) refuses bad values
    path,         // a readable file, relative to the config file, stored absolute
    string_list,  // a non-empty array of distinct non-empty strings, each with its position
    custom,       // read by the section's own code (config/read_*.cpp)
};

// Which listeners take a key: TLS keys are errors on a plaintext (scep) listener and the scep
// keys on an https one. Every other table uses `any`.
enum class applies : std::uint8_t { any, https, scep };

// Why a text value is refused: the message goes on after `KEY is "VALUE"` (", must be a DNS
// name"), the hint in parentheses.
struct refusal {
    std::string tail;
    std::string hint;
};
using text_check = std::optional<refusal> (*)(std::string_view value);

// Optional properties of a key, chained from `opt`: `opt.required()`, `opt.https().hint("...")`.
struct options {
    bool is_required = false;      // missing is an error ("KEY is required") at the table's position
    applies on = applies::any;     // listener keys only
    std::string_view hint_text;    // shown after a range / value error ("0 = no limit")
    bool strict_type = false;      // enumeration: a non-string value is told the allowed strings and the hint

    constexpr options required() const {
        options o = *this;
        o.is_required = true;
        return o;
    }
    constexpr options https() const {
        options o = *this;
        o.on = applies::https;
        return o;
    }
    constexpr options scep() const {
        options o = *this;
        o.on = applies::scep;
        return o;
    }
    constexpr options hint(std::string_view h) const {
        options o = *this;
        o.hint_text = h;
        return o;
    }
    constexpr options strict() const {
        options o = *this;
        o.strict_type = true;
        return o;
    }
};
inline constexpr options opt{};

template <class S>
struct key {
    std::string_view name;
    value_kind kind = value_kind::custom;
    options opt;
    std::int64_t min = 0;  // integer, size (bytes), duration (milliseconds)
    std::int64_t max = 0;
    std::span<const std::string_view> names;  // enumeration, in enum order
    text_check check = nullptr;               // text
    // Store a checked value in its member: numbers (integer, size, duration in milliseconds,
    // boolean 0/1, enumeration index) and text (text, path); string lists.
    void (*set_number)(S&, std::uint64_t) = nullptr;
    void (*set_text)(S&, std::string&&) = nullptr;
    void (*set_list)(S&, std::vector<positioned>&&) = nullptr;
    // The member's default (duration in milliseconds, size in bytes), quoted in messages as an example.
    std::uint64_t (*default_number)() = nullptr;
};

namespace impl {

template <auto M>
struct member_traits;
template <class S, class T, T S::*M>
struct member_traits<M> {
    using owner = S;
    using type = T;
};
template <auto M>
using owner_t = typename member_traits<M>::owner;
template <auto M>
using member_t = typename member_traits<M>::type;

// Refuses (at compile time: the tables are constexpr) a range the member cannot hold.
template <class T>
constexpr void check_range(std::int64_t min, std::int64_t max) {
    if (min > max || min < 0 || static_cast<std::uint64_t>(max) > std::numeric_limits<T>::max())
        throw "config schema: range does not fit the member type";
}

template <auto M>
constexpr key<owner_t<M>> base(std::string_view name, value_kind kind, options o) {
    key<owner_t<M>> k;
    k.name = name;
    k.kind = kind;
    k.opt = o;
    return k;
}

}  // namespace impl

// An unsigned integer member (std::uint16_t/32_t/64_t) in [min, max].
template <auto M>
constexpr auto integer_key(std::string_view name, std::int64_t min, std::int64_t max, options o = {}) {
    impl::check_range<impl::member_t<M>>(min, max);
    auto k = impl::base<M>(name, value_kind::integer, o);
    k.min = min;
    k.max = max;
    k.set_number = [](impl::owner_t<M>& s, std::uint64_t v) { s.*M = static_cast<impl::member_t<M>>(v); };
    return k;
}

// A byte count member in [min, max]; the default is quoted as the example.
template <auto M>
constexpr auto size_key(std::string_view name, std::int64_t min, std::int64_t max, options o = {}) {
    impl::check_range<impl::member_t<M>>(min, max);
    auto k = impl::base<M>(name, value_kind::size, o);
    k.min = min;
    k.max = max;
    k.set_number = [](impl::owner_t<M>& s, std::uint64_t v) { s.*M = static_cast<impl::member_t<M>>(v); };
    k.default_number = [] { return static_cast<std::uint64_t>(impl::owner_t<M>{}.*M); };
    return k;
}

// A atsgate::config::duration member in [min, max]; the default is quoted as the example.
template <auto M>
constexpr auto duration_key(std::string_view name, atsgate::config::duration min, atsgate::config::duration max, options o = {}) {
    auto k = impl::base<M>(name, value_kind::duration, o);
    k.min = min.count();
    k.max = max.count();
    k.set_number = [](impl::owner_t<M>& s, std::uint64_t v) { s.*M = atsgate::config::duration(static_cast<std::int64_t>(v)); };
    k.default_number = [] { return static_cast<std::uint64_t>((impl::owner_t<M>{}.*M).count()); };
    return k;
}

template <auto M>
constexpr auto bool_key(std::string_view name, options o = {}) {
    auto k = impl::base<M>(name, value_kind::boolean, o);
    k.set_number = [](impl::owner_t<M>& s, std::uint64_t v) { s.*M = v != 0; };
    return k;
}

// An enum member; `names[i]` is written for the enum value i (config.hpp keeps each name table
// next to its enum, in enum order).
template <auto M>
constexpr auto enum_key(std::string_view name, std::span<const std::string_view> names, options o = {}) {
    auto k = impl::base<M>(name, value_kind::enumeration, o);
    k.names = names;
    k.set_number = [](impl::owner_t<M>& s, std::uint64_t v) { s.*M = static_cast<impl::member_t<M>>(v); };
    return k;
}

// A std::string member, taken as written unless `check` refuses it.
template <auto M>
constexpr auto text_key(std::string_view name, text_check check = nullptr, options o = {}) {
    auto k = impl::base<M>(name, value_kind::text, o);
    k.check = check;
    k.set_text = [](impl::owner_t<M>& s, std::string&& v) { s.*M = std::move(v); };
    return k;
}

// A std::string member holding an absolute path to a readable file.
template <auto M>
constexpr auto path_key(std::string_view name, options o = {}) {
    auto k = impl::base<M>(name, value_kind::path, o);
    k.set_text = [](impl::owner_t<M>& s, std::string&& v) { s.*M = std::move(v); };
    return k;
}

// A std::vector<positioned> member (names checked by a later layer, e.g. tls/).
template <auto M>
constexpr auto list_key(std::string_view name, options o = {}) {
    auto k = impl::base<M>(name, value_kind::string_list, o);
    k.set_list = [](impl::owner_t<M>& s, std::vector<positioned>&& v) { s.*M = std::move(v); };
    return k;
}

// A key the section's own code reads.
template <class S>
constexpr key<S> custom_key(std::string_view name, options o = {}) {
    key<S> k;
    k.name = name;
    k.opt = o;
    return k;
}

// ---- Checks for text keys ---------------------------------------------------------------------

std::optional<refusal> dns_name(std::string_view v);            // tls_sni
std::optional<refusal> dns_name_or_ip(std::string_view v);      // server_name
std::optional<refusal> header_name(std::string_view v);         // client_cert_header
std::optional<refusal> path_prefix(std::string_view v);         // scep_path, route path
std::optional<refusal> absolute_path(std::string_view v);       // health_path
std::optional<refusal> media_type(std::string_view v);          // static_content_type
std::optional<refusal> email_address(std::string_view v);       // acme email

// ---- The tables -------------------------------------------------------------------------------
// Ranges are documented next to each member in config.hpp and in the README.

inline constexpr key<server_settings> server_keys[] = {
    integer_key<&server_settings::workers>("workers", 0, 256, opt.hint("0 = one per online CPU")),
    duration_key<&server_settings::drain_timeout>("drain_timeout", 0ms, 1h),
    enum_key<&server_settings::level>("log_level", log_level_names),
    bool_key<&server_settings::access_log>("access_log"),
    enum_key<&server_settings::format>("log_format", log_format_names),
    bool_key<&server_settings::watch>("watch"),
};

inline constexpr key<timeout_settings> timeout_keys[] = {
    duration_key<&timeout_settings::handshake>("handshake", 100ms, 10min),
    duration_key<&timeout_settings::request_header>("request_header", 1s, 24h),
    duration_key<&timeout_settings::keepalive>("keepalive", 1s, 24h),
    duration_key<&timeout_settings::body>("body", 1s, 24h),
};

inline constexpr key<limit_settings> limit_keys[] = {
    integer_key<&limit_settings::max_connections>("max_connections", 1, 1'000'000),
    size_key<&limit_settings::header_bytes>("header_bytes", 1024, 1024 * 1024),
    integer_key<&limit_settings::header_count>("header_count", 1, 1000),
    size_key<&limit_settings::body_bytes>("body_bytes", 0, 1024ll << 30, opt.hint("0 = no limit")),
    size_key<&limit_settings::response_header_bytes>("response_header_bytes", 1024, 1024 * 1024),
    integer_key<&limit_settings::requests_per_connection>("requests_per_connection", 0, 1'000'000,
                                                      opt.hint("0 = no limit")),
};

inline constexpr key<listener> listener_keys[] = {
    custom_key<listener>("name"),                    // required; read_name
    custom_key<listener>("kind"),                        // read first: it decides which keys apply
    custom_key<listener>("address"),                     // feeds the endpoint check
    integer_key<&listener::port>("port", 1, 65535, opt.required()),
    custom_key<listener>("cert", opt.https()),            // the certificate shorthand
    custom_key<listener>("key", opt.https()),
    custom_key<listener>("certificate", opt.https()),     // [[listener.certificate]]
    custom_key<listener>("acme", opt.https()),            // the default certificate from [acme]
    enum_key<&listener::unknown_sni>("unknown_sni", unknown_sni_names, opt.https()),
    path_key<&listener::trust>("trust", opt.https()),
    text_key<&listener::server_name>("server_name", dns_name_or_ip, opt.https()),
    custom_key<listener>("upstream"),                    // resolved after parsing
    custom_key<listener>("route"),                       // [[listener.route]]
    enum_key<&listener::min_version>("min_version", tls_version_names,
                                        opt.https().hint("ATS: TLS 1.2+").strict()),
    enum_key<&listener::enforcement>("enforcement", enforcement_names,
                                     opt.https().hint("\"report\" serves legacy clients and counts them; see README")),
    list_key<&listener::tls12_ciphers>("tls12_ciphers", opt.https()),
    list_key<&listener::tls13_ciphersuites>("tls13_ciphersuites", opt.https()),
    list_key<&listener::groups>("groups", opt.https()),
    bool_key<&listener::session_tickets>("session_tickets", opt.https()),
    integer_key<&listener::tls13_tickets>("tls13_tickets", 0, 8, opt.https()),
    path_key<&listener::ticket_key_file>("ticket_key_file", opt.https()),
    duration_key<&listener::ticket_key_rotation>("ticket_key_rotation", 1min, 24h * 7, opt.https()),
    integer_key<&listener::session_cache>("session_cache", 0, 1'000'000,
                                      opt.https().hint("0 = no server-side session cache")),
    enum_key<&listener::client_auth>("client_auth", client_auth_names, opt.https()),
    path_key<&listener::client_ca>("client_ca", opt.https()),
    text_key<&listener::client_cert_header>("client_cert_header", header_name, opt.https()),
    enum_key<&listener::cert_format>("client_cert_format", client_cert_format_names, opt.https()),
    text_key<&listener::scep_path>("scep_path", path_prefix, opt.scep()),
    custom_key<listener>("redirect", opt.scep()),  // an https origin, stored without a trailing "/"
    bool_key<&listener::proxy_protocol>("proxy_protocol"),
    custom_key<listener>("proxy_protocol_from"),  // CIDRs; required with proxy_protocol = true
};

inline constexpr key<certificate> certificate_keys[] = {
    custom_key<certificate>("cert"),   // required unless acme = true
    custom_key<certificate>("key"),
    custom_key<certificate>("names"),  // host patterns, lower-cased
    custom_key<certificate>("acme"),   // ordered from [acme] for names
    custom_key<certificate>("key_type"),
};

inline constexpr key<acme_settings> acme_keys[] = {
    custom_key<acme_settings>("directory"),  // required, https:// URL
    text_key<&acme_settings::email>("email", email_address),
    custom_key<acme_settings>("ca"),          // a readable PEM file, or "" for the system store
    custom_key<acme_settings>("storage"),     // a directory, created if missing
    enum_key<&acme_settings::challenge>("challenge", acme_challenge_names),
    enum_key<&acme_settings::key_type>("key_type", acme_key_type_names),
    duration_key<&acme_settings::order_timeout>("order_timeout", 10s, 1h),
    duration_key<&acme_settings::request_timeout>("request_timeout", 1s, 5min),
    duration_key<&acme_settings::retry_min>("retry_min", 1s, 1h),
    duration_key<&acme_settings::retry_max>("retry_max", 1s, 24h),
};

inline constexpr key<route> route_keys[] = {
    custom_key<route>("name"),          custom_key<route>("host"),         custom_key<route>("path"),
    custom_key<route>("upstream"),      custom_key<route>("split"),        custom_key<route>("sticky"),
    custom_key<route>("static_status"), custom_key<route>("static_content_type"),
    custom_key<route>("static_body"),   custom_key<route>("static_file"),
};

inline constexpr key<split_target> split_keys[] = {
    custom_key<split_target>("upstream"),  // required
    custom_key<split_target>("weight"),    // required, 0..1000000
};

inline constexpr key<upstream> upstream_keys[] = {
    custom_key<upstream>("name"),  // required
    custom_key<upstream>("url"),      // the one-member shorthand of members
    custom_key<upstream>("members"),
    duration_key<&upstream::connect_timeout>("connect_timeout", 100ms, 10min),
    duration_key<&upstream::response_timeout>("response_timeout", 1s, 24h),
    integer_key<&upstream::keepalive>("keepalive", 0, 10'000, opt.hint("0 = close after each request")),
    duration_key<&upstream::keepalive_timeout>("keepalive_timeout", 1s, 24h),
    integer_key<&upstream::warm>("warm", 0, 10'000, opt.hint("0 = connect on demand only")),
    enum_key<&upstream::tls_min_version>("tls_min_version", tls_version_any_names),
    text_key<&upstream::tls_ciphers>("tls_ciphers"),
    bool_key<&upstream::tls_verify>("tls_verify"),
    path_key<&upstream::tls_ca>("tls_ca"),
    text_key<&upstream::tls_sni>("tls_sni", dns_name),
    text_key<&upstream::health_path>("health_path", absolute_path),
    duration_key<&upstream::health_interval>("health_interval", 1s, 1h),
    duration_key<&upstream::health_timeout>("health_timeout", 100ms, 1min),
    integer_key<&upstream::health_rise>("health_rise", 1, 100),
    integer_key<&upstream::health_fall>("health_fall", 1, 100),
    integer_key<&upstream::max_fails>("max_fails", 0, 1000, opt.hint("0 = no passive ejection")),
    duration_key<&upstream::fail_timeout>("fail_timeout", 1s, 1h),
};

inline constexpr key<member> member_keys[] = {
    custom_key<member>("url"),     // required
    custom_key<member>("weight"),  // 1..1000
};

inline constexpr key<admin_settings> admin_keys[] = {
    custom_key<admin_settings>("address"),  // loopback unless a token is set
    integer_key<&admin_settings::port>("port", 1, 65535, opt.required()),
    custom_key<admin_settings>("token"),
    custom_key<admin_settings>("token_file"),
};

// The top-level keys, and every table as its header is written, with its keys' names.
inline constexpr std::string_view top_keys[] = {"server", "timeouts", "limits", "listener", "upstream", "admin", "acme"};

struct section {
    std::string_view header;  // "[server]", "[[listener.route]]"; "" for tables without a header of their own
    std::span<const std::string_view> keys;
};

template <class S, std::size_t N>
constexpr std::array<std::string_view, N> names_of(const key<S> (&table)[N]) {
    std::array<std::string_view, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = table[i].name;
    return out;
}

inline constexpr auto server_key_names = names_of(server_keys);
inline constexpr auto timeout_key_names = names_of(timeout_keys);
inline constexpr auto limit_key_names = names_of(limit_keys);
inline constexpr auto listener_key_names = names_of(listener_keys);
inline constexpr auto certificate_key_names = names_of(certificate_keys);
inline constexpr auto route_key_names = names_of(route_keys);
inline constexpr auto split_key_names = names_of(split_keys);
inline constexpr auto upstream_key_names = names_of(upstream_keys);
inline constexpr auto member_key_names = names_of(member_keys);
inline constexpr auto admin_key_names = names_of(admin_keys);
inline constexpr auto acme_key_names = names_of(acme_keys);

// Tables written with a header of their own, for "it belongs in [[listener]]" hints.
inline constexpr section sections[] = {
    {"[server]", server_key_names},
    {"[timeouts]", timeout_key_names},
    {"[limits]", limit_key_names},
    {"[[listener]]", listener_key_names},
    {"[[listener.certificate]]", certificate_key_names},
    {"[[listener.route]]", route_key_names},
    {"[[upstream]]", upstream_key_names},
    {"[admin]", admin_key_names},
    {"[acme]", acme_key_names},
};

}  // namespace atsgate::config::schema
