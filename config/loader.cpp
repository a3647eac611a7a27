// TOML -> validated config. toml++ reads the whole document; then every section is read on its
// own (config/read_*.cpp, driven by the key tables in config/schema.hpp) and references between
// tables are resolved in a second pass (config/resolve.cpp). Every problem becomes one
// diagnostic; nothing stops at the first one except a TOML syntax error (after which there is no
// tree to walk).

#include "config/loader.hpp"

#include "config/sections.hpp"

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace atsgate::config {

namespace {

// The document's top level, in an order the diagnostics do not depend on except for those
// without a position ("no [[listener]] is defined"), which keep this order.
void read_root(reader& r, const toml::table& root, config& out) {
    const scope top{root, "", r.file_pos()};
    r.check_keys(top, schema::top_keys, "");

    if (const auto* n = root.get("server"))
        if (const auto* t = r.expect_table(*n, "server")) read_server(r, *t, out.server);
    if (const auto* n = root.get("timeouts"))
        if (const auto* t = r.expect_table(*n, "timeouts")) read_timeouts(r, *t, out.timeouts);
    if (const auto* n = root.get("limits"))
        if (const auto* t = r.expect_table(*n, "limits")) read_limits(r, *t, out.limits);

    references refs;
    bool upstreams_misshaped = false;
    const auto upstream_tables = r.expect_tables(root.get("upstream"), "upstream", upstreams_misshaped);
    const auto* upstream_array = root.get("upstream") ? root.get("upstream")->as_array() : nullptr;
    const std::size_t upstream_count = upstream_array ? upstream_array->size() : 0;
    refs.upstream_names.assign(upstream_count, std::nullopt);
    for (const auto& [i, t] : upstream_tables) {
        out.upstreams.push_back(read_upstream(r, i, *t, refs));
        refs.upstream_index.push_back(i);
    }

    bool listeners_misshaped = false;
    const auto listener_tables = r.expect_tables(root.get("listener"), "listener", listeners_misshaped);
    for (const auto& [i, t] : listener_tables) out.listeners.push_back(read_listener(r, i, *t, refs));
    const auto* listener_array = root.get("listener") ? root.get("listener")->as_array() : nullptr;
    if (listener_tables.empty() && !(listener_array && !listener_array->empty()) && !listeners_misshaped)
        r.error(r.file_pos(), "listener", "no [[listener]] is defined; at least one is required");
    if (upstream_count == 0 && !upstreams_misshaped)
        r.error(r.file_pos(), "upstream", "no [[upstream]] is defined; at least one is required");

    if (const auto* n = root.get("admin"))
        if (const auto* t = r.expect_table(*n, "admin")) out.admin = read_admin(r, *t, refs);
    if (const auto* n = root.get("acme"))
        if (const auto* t = r.expect_table(*n, "acme")) out.acme = read_acme(r, *t);

    resolve(r, out, refs);
}

}  // namespace

load_result load_string(std::string_view toml_text, const std::string& path) {
    reader r(path);
    load_result result;
    try {
        const toml::table root = toml::parse(toml_text, std::string_view(path));
        config out;
        out.path = path;
        read_root(r, root, out);
        out.files = r.files();
        result.value = std::move(out);
    } catch (const toml::parse_error& e) {
        r.error(r.pos(e.source()), {}, "TOML syntax error: " + one_line(e.description()));
    }
    result.diags = r.take_sorted();
    if (has_errors(result.diags)) result.value.reset();
    return result;
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
