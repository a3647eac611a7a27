#pragma once
// base64url without padding (RFC 4648 section 5; RFC 7515 section 2 "Base64url Encoding"), the
// encoding of every binary field in ACME (JWS parts, JWK coordinates, CSR, ARI certificate ids).

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace atsgate::acme {

std::string base64url(std::span<const unsigned char> bytes);
std::string base64url(std::string_view bytes);

// Decodes unpadded base64url; nullopt on any character outside the alphabet, on '=' padding, or on
// an impossible length (4n+1). Peer-supplied text, so nothing is assumed about it.
std::optional<std::string> base64url_decode(std::string_view text);

// True if `s` is non-empty and only uses the base64url alphabet (ACME tokens, RFC 8555 8.1:
// "MUST NOT contain any characters outside the base64url alphabet").
bool is_base64url(std::string_view s) noexcept;

}  // namespace atsgate::acme
