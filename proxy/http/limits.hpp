#pragma once
// Codec limits, copied from the snapshot's config::limit_settings by the caller (the codec does
// not depend on config/).

#include <cstdint>

namespace atsgate::http {

struct limits {
    std::uint32_t header_bytes = 32 * 1024;           // request line + all header lines, CRLFs included
    std::uint32_t header_count = 100;                 // header fields per message
    std::uint64_t body_bytes = 4ull << 30;            // request body; 0 = unlimited
    std::uint32_t response_header_bytes = 64 * 1024;  // status line + header lines of a response
};

}  // namespace atsgate::http
