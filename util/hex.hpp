#pragma once
// Hex encoding of bytes, and the value of a hex digit.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace atsgate::util {

enum class hex_case { lower, upper };

// Appends the two hex digits of `byte`.
void append_hex(std::string& out, std::uint8_t byte, hex_case c = hex_case::lower);

// "0a1b..." for `bytes`; with a `separator` (e.g. ':') between bytes: "0A:1B:...".
std::string hex(std::span<const std::uint8_t> bytes, hex_case c = hex_case::lower, char separator = '\0');
// The same for bytes held in a string (digests, keys read from files).
std::string hex(std::string_view bytes, hex_case c = hex_case::lower, char separator = '\0');

// The value of the hex digit `c` (0 to 15, either case), or -1 if `c` is not one. Inline and
// constexpr: the request path decodes percent-escapes with it.
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace atsgate::util
