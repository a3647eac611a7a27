#pragma once
// The memory a connection needs only while a request is in flight: both HTTP parsers, the two
// 16 KiB I/O windows and the head/body staging strings. Idle keep-alive connections hold none of
// it: a connection takes a set from its worker's pool when the next request's first byte is
// readable and gives it back when it goes idle again, so memory follows active requests, not open
// connections (an idle TLS connection costs only its TLS state and coroutine frames).
// Per worker, single-threaded, no locks.

#include "proxy/http/limits.hpp"
#include "proxy/http/request_parser.hpp"
#include "proxy/http/response_parser.hpp"
#include "proxy/http/url_guard.hpp"
#include "proxy/net/asio.hpp"

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::downstream {

// One TLS record of plaintext: the read size on both sides and the coalescing size for writes.
inline constexpr std::size_t io_buffer_size = 16 * 1024;

struct exchange_buffers {
    explicit exchange_buffers(const http::limits& l)
        : limits(l),
          req(l),
          resp(l),
          rbuf(std::make_unique_for_overwrite<char[]>(io_buffer_size)),
          ubuf(std::make_unique_for_overwrite<char[]>(io_buffer_size)) {}

    http::limits limits;
    http::request_parser req;
    http::response_parser resp;
    std::unique_ptr<char[]> rbuf;  // client -> atsgate
    std::unique_ptr<char[]> ubuf;  // upstream -> atsgate
    std::string out;               // upstream request head (+ buffered body)
    std::string cout;              // client response head + coalesced body
    std::string chunk_head;
    std::string coalesce;          // TLS upstreams: gathered pieces joined into one record
    std::vector<net::asio::const_buffer> gather;
    std::vector<std::string_view> own_hosts;
    http::url_guard guard;
};

class exchange_pool {
public:
    static constexpr std::size_t max_free = 32;  // spare sets kept per worker

    // A set sized for `l` (a reload may change the limits: sets with other limits are dropped).
    std::unique_ptr<exchange_buffers> acquire(const http::limits& l) {
        while (!free_.empty()) {
            auto x = std::move(free_.back());
            free_.pop_back();
            if (same(x->limits, l)) {
                x->req.restart();  // the previous borrower may have left mid-request or after an error
                return x;
            }
        }
        return std::make_unique<exchange_buffers>(l);
    }

    void release(std::unique_ptr<exchange_buffers> x) {
        if (x && free_.size() < max_free) free_.push_back(std::move(x));
    }

    std::size_t spare() const noexcept { return free_.size(); }

private:
    static bool same(const http::limits& a, const http::limits& b) noexcept {
        return a.header_bytes == b.header_bytes && a.header_count == b.header_count && a.body_bytes == b.body_bytes &&
               a.response_header_bytes == b.response_header_bytes;
    }
    std::vector<std::unique_ptr<exchange_buffers>> free_;
};

}  // namespace atsgate::downstream
