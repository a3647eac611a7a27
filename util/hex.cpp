#include "util/hex.hpp"

namespace atsgate::util {

void append_hex(std::string& out, std::uint8_t byte, hex_case c) {
    const char* digits = c == hex_case::upper ? "0123456789ABCDEF" : "0123456789abcdef";
    out += digits[byte >> 4];
    out += digits[byte & 0xF];
}

std::string hex(std::span<const std::uint8_t> bytes, hex_case c, char separator) {
    std::string out;
    out.reserve(bytes.size() * (separator != '\0' ? 3 : 2));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i != 0 && separator != '\0') out += separator;
        append_hex(out, bytes[i], c);
    }
    return out;
}

std::string hex(std::string_view bytes, hex_case c, char separator) {
    return hex(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), c, separator);
}

}  // namespace atsgate::util
