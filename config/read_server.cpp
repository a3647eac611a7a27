// [server], [timeouts], [limits]: scalar keys only, all read from their schema tables.
// [admin]: the token decides whether a non-loopback address is acceptable.

#include "config/sections.hpp"

#include <algorithm>

namespace atsgate::config {

namespace {

constexpr std::string_view admin_hint = "the admin endpoint is plain HTTP; keep it on loopback";

}  // namespace

void read_server(reader& r, const toml::table& t, server_settings& out) {
    const scope s{t, "server", r.pos(t.source())};
    r.check_keys(s, schema::server_key_names, "[server]");
    r.read_keys(s, schema::server_keys, out);
}

void read_timeouts(reader& r, const toml::table& t, timeout_settings& out) {
    const scope s{t, "timeouts", r.pos(t.source())};
    r.check_keys(s, schema::timeout_key_names, "[timeouts]");
    r.read_keys(s, schema::timeout_keys, out);
}

void read_limits(reader& r, const toml::table& t, limit_settings& out) {
    const scope s{t, "limits", r.pos(t.source())};
    r.check_keys(s, schema::limit_key_names, "[limits]");
    r.read_keys(s, schema::limit_keys, out);
}

admin_settings read_admin(reader& r, const toml::table& t, references& refs) {
    admin_settings a;
    const scope s{t, "admin", r.pos(t.source())};
    a.where = s.where;
    r.check_keys(s, schema::admin_key_names, "[admin]");

    // Token first: it decides whether a non-loopback address is acceptable.
    const toml::node* token_node = nullptr;
    std::optional<std::string> token;
    std::string token_path;  // set when the token comes from token_file
    // A token was written (it may still be refused, with its own error).
    const bool token_given = s.table.contains("token") || s.table.contains("token_file");
    if (s.table.contains("token") && s.table.contains("token_file")) {
        r.error(r.pos(s.table.get("token_file")->source()), s.key("token_file"),
                s.key("token_file") + " and " + s.key("token") + " are both set", "keep one");
    } else if (const auto* v = r.read_string(s, "token", false)) {
        token_node = v;
        token = v->get();
    } else if (auto p = r.read_path(s, "token_file", false)) {
        token_node = s.table.get("token_file");
        token_path = *p;
        token = r.read_small_file(s, "token_file", *p, 4096);
        while (token && !token->empty() && (token->back() == '\n' || token->back() == '\r' || token->back() == ' '))
            token->pop_back();
    }
    if (token) {
        const bool printable = std::all_of(token->begin(), token->end(), [](char c) { return c > 0x20 && c < 0x7f; });
        if (token->size() < 16 || !printable) {
            constexpr std::string_view shape = "at least 16 printable characters without spaces";
            if (token_path.empty())
                r.error(r.pos(token_node->source()), s.key("token"), s.key("token") + " must be " + std::string(shape),
                        "generate one with: openssl rand -hex 24");
            else
                r.error(r.pos(token_node->source()), s.key("token_file"),
                        s.key("token_file") + ": " + quote_path(token_path) + " must hold " + std::string(shape),
                        "a trailing newline is ignored; generate one with: openssl rand -hex 24 > " + token_path);
        } else {
            a.token = std::move(*token);
        }
    }

    std::optional<detail::ip_address> ip = detail::parse_ip(a.address);
    if (const auto* v = r.read_string(s, "address", false)) {
        ip = detail::parse_ip(v->get());
        if (ip && (ip->is_loopback() || !a.token.empty() || token_given)) {
            // token_given without a.token: the token was refused and that error says why;
            // "unless a token is set" would contradict what the operator wrote.
            a.address = v->get();
        } else if (ip) {
            ip.reset();
            r.error(r.pos(v->source()), s.key("address"),
                    s.key("address") + " is " + quote(v->get()) +
                        ", must be a loopback address (127.0.0.0/8 or ::1) unless a token is set",
                    admin_hint);
        } else {
            r.error(r.pos(v->source()), s.key("address"),
                    s.key("address") + " is " + quote(v->get()) + ", must be a loopback address (127.0.0.0/8 or ::1)",
                    admin_hint);
        }
    } else if (s.table.contains("address")) {
        ip.reset();
    }
    r.read_keys(s, schema::admin_keys, a);  // port
    if (ip && a.port != 0)  // 0: missing or refused (1..65535)
        refs.endpoints.push_back(
            endpoint{"admin", "admin.port", r.pos(s.table.get("port")->source()), a.address, *ip, a.port});
    return a;
}

acme_settings read_acme(reader& r, const toml::table& t) {
    acme_settings a;
    const scope s{t, "acme", r.pos(t.source())};
    a.where = s.where;
    r.record_positions(s, a.key_pos);
    r.check_keys(s, schema::acme_key_names, "[acme]");
    if (const auto* v = r.read_string(s, "directory", true)) {
        // The origin must parse like an https:// upstream URL; the path is the CA's.
        const std::string_view text = v->get();
        const auto path_at = text.find('/', text.find("://") == std::string_view::npos ? 0 : text.find("://") + 3);
        const auto parsed = detail::parse_upstream_url(std::string(text.substr(0, path_at)));
        const bool clean = std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
        if (parsed.problem == detail::url_problem::ok && parsed.tls && clean && text.size() <= 2048)
            a.directory = v->get();
        else
            r.error(r.pos(v->source()), s.key("directory"),
                    s.key("directory") + " is " + quote(v->get()) + ", must be an https:// URL",
                    "the CA's ACME directory, e.g. \"https://acme-v02.api.letsencrypt.org/directory\" (RFC 8555 7.1.1)");
    }
    if (const auto* v = r.read_string(s, "ca", false)) {
        if (!v->get().empty()) {
            if (auto p = r.read_path(s, "ca", false)) a.ca = std::move(*p);
        }
    }
    if (const auto* v = r.read_string(s, "storage", false)) {
        if (v->get().empty())
            r.error(r.pos(v->source()), s.key("storage"), s.key("storage") + " is empty, must be a directory path",
                    "created if missing, mode 0700");
        else
            a.storage = r.absolute(v->get());
    }
    r.read_keys(s, schema::acme_keys, a);
    if (a.retry_max < a.retry_min) {
        const auto* n = s.table.get("retry_max");
        r.error(n != nullptr ? r.pos(n->source()) : s.where, s.key("retry_max"),
                s.key("retry_max") + " is shorter than " + s.key("retry_min"), "the backoff grows from retry_min to retry_max");
    }
    return a;
}

}  // namespace atsgate::config
