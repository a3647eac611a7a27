#pragma once
// hsload's HTTP/1.1 response framing: sans-io, one fixed buffer, no allocation.
//
// The load generator only needs to know where a response ends (to send the next keep-alive request
// or to close) and its status code; it does not validate headers the way the proxy's llhttp codec
// does. Framing follows RFC 9112 §6.3: 1xx and 204/304 have no body; Transfer-Encoding: chunked;
// else Content-Length; else the body runs to the end of the connection.
//
// Use: reset() before each response; write received bytes into space() and commit(n); call parse()
// after each commit; call eof() when the connection ended. Thread affinity: none (plain data).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace atsgate::bench {

class response_reader {
public:
    // parse() results.
    enum class progress {
        need_more,  // the response is incomplete: read more into space()
        done,       // one complete response was consumed (status(), keep_alive() are valid)
        error,      // malformed or oversized head, bad chunk framing: close the connection
    };

    // Forgets the previous response. Bytes received beyond a response (there should be none: hsload
    // never pipelines) are dropped too.
    void reset() noexcept;

    // Free space to read into; never empty while parse() returns need_more.
    std::span<char> space() noexcept;
    // `n` bytes were written at space().data().
    void commit(std::size_t n) noexcept { end_ += n; }

    // Consumes what it can of the received bytes.
    progress parse() noexcept;
    // The connection ended: completes a close-delimited body, else it is an error.
    progress eof() noexcept;

    int status() const noexcept { return status_; }
    // False when the response said "Connection: close", was HTTP/1.0 without keep-alive, or was
    // close-delimited.
    bool keep_alive() const noexcept { return keep_alive_; }
    std::uint64_t body_bytes() const noexcept { return body_bytes_; }

    static constexpr std::size_t buffer_size = 16 * 1024;  // the whole response head must fit

private:
    enum class state {
        head,        // waiting for the end of the head (CRLF CRLF)
        body_length, // Content-Length body, remaining_ bytes left
        chunk_size,  // waiting for a chunk-size line
        chunk_data,  // inside a chunk, remaining_ bytes left
        chunk_crlf,  // the CRLF after a chunk's data
        trailers,    // trailer fields after the last chunk, until an empty line
        body_eof,    // close-delimited body
        done,        // complete
        failed,      // framing error
    };

    progress parse_head() noexcept;
    // Finds CRLF in [begin_, end_); returns its offset from begin_ or npos.
    std::size_t find_crlf() const noexcept;
    void compact() noexcept;

    std::array<char, buffer_size> buf_{};
    std::size_t begin_ = 0;  // first unconsumed byte
    std::size_t end_ = 0;    // one past the last received byte
    state state_ = state::head;
    std::uint64_t remaining_ = 0;
    std::uint64_t body_bytes_ = 0;
    int status_ = 0;
    bool keep_alive_ = true;
};

}  // namespace atsgate::bench
