#pragma once
// Joining strings; UTF-8 sequences; text from a peer made safe for one log line.

#include <string>
#include <string_view>

namespace atsgate::util {

// Length of the valid UTF-8 sequence starting at s[i] (1 to 4), or 0 if none starts there
// (overlong forms, surrogates and code points over U+10FFFF are not valid). Requires i < s.size().
std::size_t utf8_length(std::string_view s, std::size_t i);

// `s` as one log line's worth of text: control bytes (CR, LF, ESC, ... and DEL), backslashes and
// bytes that are not valid UTF-8 become "\xNN" (a backslash "\\"), so a peer cannot start a
// line, forge a record or drive a terminal; longer than `max_bytes`, it is cut there (at a UTF-8
// boundary) and "...(N more bytes)" says how much was left out.
std::string log_safe(std::string_view s, std::size_t max_bytes = 256);

// The elements of `items` (anything convertible to std::string_view) with `sep` between them.
template <class Range>
std::string join(const Range& items, std::string_view sep = ", ") {
    std::string out;
    bool first = true;
    for (const auto& item : items) {
        if (!first) out += sep;
        out += std::string_view(item);
        first = false;
    }
    return out;
}

}  // namespace atsgate::util
