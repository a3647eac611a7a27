#pragma once
// Responses atsgate answers itself, without a backend: errors (400, 403, 404, 408, 413, 431, 502,
// 503, 504, ...), static replies and redirects configured on routes. One writer for all of them,
// and the rule for when such an answer ends the connection. Pure.

#include "proxy/http/message.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atsgate::http {

struct local_response {
    std::uint16_t status = 500;
    std::string_view content_type = "text/plain";  // "": no Content-Type (an empty answer: OPTIONS *)
    // The body; nullopt: "<status> <reason>\n" (or "<status>\n" for a status without a reason).
    std::optional<std::string_view> body;
    std::string_view location;  // a Location field when not empty (redirects)
    std::string_view allow;     // an Allow field when not empty (OPTIONS *, RFC 9110 section 10.2.1)
};

// Appends the complete response: "HTTP/1.1 status reason", Content-Type and Content-Length
// (neither for 204 and 304, which carry no body: RFC 9110 sections 8.6, 15.3.5, 15.4.5), Location, Allow,
// "Connection: close" when `close`, then the body unless `head_request` (RFC 9110 section 9.3.2: the
// answer to HEAD is the head a GET would get). Returns the number of body bytes appended.
std::size_t write_local_response(const local_response& r, bool close, bool head_request, std::string& out);

// Shorthand for an error reply with the generated body.
inline void write_local_response(std::uint16_t status, bool close, std::string& out) {
    local_response r;
    r.status = status;
    write_local_response(r, close, false, out);
}

// Whether a local answer to `request` must close the connection (RFC 9112 section 9.6): when the
// request could not be parsed (null), asked for it (Connection: close, or HTTP/1.0 without
// keep-alive), or left a body unread that would otherwise be taken for the next request
// (`body_unread`).
bool local_response_closes(const request_head* request, bool body_unread) noexcept;

}  // namespace atsgate::http
