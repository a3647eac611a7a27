#pragma once
// Everything one request in flight needs, in one object: both HTTP parsers, the two 16 KiB input
// windows with their cursors, the staging strings of both hops, and the flags by which the upload
// and download directions of a streamed exchange coordinate. Idle keep-alive connections hold
// none of it: a connection takes a request_state from its worker's pool when the next request's
// first byte is readable and gives it back when it goes idle again, so memory follows active
// requests, not open connections (an idle TLS connection costs only its TLS state and coroutine
// frame). A state may outlive one request on a connection while a pipelined request waits in its
// client window; begin() resets the per-request part. Per worker, single-threaded, no locks.

#include "proxy/http/limits.hpp"
#include "proxy/http/request_parser.hpp"
#include "proxy/http/response_parser.hpp"
#include "proxy/http/url_guard.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/net/watchdog.hpp"

#include <boost/asio/buffer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::downstream {

// One TLS record of plaintext: the read size on both sides and the coalescing size for writes.
inline constexpr std::size_t io_buffer_size = 16 * 1024;

// A read buffer with its cursor: bytes [pos, end) were received and not yet consumed by a parser.
class input_window {
public:
    input_window() : data_(std::make_unique_for_overwrite<char[]>(io_buffer_size)) {}

    bool empty() const noexcept { return pos_ == end_; }
    std::string_view unread() const noexcept { return {data_.get() + pos_, end_ - pos_}; }
    // Where the next read lands (the whole buffer: only call when empty()).
    std::span<char> space() noexcept { return {data_.get(), io_buffer_size}; }
    // `n` bytes were read into space().
    void filled(std::size_t n) noexcept {
        pos_ = 0;
        end_ = n;
    }
    void consume(std::size_t n) noexcept { pos_ += n; }
    void clear() noexcept { pos_ = end_ = 0; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t pos_ = 0, end_ = 0;
};

// Why one direction of an exchange ended early.
enum class failure : std::uint8_t {
    none,
    upstream_io,       // upstream read/write failed or closed early
    upstream_timeout,  // the response did not come within response_timeout
    bad_response,      // the codec refused the upstream response
    client_io,         // client write/read failed
    client_timeout,    // the client paused its request body longer than timeouts.body
    request_body,      // the codec refused the request body (status in request_state::body_status)
    cancelled,         // the other direction ended the exchange
};

struct request_state {
    using clock = std::chrono::steady_clock;

    explicit request_state(const http::limits& l) : limits(l), parser(l), response(l) {}

    // Starts a new request at `now` (its first byte); keeps whatever the client window holds.
    void begin(clock::time_point now) noexcept {
        started = now;
        upstream_ms = 0;
        upload_done = download_done = false;
        body_status = 0;
        body_with_head = 0;
        response_wait = nullptr;
    }

    http::limits limits;
    http::request_parser parser;
    http::response_parser response;
    input_window from_client;
    input_window from_upstream;
    std::string to_upstream;  // upstream request head (+ the body already buffered with it)
    std::string to_client;    // client response head + coalesced body
    std::string chunk_head;   // chunk-size line of the upload piece being written
    std::string coalesce;     // TLS upstreams: gathered pieces joined into one record
    std::string location;     // Location of a redirect atsgate answers itself
    std::vector<net::asio::const_buffer> gather;
    std::vector<std::string_view> own_hosts;
    http::url_guard guard;

    // Per request (begin()).
    clock::time_point started{};
    double upstream_ms = 0;              // from sending the request to the end of the exchange
    bool upload_done = false;            // the request body was forwarded completely
    bool download_done = false;          // the response relay ended (either way)
    std::uint16_t body_status = 0;       // status to answer when the request body was refused
    std::uint64_t body_with_head = 0;    // body bytes in to_upstream with the head; counted once sent
    // The download's wait for response bytes while the upload still runs: that wait has no
    // deadline yet; the upload starts the response_timeout on it when the request is sent.
    net::deadline* response_wait = nullptr;
};

class request_pool {
public:
    static constexpr std::size_t max_free = 32;  // spare states kept per worker

    // A state sized for `l` (a reload may change the limits: states with other limits are dropped).
    std::unique_ptr<request_state> acquire(const http::limits& l) {
        while (!free_.empty()) {
            auto x = std::move(free_.back());
            free_.pop_back();
            if (same(x->limits, l)) {
                x->parser.restart();  // the previous borrower may have left mid-request or after an error
                x->from_client.clear();
                return x;
            }
        }
        return std::make_unique<request_state>(l);
    }

    void release(std::unique_ptr<request_state> x) {
        if (x && free_.size() < max_free) free_.push_back(std::move(x));
    }

    std::size_t spare() const noexcept { return free_.size(); }

private:
    static bool same(const http::limits& a, const http::limits& b) noexcept {
        return a.header_bytes == b.header_bytes && a.header_count == b.header_count && a.body_bytes == b.body_bytes &&
               a.response_header_bytes == b.response_header_bytes;
    }
    std::vector<std::unique_ptr<request_state>> free_;
};

}  // namespace atsgate::downstream
