#pragma once
// Why a PROXY protocol header was refused (parser.hpp): one code per rule, registered as an
// error-code enum.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace atsgate::proxyproto {

enum class errc {
    ok = 0,
    not_proxy_protocol = 1,  // the first bytes match neither signature (e.g. a TLS ClientHello)
    v1_too_long,             // no CRLF within 107 bytes
    v1_bad_protocol,         // not TCP4, TCP6 or UNKNOWN
    v1_bad_address,          // an address that does not parse, or the wrong family for TCP4/TCP6
    v1_bad_port,             // not a decimal 0..65535 without leading zeros
    v1_malformed,            // missing or extra fields, not single spaces, CR without LF
    v2_bad_version,          // version nibble is not 2
    v2_bad_command,          // command nibble is neither LOCAL (0) nor PROXY (1)
    v2_bad_family,           // family nibble > 3
    v2_bad_transport,        // transport nibble is DGRAM (2) or > 2: not a TCP connection
    v2_bad_length,           // the length is smaller than the address block of the family
    v2_too_long,             // the header is longer than max_v2_length
    v2_bad_checksum,         // a PP2_TYPE_CRC32C TLV that does not match the header
};

const boost::system::error_category& category() noexcept;
inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }
// A short stable name for logs and metric labels: "not_proxy_protocol", "v1_bad_port", ...
const char* to_string(errc e) noexcept;

}  // namespace atsgate::proxyproto

template <>
struct boost::system::is_error_code_enum<atsgate::proxyproto::errc> : std::true_type {};
