// Fuzz target: http::normalize_target (every request target a client sends) and route matching on
// the normalised path (router::route_table, router::path_covers).
//
// Input: 1 control byte, then "PREFIX\nTARGET" (or just TARGET when there is no '\n').
//   [0] bit 0: use PREFIX as one more route prefix; bits 1-2: method (GET, POST, OPTIONS, PUT)
// Checks:
//   - normalising in place and into another buffer give the same status and bytes;
//   - the result equals a straightforward second implementation of the same rules (segment list,
//     std::string, RFC 3986 section 5.2.4 by the book), status included;
//   - an accepted target: never longer; a fixed point (normalising it again changes nothing); the
//     path starts with '/', has no "//", no "." or ".." segment, no '\', no "%2F"/"%5C"/"%00"-"%1F"/
//     "%7F", every '%' is followed by two upper-case hex digits that do not encode an unreserved
//     character, no SP/CTL/DEL/'#'; the query (from the first '?') is the input's, byte for byte;
//   - route matching on the normalised target: the route that matched covers the path on a
//     segment boundary and no longer configured prefix does; the default upstream only when no
//     prefix covers it; the scep listener forwards only GET/POST with operation= under /scep and
//     answers "*" with options.

#include "fuzz_check.hpp"

#include "proxy/http/target.hpp"
#include "proxy/router/route_table.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace atsgate;
using http::target_status;

namespace {

bool unreserved(unsigned c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}
int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The rules of target.hpp written the slow, obvious way.
target_status reference(std::string_view in, std::string& out) {
    out.clear();
    if (in == "*") {
        out = "*";
        return target_status::ok;
    }
    if (in.empty() || in.front() != '/') return target_status::not_origin_form;
    const std::size_t q = std::min(in.find('?'), in.size());
    const std::string_view path = in.substr(0, q), query = in.substr(q);
    for (const char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7f || c == '#') return target_status::bad_character;
        if (c == '\\') return target_status::backslash;
    }
    std::vector<std::string> stack;
    bool dir = false;  // the last segment left the path ending in '/'
    std::size_t pos = 0;
    while (pos <= path.size()) {
        const std::size_t end = std::min(path.find('/', pos), path.size());
        const std::string_view raw = path.substr(pos, end - pos);
        pos = end + 1;
        if (raw.empty()) continue;
        std::string seg;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] != '%') {
                seg += raw[i];
                continue;
            }
            if (i + 2 >= raw.size()) return target_status::bad_percent;
            const int hi = hexval(raw[i + 1]), lo = hexval(raw[i + 2]);
            if (hi < 0 || lo < 0) return target_status::bad_percent;
            const auto v = static_cast<unsigned>(hi * 16 + lo);
            if (v == '/') return target_status::encoded_slash;
            if (v == '\\') return target_status::backslash;
            if (v < 0x20 || v == 0x7f) return target_status::control;
            if (unreserved(v)) {
                seg += static_cast<char>(v);
            } else {
                static constexpr char hex[] = "0123456789ABCDEF";
                seg += '%';
                seg += hex[v >> 4];
                seg += hex[v & 15];
            }
            i += 2;
        }
        const std::string name = seg.substr(0, seg.find(';'));
        const bool has_param = seg.find(';') != std::string::npos;
        if ((name == "." || name == "..") && has_param) return target_status::dot_parameter;
        if (name == ".") {
            dir = true;
        } else if (name == "..") {
            if (stack.empty()) return target_status::above_root;
            stack.pop_back();
            dir = true;
        } else {
            stack.push_back(seg);
            dir = false;
        }
    }
    const bool trailing = path.size() > 1 && path.back() == '/';
    out = "/";
    for (std::size_t i = 0; i < stack.size(); ++i) out += (i ? "/" : "") + stack[i];
    if (!stack.empty() && (dir || trailing)) out += '/';
    out += query;
    return target_status::ok;
}

void check_normal_form(std::string_view in, std::string_view out) {
    if (out == "*") {
        FUZZ_CHECK(in == "*", "\"*\" from something else");
        return;
    }
    FUZZ_CHECK(!out.empty() && out.front() == '/', "does not start with '/'");
    const std::size_t q = out.find('?');
    const std::string_view path = out.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : out.substr(q);
    const std::size_t iq = in.find('?');
    FUZZ_CHECK(query == (iq == std::string_view::npos ? std::string_view{} : in.substr(iq)), "query changed");
    FUZZ_CHECK(path.find("//") == std::string_view::npos, "\"//\" in the path");
    FUZZ_CHECK(path.find("/./") == std::string_view::npos && path.find("/../") == std::string_view::npos,
               "dot segment in the path");
    FUZZ_CHECK(!path.ends_with("/.") && !path.ends_with("/.."), "trailing dot segment");
    for (std::size_t i = 0; i < path.size(); ++i) {
        const auto c = static_cast<unsigned char>(path[i]);
        FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '#' && c != '\\', "byte 0x%02x in the path", c);
        if (c != '%') continue;
        FUZZ_CHECK(i + 2 < path.size(), "truncated %% at %zu", i);
        const char h = path[i + 1], l = path[i + 2];
        FUZZ_CHECK(hexval(h) >= 0 && hexval(l) >= 0, "bad %% at %zu", i);
        FUZZ_CHECK(!(h >= 'a' && h <= 'f') && !(l >= 'a' && l <= 'f'), "lower-case hex at %zu", i);
        const auto v = static_cast<unsigned>(hexval(h) * 16 + hexval(l));
        FUZZ_CHECK(!unreserved(v), "encoded unreserved %%%c%c", h, l);
        FUZZ_CHECK(v != '/' && v != '\\' && v >= 0x20 && v != 0x7f, "refused octet %%%c%c forwarded", h, l);
    }
}

config::config make_config(std::string_view extra_prefix, bool with_extra) {
    std::vector<std::string> prefixes = {"/mdm", "/mdm/checkin", "/scep", "/enroll/", "/a/b/c", "/%7Euser"};
    if (with_extra) prefixes.emplace_back(extra_prefix);
    config::config c;
    config::upstream u;
    u.name = "default";
    c.upstreams.push_back(u);
    config::listener l;
    l.name = "mdm";
    l.upstream = "default";
    l.upstream_index = 0;
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
        u.name = "u" + std::to_string(i);
        c.upstreams.push_back(u);
        config::route r;
        r.path = prefixes[i];
        r.targets.push_back(config::split_target{u.name, i + 1, 1});
        l.routes.push_back(std::move(r));
    }
    c.listeners.push_back(l);
    config::listener s;
    s.name = "scep";
    s.kind = config::listener_kind::scep;
    s.upstream = "default";
    s.upstream_index = 0;
    s.scep_path = "/scep";
    c.listeners.push_back(s);
    return c;
}

void check_routing(std::string_view target, std::string_view method, std::string_view extra, bool with_extra) {
    const config::config cfg = make_config(extra, with_extra);
    const router::route_table t(cfg);
    http::request_head h;
    h.method = method;
    h.target = target;
    h.host = "mdm.example.com";
    const std::string_view path = target.substr(0, target.find('?'));

    // The prefixes as the table holds them (normalised), "" for one that cannot be.
    std::vector<std::string> norm;
    for (std::size_t i = 1; i < cfg.upstreams.size(); ++i) {
        target_status st{};
        std::string p = http::normalized_copy(cfg.listeners[0].routes[i - 1].path, &st);
        norm.push_back(st == target_status::ok && !p.empty() && p.front() == '/' ? p : std::string{});
    }
    std::size_t longest = 0;
    bool any = false;
    for (const auto& p : norm)
        if (!p.empty() && router::path_covers(p, path)) {
            any = true;
            longest = std::max(longest, p.size());
        }

    const auto d = t.match(0, h, {});
    FUZZ_CHECK(d.what == router::decision::kind::forward, "https listener with a default: kind %d", static_cast<int>(d.what));
    if (d.route < 0) {
        FUZZ_CHECK(!any, "default upstream although a prefix covers the path");
        FUZZ_CHECK(d.upstream == 0, "default route to upstream %zu", d.upstream);
    } else {
        FUZZ_CHECK(d.upstream >= 1 && d.upstream <= norm.size(), "upstream %zu", d.upstream);
        const std::string& p = norm[d.upstream - 1];
        FUZZ_CHECK(!p.empty(), "a prefix that cannot be normalised matched");
        // A segment prefix of the forwarded path.
        FUZZ_CHECK(path.starts_with(p), "matched prefix is not a prefix of the path");
        FUZZ_CHECK(path.size() == p.size() || p.back() == '/' || path[p.size()] == '/', "matched inside a segment");
        FUZZ_CHECK(p.size() == longest, "not the longest covering prefix (%zu < %zu)", p.size(), longest);
    }

    const auto s = t.match(1, h, {});
    if (target == "*") {
        FUZZ_CHECK(s.what == router::decision::kind::options && s.allow == "GET, POST", "OPTIONS * on scep");
    } else if (s.what == router::decision::kind::forward) {
        FUZZ_CHECK(method == "GET" || method == "POST", "scep forwarded a %.*s", static_cast<int>(method.size()), method.data());
        FUZZ_CHECK(router::path_covers("/scep", path), "scep forwarded a path outside /scep");
        const std::string_view query = target.substr(std::min(target.find('?'), target.size()));
        FUZZ_CHECK(query.starts_with("?operation=") || query.find("&operation=") != std::string_view::npos,
                   "scep forwarded without operation=");
    } else {
        FUZZ_CHECK(s.what == router::decision::kind::forbidden, "scep kind %d", static_cast<int>(s.what));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::prefix ctl(data, size);
    const std::uint8_t mode = ctl.byte();
    const std::string_view rest = ctl.rest();
    const std::size_t nl = rest.find('\n');
    const std::string_view extra = nl == std::string_view::npos ? std::string_view{} : rest.substr(0, nl);
    const std::string_view in = nl == std::string_view::npos ? rest : rest.substr(nl + 1);
    static constexpr std::string_view methods[] = {"GET", "POST", "OPTIONS", "PUT"};
    const std::string_view method = methods[(mode >> 1) & 3];

    // Into another buffer (exactly sized, so ASan sees any write past in.size()) and in place.
    std::unique_ptr<char[]> copy(new char[in.size() + 1]);
    const auto r = http::normalize_target(in, copy.get());
    std::unique_ptr<char[]> inplace(new char[in.size() + 1]);
    std::copy(in.begin(), in.end(), inplace.get());
    const auto r2 = http::normalize_target({inplace.get(), in.size()}, inplace.get());
    FUZZ_CHECK(r.status == r2.status, "in place: status %d vs %d", static_cast<int>(r2.status), static_cast<int>(r.status));

    std::string want;
    const target_status ref = reference(in, want);
    FUZZ_CHECK(r.status == ref, "status %d (%s), reference %d (%s)", static_cast<int>(r.status),
               std::string(http::to_string(r.status)).c_str(), static_cast<int>(ref), std::string(http::to_string(ref)).c_str());
    if (r.status != target_status::ok) return 0;

    const std::string_view out(copy.get(), r.size);
    FUZZ_CHECK(r.size <= in.size(), "grew from %zu to %zu", in.size(), r.size);
    FUZZ_CHECK(r2.size == r.size && std::string_view(inplace.get(), r2.size) == out, "in place gives other bytes");
    FUZZ_CHECK(out == want, "\"%.*s\", reference \"%s\"", static_cast<int>(out.size()), out.data(), want.c_str());
    check_normal_form(in, out);

    // Idempotent.
    target_status again{};
    const std::string twice = http::normalized_copy(out, &again);
    FUZZ_CHECK(again == target_status::ok && twice == out, "not a fixed point: \"%s\"", twice.c_str());

    check_routing(out, method, extra, (mode & 1) != 0);
    return 0;
}
