#include "proxy/http/local_response.hpp"

#include "proxy/http/rewrite.hpp"

#include <charconv>

namespace atsgate::http {

namespace {

void append_uint(std::uint64_t v, std::string& out) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace

std::size_t write_local_response(const local_response& r, bool close, bool head_request, std::string& out) {
    const auto reason = reason_phrase(r.status);
    out.append("HTTP/1.1 ");
    append_uint(r.status, out);
    out.push_back(' ');
    out.append(reason);
    out.append("\r\n");
    const bool bodiless = r.status == 204 || r.status == 304;
    std::size_t body_len = 0;
    if (!bodiless) {
        // Generated body "<status> <reason>\n": 3 digits for every status we send.
        char code[8];
        const auto code_len = static_cast<std::size_t>(std::to_chars(code, code + sizeof code, r.status).ptr - code);
        body_len = r.body ? r.body->size() : code_len + (reason.empty() ? 0 : 1 + reason.size()) + 1;
        if (!r.content_type.empty()) {
            out.append("Content-Type: ");
            out.append(r.content_type);
            out.append("\r\n");
        }
        out.append("Content-Length: ");
        append_uint(body_len, out);
        out.append("\r\n");
    }
    if (!r.location.empty()) {
        out.append("Location: ");
        out.append(r.location);
        out.append("\r\n");
    }
    if (!r.allow.empty()) {
        out.append("Allow: ");
        out.append(r.allow);
        out.append("\r\n");
    }
    if (close) out.append("Connection: close\r\n");
    out.append("\r\n");
    if (bodiless || head_request) return 0;
    if (r.body) {
        out.append(*r.body);
    } else {
        append_uint(r.status, out);
        if (!reason.empty()) {
            out.push_back(' ');
            out.append(reason);
        }
        out.push_back('\n');
    }
    return body_len;
}

bool local_response_closes(const request_head* request, bool body_unread) noexcept {
    return request == nullptr || !request->keep_alive || body_unread;
}

}  // namespace atsgate::http
