// [[listener.route]]: host, path, exactly one target (upstream, split or static_*), sticky.
// Upstream names are noted in route_refs and resolved later (resolve.cpp).

#include "config/sections.hpp"

#include <algorithm>

namespace atsgate::config {

namespace {

constexpr std::size_t max_static_body = 64 * 1024;


// split = [{ upstream, weight }, ...]: noted entry by entry; resolve() builds the targets.
void read_split(reader& r, const scope& s, route_refs& refs) {
    const auto tables = r.nested_tables(s, "split", "split = [{ upstream = \"blue\", weight = 90 }, ...]");
    if (tables.empty() && s.table.get("split")->is_array())
        r.error(r.pos(s.table.get("split")->source()), s.key("split"),
                s.key("split") + " is empty, must list at least one target");
    refs.has_split = !tables.empty();
    refs.split_where = r.pos(s.table.get("split")->source());
    refs.split_key_path = s.key("split");
    for (const auto& [i, tt] : tables) {
        const scope ts{*tt, s.key("split[" + std::to_string(i) + "]"), r.pos(tt->source())};
        r.check_keys(ts, schema::split_key_names, "");
        split_entry e;
        e.index = i;
        if (const auto* v = r.read_string(ts, "upstream", true))
            e.upstream = upstream_ref{ts.key("upstream"), v->get(), r.pos(v->source())};
        if (const auto w = r.read_integer(ts, "weight", 0, 1'000'000, true, "0 = no new traffic"))
            e.weight = static_cast<std::uint32_t>(*w);
        refs.split.push_back(std::move(e));
    }
}

void read_sticky(reader& r, const scope& s, const listener& l, bool client_auth_refused, route& rt, bool has_split) {
    const auto* v = r.read_string(s, "sticky", false);
    if (v == nullptr) return;
    const std::string& st = v->get();
    auto header_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (st == "none") {
        rt.sticky = sticky_kind::none;
    } else if (st == "client_cert") {
        rt.sticky = sticky_kind::client_cert;
        if (l.client_auth == client_auth_mode::none && !client_auth_refused)
            r.error(r.pos(v->source()), s.key("sticky"),
                    s.key("sticky") + " is \"client_cert\" but the listener requests no client certificate",
                    "set client_auth = \"optional\" or \"require\" on the listener");
    } else if (st.rfind("header:", 0) == 0 && st.size() > 7 && st.size() <= 71 &&
               std::all_of(st.begin() + 7, st.end(), header_char)) {
        rt.sticky = sticky_kind::header;
        rt.sticky_name = st.substr(7);
    } else if (st.rfind("path_segment:", 0) == 0 && st.size() > 13 && st.size() <= 16 &&
               std::all_of(st.begin() + 13, st.end(), digit) && std::stoul(st.substr(13)) >= 1) {
        rt.sticky = sticky_kind::path_segment;
        rt.sticky_segment = static_cast<std::uint32_t>(std::stoul(st.substr(13)));
    } else {
        r.error(r.pos(v->source()), s.key("sticky"),
                s.key("sticky") + " is " + quote(st) +
                    R"(, must be "none", "client_cert", "header:NAME" or "path_segment:N")",
                "N counts path segments from 1: /enroll/<device-id> is path_segment:2");
        return;
    }
    if (rt.sticky != sticky_kind::none && !has_split)
        r.warning(r.pos(v->source()), s.key("sticky"), s.key("sticky") + " has no effect without split");
}

void read_static(reader& r, const scope& s, route& rt) {
    static_response sr;
    if (const auto v = r.read_integer(s, "static_status", 200, 599, true)) sr.status = static_cast<std::uint16_t>(*v);
    if (auto v = r.read_text(s, "static_content_type", schema::media_type)) sr.content_type = std::move(*v);
    const bool body = s.table.contains("static_body");
    const bool file = s.table.contains("static_file");
    std::string file_path;  // absolute, when the body came from static_file
    if (body && file) {
        r.error(r.pos(s.table.get("static_file")->source()), s.key("static_file"),
                s.key("static_file") + " and " + s.key("static_body") + " are both set", "keep one");
    } else if (body) {
        if (const auto* v = r.read_string(s, "static_body", false)) {
            if (v->get().size() > max_static_body)
                r.error(r.pos(v->source()), s.key("static_body"),
                        s.key("static_body") + " is larger than " + detail::format_size(max_static_body));
            else
                sr.body = v->get();
        }
    } else if (file) {
        if (auto p = r.read_path(s, "static_file", false)) {
            file_path = *p;
            if (auto content = r.read_small_file(s, "static_file", *p, max_static_body)) sr.body = std::move(*content);
        }
    }
    // 204 and 304 responses end at their header section (RFC 9110 sections 15.3.5, 15.4.5): a body
    // sent after one would be read by the device as the start of the next response.
    if ((sr.status == 204 || sr.status == 304) && !sr.body.empty()) {
        const std::string_view k = body ? "static_body" : "static_file";
        r.error(r.pos(s.table.get(k)->source()), s.key(k),
                (body ? s.key(k) : s.key(k) + ": " + quote_path(file_path)) + " is not empty, but a " +
                    std::to_string(sr.status) + " response has no body",
                "drop the body, or use 200");
    }
    rt.static_reply = std::move(sr);
}

}  // namespace

route read_route(reader& r, const scope& s, const listener& l, bool client_auth_refused, route_refs& refs) {
    route rt;
    rt.where = s.where;
    rt.key_path = s.path;
    r.record_positions(s, rt.key_pos);
    r.check_keys(s, schema::route_key_names, "[[listener.route]]");
    if (s.table.contains("name")) {
        if (auto name = r.read_name(s, false)) rt.name = std::move(*name);
    }
    // `matchable` is false when host or path was written but refused: the route's (host, path) is
    // then unknown and must not be compared with other routes' (it still holds the defaults).
    if (const auto* v = r.read_string(s, "host", false)) {
        if (detail::is_host_pattern(v->get()))
            rt.host = lower(v->get());
        else
            r.error(r.pos(v->source()), s.key("host"),
                    s.key("host") + " is " + quote(v->get()) + ", must be a DNS name, \"*.example.com\" or an IP address");
    }
    if (s.table.contains("host") && rt.host.empty()) refs.matchable = false;
    if (auto p = r.read_text(s, "path", schema::path_prefix))
        rt.path = std::move(*p);
    else if (s.table.contains("path"))
        refs.matchable = false;

    const bool has_upstream = s.table.contains("upstream");
    const bool has_split = s.table.contains("split");
    const bool has_static = s.table.contains("static_status") || s.table.contains("static_body") ||
                            s.table.contains("static_file") || s.table.contains("static_content_type");
    const int kinds = int(has_upstream) + int(has_split) + int(has_static);
    if (kinds == 0) {
        r.error(s.where, s.key("upstream"), s.path + " needs a target",
                "set upstream = \"...\", split = [{ upstream = \"...\", weight = 1 }, ...] or static_status");
    } else if (kinds > 1) {
        r.error(s.where, s.path, s.path + " has more than one target", "use exactly one of upstream, split or static_*");
    } else if (has_upstream) {
        if (const auto* v = r.read_string(s, "upstream", true))
            refs.upstream = upstream_ref{s.key("upstream"), v->get(), r.pos(v->source())};
    } else if (has_split) {
        read_split(r, s, refs);
    } else {
        read_static(r, s, rt);
    }
    read_sticky(r, s, l, client_auth_refused, rt, has_split);
    return rt;
}

}  // namespace atsgate::config
