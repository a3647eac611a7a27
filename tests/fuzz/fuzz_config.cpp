// Fuzz target: config::load_string (the TOML config, read at start-up and on every reload; a
// reload's text may come through the admin endpoint's file path, so a crash here stops the proxy).
//
// Input: TOML text. It is loaded as if it were <golden dir>/fuzz.toml, so the relative file
// paths of the seed configs (certs/mdm.pem, files/...) resolve to real test files and the
// validation past "file readable" is reached. Checks:
// - load_string never throws (exceptions must become diagnostics at the config boundary);
// - a config is returned exactly when no diagnostic is an error;
// - every diagnostic names the file, has a message, renders as one line, and they come in file
//   order with position-less ones last;
// - a returned config holds only values in the documented ranges (config.hpp: "downstream code
//   never re-checks"), and every name it resolved (upstream index) points at that name.
// Loaded twice: the result must be the same (no hidden state).

#include "fuzz_check.hpp"

#include "config/loader.hpp"

#include <chrono>
#include <exception>
#include <set>
#include <string>

namespace cfg = atsgate::config;
using namespace std::chrono_literals;

namespace {

const std::string config_path = std::string(ATSGATE_FUZZ_CONFIG_DIR) + "/fuzz.toml";

bool in(std::chrono::milliseconds v, std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    return v >= lo && v <= hi;
}

bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    return true;
}

void check_config(const cfg::config& c) {
    FUZZ_CHECK(c.server.workers <= 256, "workers %u", c.server.workers);
    FUZZ_CHECK(in(c.server.drain_timeout, 0ms, 1h), "drain_timeout");
    FUZZ_CHECK(in(c.timeouts.handshake, 100ms, 10min), "timeouts.handshake");
    FUZZ_CHECK(in(c.timeouts.request_header, 1s, 24h), "timeouts.request_header");
    FUZZ_CHECK(in(c.timeouts.keepalive, 1s, 24h), "timeouts.keepalive");
    FUZZ_CHECK(in(c.timeouts.body, 1s, 24h), "timeouts.body");
    const auto& l = c.limits;
    FUZZ_CHECK(l.max_connections >= 1 && l.max_connections <= 1000000, "max_connections %u", l.max_connections);
    FUZZ_CHECK(l.header_bytes >= 1024 && l.header_bytes <= 1048576, "header_bytes %u", l.header_bytes);
    FUZZ_CHECK(l.header_count >= 1 && l.header_count <= 1000, "header_count %u", l.header_count);
    FUZZ_CHECK(l.body_bytes <= (1024ull << 30), "body_bytes %llu", static_cast<unsigned long long>(l.body_bytes));
    FUZZ_CHECK(l.response_header_bytes >= 1024 && l.response_header_bytes <= 1048576, "response_header_bytes %u",
               l.response_header_bytes);
    FUZZ_CHECK(l.requests_per_connection <= 1000000, "requests_per_connection %u", l.requests_per_connection);

    FUZZ_CHECK(!c.listeners.empty(), "no listener");
    FUZZ_CHECK(!c.upstreams.empty(), "no upstream");
    std::set<std::string> upstream_names;
    for (const auto& u : c.upstreams) {
        FUZZ_CHECK(valid_name(u.name), "upstream name \"%s\"", u.name.c_str());
        FUZZ_CHECK(upstream_names.insert(u.name).second, "duplicate upstream \"%s\"", u.name.c_str());
        FUZZ_CHECK(!u.members.empty(), "upstream %s without members", u.name.c_str());
        for (const auto& m : u.members) {
            FUZZ_CHECK(!m.host.empty() && m.port != 0, "member %s", m.url.c_str());
            FUZZ_CHECK(m.weight >= 1 && m.weight <= 1000, "member weight %u", m.weight);
        }
        FUZZ_CHECK(in(u.connect_timeout, 100ms, 10min), "connect_timeout");
        FUZZ_CHECK(in(u.response_timeout, 1s, 24h), "response_timeout");
        FUZZ_CHECK(u.keepalive <= 10000 && u.warm <= u.keepalive, "keepalive %u warm %u", u.keepalive, u.warm);
        FUZZ_CHECK(in(u.keepalive_timeout, 1s, 24h), "keepalive_timeout");
        FUZZ_CHECK(in(u.health_interval, 1s, 1h) && in(u.health_timeout, 100ms, 1min), "health timings");
        FUZZ_CHECK(u.health_rise >= 1 && u.health_rise <= 100 && u.health_fall >= 1 && u.health_fall <= 100,
                   "health rise/fall");
        FUZZ_CHECK(u.max_fails <= 1000 && in(u.fail_timeout, 1s, 1h), "passive ejection");
    }
    auto check_target = [&](const std::string& name, std::size_t index) {
        FUZZ_CHECK(index < c.upstreams.size(), "upstream index %zu of %zu", index, c.upstreams.size());
        FUZZ_CHECK(c.upstreams[index].name == name, "index points at \"%s\", not \"%s\"",
                   c.upstreams[index].name.c_str(), name.c_str());
    };
    std::set<std::string> listener_names;
    for (const auto& ls : c.listeners) {
        FUZZ_CHECK(valid_name(ls.name), "listener name \"%s\"", ls.name.c_str());
        FUZZ_CHECK(listener_names.insert(ls.name).second, "duplicate listener \"%s\"", ls.name.c_str());
        FUZZ_CHECK(ls.port != 0, "listener %s without port", ls.name.c_str());
        if (ls.kind == cfg::listener_kind::https)
            FUZZ_CHECK(!ls.certificates.empty(), "https listener %s without certificate", ls.name.c_str());
        else
            FUZZ_CHECK(ls.certificates.empty(), "scep listener %s with certificates", ls.name.c_str());
        for (const auto& ct : ls.certificates)
            FUZZ_CHECK(!ct.cert.empty() && !ct.key.empty() && ct.cert.front() == '/' && ct.key.front() == '/',
                       "certificate paths not absolute");
        FUZZ_CHECK(ls.tls13_tickets <= 8, "tls13_tickets %u", ls.tls13_tickets);
        FUZZ_CHECK(in(ls.ticket_key_rotation, 1min, 24h * 7), "ticket_key_rotation");
        if (ls.upstream_index) check_target(ls.upstream, *ls.upstream_index);
        FUZZ_CHECK(ls.upstream_index.has_value() == !ls.upstream.empty(), "listener %s: upstream vs index",
                   ls.name.c_str());
        if (!ls.upstream_index) FUZZ_CHECK(!ls.routes.empty(), "listener %s has no target at all", ls.name.c_str());
        std::set<std::string> route_names;
        for (const auto& r : ls.routes) {
            if (!r.name.empty()) {
                FUZZ_CHECK(valid_name(r.name), "route name \"%s\"", r.name.c_str());
                FUZZ_CHECK(route_names.insert(r.name).second, "duplicate route \"%s\"", r.name.c_str());
            }
            FUZZ_CHECK(!r.path.empty() && r.path.front() == '/', "route path \"%s\"", r.path.c_str());
            FUZZ_CHECK(r.static_reply.has_value() == r.targets.empty(), "route with both/neither targets and reply");
            for (const auto& t : r.targets) {
                check_target(t.upstream, t.upstream_index);
                FUZZ_CHECK(t.weight <= 1000000, "weight %u", t.weight);
            }
            if (r.static_reply) {
                const auto& s = *r.static_reply;
                FUZZ_CHECK(s.status >= 200 && s.status <= 599, "static status %u", s.status);
                FUZZ_CHECK(s.body.size() <= 64 * 1024, "static body %zu bytes", s.body.size());
                if (s.status == 204 || s.status == 304) FUZZ_CHECK(s.body.empty(), "body on a static 204/304");
            }
            if (r.sticky == cfg::sticky_kind::path_segment) FUZZ_CHECK(r.sticky_segment >= 1, "sticky segment 0");
            if (r.sticky == cfg::sticky_kind::header) FUZZ_CHECK(!r.sticky_name.empty(), "sticky header unnamed");
        }
    }
    if (c.admin) FUZZ_CHECK(c.admin->port != 0, "admin without port");
}

std::string render(const cfg::load_result& r) {
    std::string out = r.value ? "config\n" : "no config\n";
    for (const auto& d : r.diags) out += d.to_string() + "\n";
    return out;
}

cfg::load_result load(std::string_view text) {
    try {
        return cfg::load_string(text, config_path);
    } catch (const std::exception& e) {
        FUZZ_CHECK(false, "load_string threw: %s", e.what());
    } catch (...) {
        FUZZ_CHECK(false, "load_string threw a non-std exception");
    }
    return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const cfg::load_result r = load(text);

    FUZZ_CHECK(r.value.has_value() == !cfg::has_errors(r.diags), "config returned with errors, or none without");
    for (std::size_t i = 0; i < r.diags.size(); ++i) {
        const auto& d = r.diags[i];
        FUZZ_CHECK(d.where.file == config_path, "diagnostic names \"%s\"", d.where.file.c_str());
        FUZZ_CHECK(!d.message.empty(), "empty diagnostic message");
        const std::string line = d.to_string();
        FUZZ_CHECK(line.find('\n') == std::string::npos, "diagnostic spans lines: %s", line.c_str());
        if (i > 0 && d.where.line != 0) {
            const auto& a = r.diags[i - 1].where;
            FUZZ_CHECK(a.line != 0 && std::pair(a.line, a.column) <= std::pair(d.where.line, d.where.column),
                       "diagnostics out of file order");
        }
    }
    if (r.value) check_config(*r.value);

    const cfg::load_result again = load(text);
    FUZZ_CHECK(render(again) == render(r), "second load differs");
    return 0;
}
