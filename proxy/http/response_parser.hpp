#pragma once
// Sans-io HTTP/1.1 response parser over llhttp (strict mode), for responses from the upstream.
// Same event model as request_parser. Handles: HEAD responses (no body whatever the headers say),
// 1xx interim responses (reported as head_done + message_done with status 1xx; the caller then
// calls next_response() and keeps feeding), 204/304 without body, close-delimited bodies
// (framing::until_close: call finish() at EOF to get message_done), chunked and Content-Length.
// Refuses: CL+TE, duplicate Content-Length, invalid chunk framing, oversized head (errc::bad_response
// / response_head_too_large). Not thread-safe; one parser per upstream exchange.

#include "proxy/http/body_chunk.hpp"
#include "proxy/http/errc.hpp"
#include "proxy/http/limits.hpp"
#include "proxy/http/message.hpp"

#include <memory>
#include <span>
#include <string_view>

namespace atsgate::http {

class response_parser {
public:
    explicit response_parser(const limits& l);
    ~response_parser();
    response_parser(const response_parser&) = delete;
    response_parser& operator=(const response_parser&) = delete;

    // Prepares for the response to a request with method `request_method` ("HEAD" => no body).
    // Starts afresh: clears a previous error too (each exchange is independent).
    void reset(std::string_view request_method) noexcept;
    // After a 1xx interim response completed: prepares for the next (final) response to the same
    // request without losing buffered input state.
    // Called in any other state it fails the parser with bad_response.
    void next_response() noexcept;

    struct result {
        std::size_t consumed = 0;
        parse_event event = parse_event::need_more;
    };
    result feed(std::span<const char> input) noexcept;
    // The upstream closed the connection: completes an until_close body (message_done), otherwise
    // error (truncated message) unless nothing of a response was received yet (error as well; the
    // caller decides whether that is retryable by checking started()).
    result finish() noexcept;

    const response_head& head() const noexcept;
    std::span<const body_span> body_spans() const noexcept;
    std::uint64_t body_bytes() const noexcept;
    errc error() const noexcept;
    std::string_view error_reason() const noexcept;
    bool started() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace atsgate::http
