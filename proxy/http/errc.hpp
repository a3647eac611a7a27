#pragma once
// Errors of the HTTP codec, registered as a boost::system error-code enum so data-plane code can
// carry them in error_code. Each value maps to the status atsgate answers with (status_for()).

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <type_traits>

namespace atsgate::http {

enum class errc {
    ok = 0,
    bad_request = 1,         // malformed request line, header or framing (llhttp error): 400
    head_too_large,          // request head over limits.header_bytes: 431
    too_many_headers,        // more than limits.header_count fields: 431
    body_too_large,          // declared or streamed body over limits.body_bytes: 413
    bad_chunk,               // invalid chunk size / chunk framing: 400
    smuggling,               // ambiguous framing: CL+TE, duplicate or bad CL, TE not ending in chunked: 400
    missing_host,            // HTTP/1.1 request without exactly one Host: 400
    bad_target,              // request target not origin-form (or "*" with OPTIONS): 400
    method_not_allowed,      // CONNECT (atsgate is not a forward proxy): 405
    unsupported_version,     // HTTP/2 preface or a version other than 1.0 / 1.1: 505
    bad_response,            // malformed response from the upstream: 502
    response_head_too_large, // upstream response head over limits.response_header_bytes: 502
};

const boost::system::error_category& category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

// The HTTP status atsgate sends for a request-side error (400, 405, 413, 431, 505); 502 for the
// response-side ones.
std::uint16_t status_for(errc e) noexcept;

}  // namespace atsgate::http

template <>
struct boost::system::is_error_code_enum<atsgate::http::errc> : std::true_type {};
