#pragma once
// Request-target normalisation: what atsgate routes on is exactly what it forwards.
//
// A backend that resolves "/scep/../mdm/checkin" or "/mdm/%2e%2e/admin" itself would otherwise
// serve a path other than the one the router matched (issue 9). So the request parser rewrites the
// origin-form target in place before anyone looks at it, following RFC 3986 section 6.2.2
// (syntax-based normalisation) and refusing what has no single meaning:
//
//   path (up to the first '?'):
//     - percent-encoding: every '%' must be followed by two hex digits; encoded unreserved
//       characters (ALPHA DIGIT - . _ ~) are decoded ("%7E" -> "~", "%2e" -> "."), every other
//       encoding keeps its octet with upper-case hex ("%3f" -> "%3F")          (section 6.2.2.1/2)
//     - runs of '/' are merged into one ("//a///b" -> "/a/b"; nginx merge_slashes on)
//     - dot segments are removed after decoding (section 5.2.4): "/a/./b" -> "/a/b",
//       "/a/b/../c" -> "/a/c", "/a/b/.." -> "/a/"
//   query (from the first '?' on): unchanged, byte for byte. A normalised path never contains '?'
//   ("%3F" stays encoded), so the query cannot take part in matching the path.
//
// Refused (the request gets 400), because a backend could read them in more than one way:
//   encoded '/' ("%2F": one segment or two?), '\' and "%5C" (a separator on Windows/IIS backends),
//   encoded control characters "%00".."%1F" and "%7F" (NUL truncates C strings), invalid
//   percent-encoding ("%", "%4", "%zz", IIS "%u002e"), a ".." that climbs above the root
//   ("/../etc"), dot segments with path parameters ("..;x", ".;x": Tomcat and Jetty strip the
//   parameter and then resolve the "..", nginx-in-front-of-Tomcat's classic bypass), and raw bytes
//   that cannot be in a request target (SP, CTLs, DEL, '#').
//
// The same rules, in the same words, are in the README ("Paths").
// "*" (asterisk-form, OPTIONS only) is left as it is. Pure, allocation-free, no state.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace atsgate::http {

enum class target_status : std::uint8_t {
    ok,
    not_origin_form,   // does not start with '/' (and is not "*")
    bad_percent,       // '%' not followed by two hex digits
    encoded_slash,     // "%2F" in the path
    backslash,         // '\' or "%5C" in the path
    control,           // "%00".."%1F" or "%7F" in the path
    bad_character,     // a raw byte that is not allowed in a request target (SP, CTL, DEL, '#')
    above_root,        // ".." with no segment left to remove
    dot_parameter,     // a dot segment with a path parameter ("..;x", ".;x")
};

// Short text for logs ("encoded '/' (%2F) in the path").
std::string_view to_string(target_status s) noexcept;

struct normalized_target {
    target_status status = target_status::ok;
    std::size_t size = 0;  // bytes written to `out` (valid when status == ok)
};

// Writes the normalised form of the request target `in` to `out` and returns its length, which
// is never more than in.size(). `out` must have room for in.size() bytes; it may be in.data()
// itself (normalised in place: every byte is read before it can be overwritten). On an error
// the contents of `out` are unspecified. No allocation; O(in.size()).
normalized_target normalize_target(std::string_view in, char* out) noexcept;

// Convenience for control-plane code and tests: the normalised copy, or "" with *status set on
// an error. Allocates.
std::string normalized_copy(std::string_view in, target_status* status = nullptr);

}  // namespace atsgate::http
