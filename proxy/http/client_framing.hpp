#pragma once
// How a backend's response is framed towards the client, and whether the client connection may
// stay open after it. Pure decisions over parsed heads (RFC 9112 sections 6 and 9.3); the relay
// in proxy/downstream only carries them out.

#include "proxy/http/message.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace atsgate::http {

struct client_framing {
    framing relay = framing::none;     // how the body bytes are relayed to the client
    framing declared = framing::none;  // what the response head declares (see below)
    std::uint64_t content_length = 0;  // declared length when declared == content_length
};

// The framing of the response to a request with `method` and HTTP/1.`version_minor`, given the
// backend's response head `rh` (a final response, status >= 200):
// - HEAD, 204, 304: no body is relayed; a valid Content-Length of a HEAD/304 answer describes the
//   GET entity and is kept (never for 204);
// - Content-Length: kept; no body at all: "Content-Length: 0";
// - chunked or close-delimited: chunked to HTTP/1.1 clients, close-delimited to HTTP/1.0 clients
//   (which cannot read chunked; the connection then ends with the body).
client_framing choose_client_framing(std::string_view method, std::uint8_t version_minor,
                                     const response_head& rh) noexcept;

// Content-Length value: 1*DIGIT (RFC 9110 section 8.6), no sign, no list, no overflow; nullopt
// otherwise.
std::optional<std::uint64_t> parse_content_length(std::string_view value) noexcept;

// RFC 9110 section 9.2.2: only idempotent requests may be re-sent after a pooled connection
// turned out to be stale.
bool is_idempotent(std::string_view method) noexcept;

// Whether the client connection stays open after relaying a response framed `relay`: the client
// asked for keep-alive, its request body was read completely, the body's end does not depend on a
// close, atsgate is not draining, and `served` (requests on this connection so far) is below
// `limit` (0 = unlimited).
struct keep_alive_inputs {
    bool client_keep_alive = true;
    bool request_body_read = true;
    framing relay = framing::none;
    bool draining = false;
    std::uint32_t served = 0;
    std::uint32_t limit = 0;
};
bool client_stays_open(const keep_alive_inputs& in) noexcept;

}  // namespace atsgate::http
