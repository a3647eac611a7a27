#include "proxy/http/target.hpp"

#include "util/hex.hpp"

#include <array>
#include <cstring>

namespace atsgate::http {

namespace {

// Per-byte class of a path character.
enum : std::uint8_t {
    plain = 0,    // copied as is
    slash = 1,    // '/'
    dot = 2,      // '.'
    percent = 3,  // '%'
    query = 4,    // '?': the path ends here
    refused = 5,  // '\': refused as backslash
    invalid = 6,  // SP, CTL, DEL, '#': refused as bad_character
};

constexpr std::array<std::uint8_t, 256> path_class = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c <= 0x20; ++c) t[static_cast<std::size_t>(c)] = invalid;
    t[0x7f] = invalid;
    t['#'] = invalid;
    t['\\'] = refused;
    t['%'] = percent;
    t['.'] = dot;
    t['/'] = slash;
    t['?'] = query;
    return t;
}();

// RFC 3986 section 2.3.
constexpr bool is_unreserved(unsigned c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

constexpr char upper_hex[] = "0123456789ABCDEF";

// One pass over the path: where it ends (the first '?', or the end), refused raw bytes, and
// whether there is anything to normalise at all (a '%', a "//", or a segment starting with '.';
// "profile.plist" has nothing to normalise).
struct scan_result {
    target_status status = target_status::ok;
    std::size_t path_end = 0;
    bool simple = true;
};

scan_result quick_scan(std::string_view in) noexcept {
    scan_result r;
    bool after_slash = false;
    std::size_t i = 0;
    for (; i < in.size(); ++i) {
        const std::uint8_t k = path_class[static_cast<unsigned char>(in[i])];
        if (k == plain) {
            after_slash = false;
            continue;
        }
        switch (k) {
            case slash:
                r.simple &= !after_slash;
                after_slash = true;
                break;
            case dot:
                r.simple &= !after_slash;
                after_slash = false;
                break;
            case percent:
                r.simple = false;
                after_slash = false;
                break;
            case query: r.path_end = i; return r;
            case refused: r.status = target_status::backslash; return r;
            default: r.status = target_status::bad_character; return r;
        }
    }
    r.path_end = i;
    return r;
}

}  // namespace

std::string_view to_string(target_status s) noexcept {
    switch (s) {
        case target_status::ok: return "ok";
        case target_status::not_origin_form: return "request target is not origin-form";
        case target_status::bad_percent: return "invalid percent-encoding in the path";
        case target_status::encoded_slash: return "encoded '/' (%2F) in the path";
        case target_status::backslash: return "'\\' or %5C in the path";
        case target_status::control: return "encoded control character in the path";
        case target_status::bad_character: return "character not allowed in a request target";
        case target_status::above_root: return "'..' climbs above the root of the path";
        case target_status::dot_parameter: return "dot segment with a path parameter (..;)";
    }
    return "?";
}

normalized_target normalize_target(std::string_view in, char* out) noexcept {
    if (in == "*") {
        if (out != in.data()) out[0] = '*';
        return {target_status::ok, 1};
    }
    if (in.empty() || in.front() != '/') return {target_status::not_origin_form, 0};
    const scan_result scan = quick_scan(in);
    if (scan.status != target_status::ok) return {scan.status, 0};
    const std::size_t path_end = scan.path_end;
    if (scan.simple) {
        if (out != in.data()) std::memcpy(out, in.data(), in.size());
        return {target_status::ok, in.size()};
    }

    // Slow path. Invariant: out[0, o) starts with '/' and ends with '/' or a segment, and o never
    // passes the read position i, so in-place rewriting reads every byte before overwriting it.
    const char* src = in.data();
    const bool trailing_slash = path_end > 1 && src[path_end - 1] == '/';  // read before any write
    std::size_t o = 0;
    std::size_t i = 0;
    out[o++] = '/';
    while (i < path_end) {
        // Merge a run of '/'.
        while (i < path_end && src[i] == '/') ++i;
        if (i == path_end) break;
        if (out[o - 1] != '/') out[o++] = '/';
        const std::size_t seg = o;
        std::size_t semicolon = std::string_view::npos;  // first raw ';' in the decoded segment
        while (i < path_end && src[i] != '/') {
            const char c = src[i];
            if (c == '%') {
                if (i + 2 >= path_end) return {target_status::bad_percent, 0};
                const int hi = util::hex_value(src[i + 1]);
                const int lo = util::hex_value(src[i + 2]);
                if (hi < 0 || lo < 0) return {target_status::bad_percent, 0};
                const auto v = static_cast<unsigned>(hi * 16 + lo);
                if (v == '/') return {target_status::encoded_slash, 0};
                if (v == '\\') return {target_status::backslash, 0};
                if (v < 0x20 || v == 0x7f) return {target_status::control, 0};
                i += 3;
                if (is_unreserved(v)) {
                    out[o++] = static_cast<char>(v);
                } else {
                    out[o++] = '%';
                    out[o++] = upper_hex[v >> 4];
                    out[o++] = upper_hex[v & 15];
                }
                continue;
            }
            if (c == ';' && semicolon == std::string_view::npos) semicolon = o - seg;
            out[o++] = c;
            ++i;
        }
        // The segment as decoded, and its name without path parameters.
        const std::string_view decoded(out + seg, o - seg);
        const std::string_view name = decoded.substr(0, semicolon);
        const bool dot = name == ".", dotdot = name == "..";
        if ((dot || dotdot) && semicolon != std::string_view::npos) return {target_status::dot_parameter, 0};
        if (dot) {
            o = seg;  // "a/./b" -> "a/b"; out ends with '/'
        } else if (dotdot) {
            o = seg;
            if (o == 1) return {target_status::above_root, 0};
            --o;  // drop the '/' before the ".." and then the previous segment
            while (out[o - 1] != '/') --o;
        }
    }
    // A path ending in '/' keeps it ("/a/b/" stays a directory).
    if (trailing_slash && out[o - 1] != '/') out[o++] = '/';
    // The query, unchanged (moves down when the path shrank; o <= path_end).
    const std::size_t query = in.size() - path_end;
    if (query > 0) std::memmove(out + o, src + path_end, query);
    return {target_status::ok, o + query};
}

std::string normalized_copy(std::string_view in, target_status* status) {
    std::string out(in.size(), '\0');
    const auto r = normalize_target(in, out.data());
    if (status != nullptr) *status = r.status;
    if (r.status != target_status::ok) return {};
    out.resize(r.size);
    return out;
}

}  // namespace atsgate::http
