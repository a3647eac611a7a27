#pragma once

#include <cstddef>
#include <span>

namespace atsgate::http {

// Decoded body bytes found by a parser in the caller's input buffer (chunk framing removed).
using body_span = std::span<const char>;

// What a feed() call reached.
enum class parse_event {
    need_more,     // consumed everything given; call feed() again with more bytes
    head_done,     // the head is complete and available; input after it was not consumed
    body,          // body_spans() holds decoded body data; feed() the rest of the input again,
                   // even when nothing is left: message_done may follow with consumed == 0
    message_done,  // the message (head and body) is complete; bytes after it were not consumed
    error,         // error() tells why; the connection must be closed after answering
};

}  // namespace atsgate::http
