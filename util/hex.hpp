#pragma once
// Hex encoding of bytes.

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

}  // namespace atsgate::util
