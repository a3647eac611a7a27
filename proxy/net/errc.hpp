#pragma once
// Transport errors of proxy/net (TLS stream, watchdog), registered as an error-code enum.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace atsgate::net {

enum class errc {
    ok = 0,
    tls_handshake_failed = 1,  // handshake refused or failed (reason in tls::handshake_record)
    tls_protocol_error,        // fatal TLS error after the handshake (bad record, bad MAC, ...)
    truncated,                 // peer closed TCP without close_notify (RFC 8446 section 6.1)
    tls_resource,              // SSL object could not be created (out of memory)
    timeout,                   // a watchdog deadline expired (phase in watchdog::expired_phase())
};

const boost::system::error_category& category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace atsgate::net

template <>
struct boost::system::is_error_code_enum<atsgate::net::errc> : std::true_type {};
