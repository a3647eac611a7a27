#pragma once
// Sans-io HTTP/1.1 request parser over llhttp in strict mode (no lenient flags): bytes in, head and
// body events out, limits enforced. No I/O, no allocation per request once warmed up: storage is
// reused across keep-alive requests.
//
// Usage per request (see downstream/connection.cpp):
//   p.reset();
//   loop: r = p.feed(input) -> consume r.consumed bytes of input;
//         head_done   -> p.head() is valid; route and forward it;
//         body        -> forward p.body_spans() (views into `input`!) BEFORE consuming or
//                        overwriting those input bytes;
//         message_done-> request finished; leftover input is the next pipelined request;
//         error       -> answer status_for(p.error()) and close.
//
// Beyond llhttp's strict checks it refuses (errc::smuggling / bad_request): Content-Length together
// with Transfer-Encoding, duplicate Content-Length, Transfer-Encoding other than exactly "chunked",
// obs-fold, whitespace before the colon, NUL/CR/LF/CTL in values, invalid header name characters,
// a missing or repeated Host on HTTP/1.1, non origin-form targets, CONNECT, and targets that
// cannot be normalised unambiguously (target.hpp: "%2F", '\', "%00", "/../", "..;", bad '%').
// head().target is the NORMALISED target (dot segments removed, slashes merged, unreserved
// characters decoded; the query unchanged): what the router matches and what goes upstream.
// Upgrade requests are treated as ordinary requests (Upgrade is hop-by-hop and gets dropped).
// Not thread-safe; one parser per connection.

#include "proxy/http/body_chunk.hpp"
#include "proxy/http/errc.hpp"
#include "proxy/http/limits.hpp"
#include "proxy/http/message.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace atsgate::http {

class request_parser {
public:
    explicit request_parser(const limits& l);
    ~request_parser();
    request_parser(const request_parser&) = delete;
    request_parser& operator=(const request_parser&) = delete;

    // Prepares for the next request on the same connection. Keeps allocated storage.
    // Call it after message_done (or before the first feed). An error is sticky: reset() does not
    // clear it (the connection must be closed). reset() in the middle of a request fails the
    // parser with bad_request, since the start of the next request cannot be known.
    void reset() noexcept;
    // Starts afresh for another connection (a pooled parser changing hands): clears everything,
    // a sticky error and a half-parsed message included. Keeps allocated storage.
    void restart() noexcept;

    struct result {
        std::size_t consumed = 0;  // input bytes used; never more than input.size()
        parse_event event = parse_event::need_more;
    };
    // Parses as much of `input` as possible up to the next event. Never reads past input.
    // After error, further calls return error again. After message_done, further calls return
    // message_done (consumed 0) until reset().
    result feed(std::span<const char> input) noexcept;

    // Valid after head_done until reset().
    const request_head& head() const noexcept;
    // Valid after a body event until the next feed(); views into the input given to that feed().
    std::span<const body_span> body_spans() const noexcept;
    // Total decoded body bytes so far in this message.
    std::uint64_t body_bytes() const noexcept;
    // Valid after error.
    errc error() const noexcept;
    // For logs: llhttp's reason text after an error ("Invalid header value char"), or "".
    std::string_view error_reason() const noexcept;
    // True once some byte of the current message has been seen (used for timeouts/idle detection).
    bool started() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace atsgate::http
