#pragma once
// proxy/http/: HTTP/1.1 without sockets: the strict llhttp codec (request_parser,
// response_parser), head serialisation for both hops (rewrite.hpp), atsgate's own answers
// (local_response.hpp), the client framing and keep-alive decisions (client_framing.hpp) and the
// plaintext URL guard. Pure: bytes and heads in, bytes and decisions out. May use: std, llhttp.
//
// HTTP/1.1 message heads as parsed by request_parser / response_parser. All string_views point
// into the parser's own storage and stay valid until the parser's next reset() or feed() that
// starts a new message.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace atsgate::http {

struct header {
    std::string_view name;   // as received (case preserved); compare case-insensitively
    std::string_view value;  // leading/trailing whitespace (OWS) removed
};

// How a message body is delimited on the wire (RFC 9112 section 6).
enum class framing {
    none,            // no body (no CL/TE on a request; HEAD/1xx/204/304 responses)
    content_length,  // exactly content_length bytes
    chunked,         // Transfer-Encoding: chunked
    until_close,     // response only: body runs until the upstream closes (HTTP/1.0 style)
};

struct request_head {
    std::string_view method;  // "GET", "PUT", ... (token, as received)
    std::string_view target;  // origin-form "/path?query", normalised (target.hpp), or "*" (OPTIONS only)
    std::uint8_t version_major = 1;
    std::uint8_t version_minor = 1;
    std::vector<header> headers;  // every field in order, hop-by-hop ones included
    framing body = framing::none;
    std::uint64_t content_length = 0;  // valid when body == framing::content_length
    bool keep_alive = true;            // HTTP/1.1 default unless "Connection: close"; 1.0 needs keep-alive
    bool expect_continue = false;      // "Expect: 100-continue" present
    std::string_view host;             // the single Host header value (required on HTTP/1.1)
};

struct response_head {
    std::uint16_t status = 0;
    std::string_view reason;
    std::uint8_t version_major = 1;
    std::uint8_t version_minor = 1;
    std::vector<header> headers;
    framing body = framing::none;
    std::uint64_t content_length = 0;  // declared Content-Length; also set when body == none (HEAD, 304)
    bool keep_alive = true;  // the upstream connection may be reused after this response
};

// Case-insensitive ASCII comparison for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;
// `s` begins with `prefix`, ignoring ASCII case ("HTTPS://host" starts with "https://").
bool starts_with_ci(std::string_view s, std::string_view prefix) noexcept;

// First header with this name (case-insensitive), if any.
std::optional<std::string_view> find_header(const std::vector<header>& headers, std::string_view name) noexcept;

}  // namespace atsgate::http
