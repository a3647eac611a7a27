// [[listener]] with its certificates ([[listener.certificate]] and the cert/key shorthand).
// Order: name, kind (it decides which keys apply), address and the scalar keys from the schema
// table, then the certificates and the rules that tie TLS keys together, then the default
// upstream and the routes (read_route.cpp). Names are resolved later (resolve.cpp).

#include "config/sections.hpp"

#include <algorithm>

namespace atsgate::config {

namespace {


certificate read_certificate(reader& r, const scope& s) {
    certificate c;
    c.where = s.where;
    c.key_path = s.path;
    r.record_positions(s, c.key_pos);
    if (auto v = r.read_bool(s, "acme")) c.acme = *v;
    if (c.acme) {
        // Ordered from [acme]: no files, exact DNS names only.
        for (std::string_view k : {"cert", "key"})
            if (const auto* n = s.table.get(k))
                r.error(r.pos(n->source()), s.key(k), s.key(k) + " cannot be set with acme = true",
                        "the certificate and its key come from [acme]; remove cert and key, or acme");
        if (const auto v = r.read_enum(s, "key_type", acme_key_type_names)) c.key_type = static_cast<acme_key_type>(*v);
    } else {
        if (auto p = r.read_path(s, "cert", true)) c.cert = std::move(*p);
        if (auto p = r.read_path(s, "key", true)) c.key = std::move(*p);
        if (const auto* n = s.table.get("key_type"))
            r.error(r.pos(n->source()), s.key("key_type"), s.key("key_type") + " needs acme = true",
                    "the key of a certificate file is whatever the file holds");
    }
    if (auto names = r.read_string_list(s, "names", c.acme)) {
        for (const auto& n : *names) {
            if (c.acme && !detail::is_dns_name(n.value)) {
                r.error(n.where, s.key("names"),
                        s.key("names") + " entry " + quote(n.value) + " must be a DNS name with acme = true",
                        n.value.rfind("*.", 0) == 0 ? "wildcards need the dns-01 challenge, which atsgate does not answer"
                                                    : "ACME certificates here are for DNS names");
                continue;
            }
            if (!detail::is_host_pattern(n.value)) {
                r.error(n.where, s.key("names"),
                        s.key("names") + " entry " + quote(n.value) +
                            " must be a DNS name, a wildcard \"*.example.com\" or an IP address");
                continue;
            }
            c.names.push_back(positioned{lower(n.value), n.where});
        }
    }
    return c;
}

// The cert/key shorthand (or acme = true) first, then [[listener.certificate]]; at least one
// certificate.
void read_certificates(reader& r, const scope& s, listener& l) {
    const bool has_cert = s.table.contains("cert");
    const bool has_key = s.table.contains("key");
    if (auto v = r.read_bool(s, "acme")) l.acme = *v;
    if (l.acme) {
        for (std::string_view k : {"cert", "key"})
            if (const auto* n = s.table.get(k))
                r.error(r.pos(n->source()), s.key(k), s.key(k) + " cannot be set with acme = true",
                        "the default certificate comes from [acme] for server_name; remove cert and key, or acme");
        certificate c;
        c.shorthand = true;
        c.acme = true;
        c.where = s.where;
        c.key_path = s.path;
        if (const auto* n = s.table.get("acme")) c.key_pos.emplace("acme", r.pos(n->source()));
        if (l.server_name.empty()) {
            const auto* n = s.table.get("acme");
            r.error(n != nullptr ? r.pos(n->source()) : s.where, s.key("acme"),
                    s.key("acme") + " needs server_name", "the certificate is ordered for the name devices use");
        } else if (!detail::is_dns_name(l.server_name)) {
            r.error(r.pos(s.table.get("server_name")->source()), s.key("server_name"),
                    s.key("server_name") + " is " + quote(l.server_name) + ", must be a DNS name with acme = true",
                    "ACME certificates here are for DNS names");
        } else {
            c.names.push_back(positioned{lower(l.server_name), c.where});
        }
        l.certificates.push_back(std::move(c));
    } else if (has_cert || has_key) {
        certificate c;
        c.shorthand = true;
        c.where = s.where;
        c.key_path = s.path;
        if (auto p = r.read_path(s, "cert", true)) c.cert = std::move(*p);
        if (auto p = r.read_path(s, "key", true)) c.key = std::move(*p);
        for (const char* k : {"cert", "key"})
            if (const auto* n = s.table.get(k)) c.key_pos.emplace(k, r.pos(n->source()));
        l.certificates.push_back(std::move(c));
    }
    for (const auto& [i, ct] : r.nested_tables(s, "certificate", "[[listener.certificate]]")) {
        const scope cs{*ct, s.key("certificate[" + std::to_string(i) + "]"), r.pos(ct->source())};
        r.check_keys(cs, schema::certificate_key_names, "[[listener.certificate]]");
        l.certificates.push_back(read_certificate(r, cs));
    }
    // `certificate = []` is no certificate at all (the shorthand aside): never a silent no-op.
    r.report_empty_array(s, "certificate", "certificate",
                         "write [[listener.certificate]] entries, or omit the key and set cert and key");
    if (!has_cert && !has_key && !l.acme && !s.table.contains("certificate"))
        r.error(s.where, s.key("cert"), s.key("cert") + " is required",
                "set cert and key, acme = true, or add [[listener.certificate]] entries");
}

// Device identity: client_ca, client_cert_header and client_cert_format need client_auth.
void check_client_auth(reader& r, const scope& s, listener& l, bool client_auth_refused) {
    if (client_auth_refused) {
        // Its own error says what is wrong; "needs client_auth" here would only mislead.
    } else if (l.client_auth == client_auth_mode::none) {
        for (std::string_view k : {"client_ca", "client_cert_header", "client_cert_format"}) {
            if (const auto* n = s.table.get(k))
                r.error(r.pos(n->source()), s.key(k), s.key(k) + " needs client_auth = \"optional\" or \"require\"");
        }
    } else if (l.client_cert_header.empty()) {
        l.client_cert_header = l.cert_format == client_cert_format::rfc9440 ? "Client-Cert" : "X-Client-Cert";
    }
}

// redirect = "https://origin": where a scep listener sends everything that is not SCEP.
void read_redirect(reader& r, const scope& s, listener& l) {
    const auto* v = r.read_string(s, "redirect", false);
    if (v == nullptr) return;
    const auto parsed = detail::parse_upstream_url(v->get());
    if (parsed.problem == detail::url_problem::ok && parsed.tls) {
        std::string origin = v->get();
        if (!origin.empty() && origin.back() == '/') origin.pop_back();
        l.redirect = std::move(origin);
    } else {
        r.error(r.pos(v->source()), s.key("redirect"),
                s.key("redirect") + " is " + quote(v->get()) +
                    ", must be an https:// origin such as \"https://mdm.example.com\"",
                "non-SCEP requests are redirected there, path and query kept");
    }
}

// proxy_protocol_from: the balancers' addresses; required with proxy_protocol = true (otherwise
// any client could claim any address), refused without it.
void read_proxy_protocol(reader& r, const scope& s, listener& l) {
    const std::string from_key = s.key("proxy_protocol_from");
    const auto* from_node = s.table.get("proxy_protocol_from");
    if (auto list = r.read_string_list(s, "proxy_protocol_from")) {
        for (const auto& e : *list) {
            if (auto c = detail::parse_cidr(e.value)) {
                l.proxy_protocol_from.push_back(std::move(*c));
            } else {
                r.error(e.where, from_key,
                        from_key + " entry " + quote(e.value) + " must be an IPv4 or IPv6 address or CIDR block",
                        "e.g. \"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\"; no bits set past the prefix");
            }
        }
    }
    if (l.proxy_protocol && from_node == nullptr) {
        const auto* pp = s.table.get("proxy_protocol");
        r.error(pp != nullptr ? r.pos(pp->source()) : s.where, from_key,
                from_key + " is required with proxy_protocol = true",
                "the load balancers' addresses: a client connecting from elsewhere could claim any address");
    } else if (!l.proxy_protocol && from_node != nullptr) {
        r.error(r.pos(from_node->source()), from_key, from_key + " needs proxy_protocol = true");
    }
}

}  // namespace

listener read_listener(reader& r, std::size_t index, const toml::table& t, references& refs) {
    listener l;
    listener_refs& lrefs = refs.listeners.emplace_back();
    const scope s{t, "listener[" + std::to_string(index) + "]", r.pos(t.source())};
    l.where = s.where;
    l.key_path = s.path;
    r.record_positions(s, l.key_pos);
    r.check_keys(s, schema::listener_key_names, "[[listener]]");

    if (auto name = r.read_name(s, true)) l.name = std::move(*name);

    if (const auto v = r.read_enum(s, "kind", listener_kind_names,
                                   "scep is the only plaintext kind: Apple exempts SCEP from ATS"))
        l.kind = static_cast<listener_kind>(*v);
    const bool https = l.kind == listener_kind::https;
    const schema::applies kind = https ? schema::applies::https : schema::applies::scep;
    // Keys that do not apply to this kind are errors, never silently ignored.
    r.refuse_foreign_keys(s, schema::listener_keys, kind);

    l.address = "0.0.0.0";
    std::optional<detail::ip_address> ip = detail::parse_ip(l.address);
    if (const auto* v = r.read_string(s, "address", false)) {
        ip = detail::parse_ip(v->get());
        if (ip)
            l.address = v->get();
        else
            r.error(r.pos(v->source()), s.key("address"),
                    s.key("address") + " is " + quote(v->get()) + ", must be an IPv4 or IPv6 address",
                    R"("0.0.0.0" = every IPv4 address, "::" = every IPv6 address)");
    } else if (s.table.contains("address")) {
        ip.reset();
    }

    const auto refused = r.read_keys(s, schema::listener_keys, l, kind);
    if (ip && l.port != 0)  // 0: missing or refused (1..65535)
        refs.endpoints.push_back(endpoint{s.path, s.key("port"), r.pos(s.table.get("port")->source()), l.address, *ip, l.port});

    const bool client_auth_refused = std::find(refused.begin(), refused.end(), "client_auth") != refused.end();
    read_proxy_protocol(r, s, l);
    if (https) {
        read_certificates(r, s, l);
        check_client_auth(r, s, l, client_auth_refused);
        // Report mode accepts TLS 1.0 up: a TLS 1.3-only listener has nothing legacy to report on.
        if (l.enforcement == enforcement_mode::report && l.min_version == tls_version::v1_3)
            r.error(r.pos(s.table.get("enforcement")->source()), s.key("enforcement"),
                    s.key("enforcement") + " is \"report\", but min_version is \"1.3\"",
                    "report mode needs min_version = \"1.2\" (it accepts TLS 1.0 to 1.3)");
    } else {
        read_redirect(r, s, l);
    }

    if (const auto* v = r.read_string(s, "upstream", false)) {
        l.upstream = v->get();
        lrefs.upstream = upstream_ref{s.key("upstream"), v->get(), r.pos(v->source())};
    } else if (s.table.contains("upstream")) {
        lrefs.reference_broken = true;
    }

    for (const auto& [i, rt] : r.nested_tables(s, "route", "[[listener.route]]")) {
        const scope rs{*rt, s.key("route[" + std::to_string(i) + "]"), r.pos(rt->source())};
        l.routes.push_back(read_route(r, rs, l, client_auth_refused, lrefs.routes.emplace_back()));
    }
    // `route = []` routes nothing: without an upstream the listener would answer 404 to everything.
    r.report_empty_array(s, "route", "route", "write [[listener.route]] entries, or omit the key");
    if (!s.table.contains("upstream") && !s.table.contains("route")) {
        lrefs.reference_broken = true;
        r.error(s.where, s.key("upstream"), s.key("upstream") + " is required", "or give [[listener.route]] entries");
    }
    return l;
}

}  // namespace atsgate::config
