// [[upstream]]: name, members (the url shorthand or a members array), then the scalar keys from
// the schema table, then the rules that tie keys together (warm vs keepalive, TLS keys without an
// https member, health keys without health_path).

#include "config/sections.hpp"

#include <algorithm>

namespace atsgate::config {

namespace {

// An upstream member URL: http[s]://host[:port][/]. Reports and returns nullopt when refused.
std::optional<detail::upstream_url> read_member_url(reader& r, const std::string& key_path,
                                                    const toml::value<std::string>& v) {
    const auto parsed = detail::parse_upstream_url(v.get());
    const std::string head = key_path + " is " + quote(v.get()) + ", ";
    const source_pos where = r.pos(v.source());
    switch (parsed.problem) {
        case detail::url_problem::ok: return parsed;
        case detail::url_problem::not_http:
            r.error(where, key_path, head + R"(must be an http:// or https:// URL such as "http://10.0.0.5:8080")");
            break;
        case detail::url_problem::userinfo:
            r.error(where, key_path, head + "must not contain user information (\"user@\")");
            break;
        case detail::url_problem::query: r.error(where, key_path, head + "must not contain a query (\"?...\")"); break;
        case detail::url_problem::fragment:
            r.error(where, key_path, head + "must not contain a fragment (\"#...\")");
            break;
        case detail::url_problem::path:
            r.error(where, key_path, head + "must not contain a path other than \"/\"");
            break;
        case detail::url_problem::bad_host:
            r.error(where, key_path, head + "host must be a DNS name, an IPv4 address or a bracketed IPv6 address");
            break;
        case detail::url_problem::bad_port: r.error(where, key_path, head + "port must be between 1 and 65535"); break;
    }
    return std::nullopt;
}

member make_member(const reader& r, const toml::value<std::string>& v, const detail::upstream_url& parsed) {
    member m;
    m.url = v.get();
    m.host = parsed.host;
    m.port = parsed.port;
    m.tls = parsed.tls;
    m.where = r.pos(v.source());
    return m;
}

// members = [{ url, weight }, ...]: each URL once (however it is spelled).
void read_members(reader& r, const scope& s, upstream& u) {
    const auto tables = r.nested_tables(s, "members", "members = [{ url = \"...\", weight = 1 }, ...]");
    if (tables.empty() && s.table.get("members")->is_array())
        r.error(r.pos(s.table.get("members")->source()), s.key("members"),
                s.key("members") + " is empty, must list at least one member");
    std::vector<std::size_t> member_index;  // members[] index in the file of each u.members entry
    for (const auto& [i, mt] : tables) {
        const scope ms{*mt, s.key("members[" + std::to_string(i) + "]"), r.pos(mt->source())};
        r.check_keys(ms, schema::member_key_names, "");
        const auto* v = r.read_string(ms, "url", true);
        std::optional<detail::upstream_url> parsed;
        if (v != nullptr) parsed = read_member_url(r, ms.key("url"), *v);
        const auto w = r.read_integer(ms, "weight", 1, 1000);
        if (!parsed) continue;
        member m = make_member(r, *v, *parsed);
        m.where = ms.where;
        if (w) m.weight = static_cast<std::uint32_t>(*w);
        // The same backend however it is spelled: scheme, host (case-insensitive; IP literals by
        // value) and port, with the default port filled in.
        const auto dup = std::find_if(u.members.begin(), u.members.end(), [&](const member& o) {
            if (o.tls != m.tls || o.port != m.port) return false;
            const auto a = detail::parse_ip(o.host);
            const auto b = detail::parse_ip(m.host);
            return a && b ? *a == *b : lower(o.host) == lower(m.host);
        });
        if (dup != u.members.end()) {
            const auto k = member_index[static_cast<std::size_t>(dup - u.members.begin())];
            r.error(r.pos(v->source()), ms.key("url"),
                    ms.key("url") + " " + quote(m.url) + " is already listed as members[" + std::to_string(k) + "]",
                    dup->url == m.url ? std::string{} : "the same scheme, host and port as " + quote(dup->url));
            continue;
        }
        u.members.push_back(std::move(m));
        member_index.push_back(i);
    }
}

// Keys that are valid but do nothing with the rest of this upstream: warnings, never silent.
void warn_ineffective(reader& r, const scope& s, upstream& u) {
    if (u.warm > u.keepalive && !s.table.contains("warm")) {
        u.warm = u.keepalive;  // the default follows a smaller keepalive silently
    } else if (u.warm > u.keepalive) {
        const auto* n = s.table.get("warm");
        r.warning(n != nullptr ? r.pos(n->source()) : s.where, s.key("warm"),
                  s.key("warm") + " is more than keepalive (" + std::to_string(u.keepalive) +
                      "): only keepalive idle connections are kept");
        u.warm = u.keepalive;
    }

    // TLS toward https:// members (the internal hop: legacy versions are allowed there).
    const bool any_tls = std::any_of(u.members.begin(), u.members.end(), [](const member& m) { return m.tls; });
    if (!any_tls && !u.members.empty()) {
        for (std::string_view k : {"tls_min_version", "tls_ciphers", "tls_verify", "tls_ca", "tls_sni"}) {
            if (const auto* n = s.table.get(k))
                r.warning(r.pos(n->source()), s.key(k), s.key(k) + " has no effect: no member of " + s.path + " is https://");
        }
    } else if (any_tls && !u.tls_ca.empty() && !u.tls_verify &&
               (s.table.get("tls_verify") == nullptr || s.table.get("tls_verify")->is_boolean())) {
        // A CA bundle suggests the members' certificates are checked; without tls_verify they are
        // not (the internal hop accepts any certificate). A refused tls_verify has its own error.
        r.warning(r.pos(s.table.get("tls_ca")->source()), s.key("tls_ca"),
                  s.key("tls_ca") + " has no effect: tls_verify is false, members' certificates are not verified",
                  "set tls_verify = true");
    }

    if (!s.table.contains("health_path")) {
        // Without health_path there are no active checks: these would be silently ignored.
        for (std::string_view k : {"health_interval", "health_timeout", "health_rise", "health_fall"}) {
            if (const auto* n = s.table.get(k))
                r.warning(r.pos(n->source()), s.key(k), s.key(k) + " has no effect: " + s.path + " has no health_path",
                          "active checks run only when health_path = \"/...\" is set");
        }
    }
}

}  // namespace

upstream read_upstream(reader& r, std::size_t index, const toml::table& t, references& refs) {
    upstream u;
    const scope s{t, "upstream[" + std::to_string(index) + "]", r.pos(t.source())};
    u.where = s.where;
    u.key_path = s.path;
    r.record_positions(s, u.key_pos);
    r.check_keys(s, schema::upstream_key_names, "[[upstream]]");

    // References resolve against the name as written, even one refused below (its own error).
    if (const auto* v = s.table.get("name"); v != nullptr && v->is_string())
        refs.upstream_names[index] = v->as_string()->get();
    if (auto name = r.read_name(s, true)) u.name = std::move(*name);

    const bool has_url = s.table.contains("url");
    const bool has_members = s.table.contains("members");
    if (has_url && has_members) {
        r.error(r.pos(s.table.get("members")->source()), s.key("members"),
                s.key("members") + " and " + s.key("url") + " are both set", "url is the one-member shorthand; keep one");
    } else if (!has_url && !has_members) {
        r.error(s.where, s.key("url"), s.key("url") + " is required",
                "or list members = [{ url = \"...\", weight = 1 }, ...]");
    }
    if (has_url && !has_members) {
        if (const auto* v = r.read_string(s, "url", true)) {
            if (auto parsed = read_member_url(r, s.key("url"), *v)) u.members.push_back(make_member(r, *v, *parsed));
        }
    } else if (has_members && !has_url) {
        read_members(r, s, u);
    }

    r.read_keys(s, schema::upstream_keys, u);
    warn_ineffective(r, s, u);
    return u;
}

}  // namespace atsgate::config
