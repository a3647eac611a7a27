#include "proxy/http/client_framing.hpp"

#include "proxy/http/field_util.hpp"

namespace atsgate::http {

client_framing choose_client_framing(std::string_view method, std::uint8_t version_minor,
                                     const response_head& rh) noexcept {
    client_framing f;
    if (method == "HEAD" || rh.status == 204 || rh.status == 304) {
        f.relay = framing::none;
        if (rh.status != 204) {
            if (auto cl = find_header(rh.headers, "content-length")) {
                if (auto n = parse_content_length(*cl)) {  // describes the GET entity: keep it
                    f.declared = framing::content_length;
                    f.content_length = *n;
                }
            }
        }
        return f;
    }
    if (rh.body == framing::content_length) {
        f.relay = f.declared = framing::content_length;
        f.content_length = rh.content_length;
    } else if (rh.body == framing::none) {
        f.relay = f.declared = framing::content_length;
        f.content_length = 0;
    } else if (version_minor >= 1) {
        f.relay = f.declared = framing::chunked;  // chunked or close-delimited upstream
    } else {
        f.relay = f.declared = framing::until_close;  // HTTP/1.0 client: no chunked
    }
    return f;
}

std::optional<std::uint64_t> parse_content_length(std::string_view value) noexcept {
    std::uint64_t n = 0;
    if (!detail::parse_content_length(value, n)) return std::nullopt;
    return n;
}

bool is_idempotent(std::string_view m) noexcept {
    return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" || m == "TRACE";
}

bool client_stays_open(const keep_alive_inputs& in) noexcept {
    return in.client_keep_alive && in.request_body_read && !in.draining && in.relay != framing::until_close &&
           (in.limit == 0 || in.served < in.limit);
}

}  // namespace atsgate::http
