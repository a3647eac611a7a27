#include "proxy/http/rewrite.hpp"

#include "proxy/http/field_util.hpp"
#include "util/host_port.hpp"

#include <charconv>
#include <cstddef>
#include <cstring>

namespace atsgate::http {

// String literals as string_views: append(ptr, len) with the length known at compile time (a
// plain "..." goes through append(const char*) and strlen when the call is not inlined).
using namespace std::string_view_literals;

namespace {

void append_uint(std::uint64_t v, std::string& out, int base = 10) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, base);
    out.append(buf, r.ptr);
}

// The framing header the re-framed message carries: Content-Length or chunked; nothing for a message
// without a body or a close-delimited one.
void append_framing(framing body, std::uint64_t content_length, std::string& out) {
    switch (body) {
        case framing::content_length:
            out.append("Content-Length: "sv);
            append_uint(content_length, out);
            out.append("\r\n"sv);
            break;
        case framing::chunked: out.append("Transfer-Encoding: chunked\r\n"sv); break;
        case framing::none:
        case framing::until_close: break;
    }
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": "sv);
    out.append(value);
    out.append("\r\n"sv);
}

// Index of the first Connection field that lists something other than the usual options
// ("close", "keep-alive", "upgrade", which name no end-to-end field), or headers.size() when there
// is none: then no field needs the (quadratic) listed_in_connection() check.
std::size_t first_connection(const std::vector<header>& headers) noexcept {
    for (std::size_t i = 0; i < headers.size(); ++i) {
        if (headers[i].name.size() != 10 || !iequals(headers[i].name, "connection")) continue;
        const bool lists_fields = detail::any_list_item(headers[i].value, [](std::string_view item) {
            return !iequals(item, "close") && !iequals(item, "keep-alive") && !iequals(item, "upgrade");
        });
        if (lists_fields) return i;
    }
    return headers.size();
}

// What write_upstream_request does with a field, decided by length first.
enum class upstream_field : std::uint8_t { copy, drop, host, xff };

upstream_field classify_upstream(std::string_view name) noexcept {
    switch (name.size()) {
        case 4: return iequals(name, "host") ? upstream_field::host : upstream_field::copy;
        case 6: return iequals(name, "expect") ? upstream_field::drop : upstream_field::copy;  // 100-continue is ours
        case 15: return iequals(name, "x-forwarded-for") ? upstream_field::xff : upstream_field::copy;
        case 16:  // replaced by ours
            return iequals(name, "x-forwarded-host") || is_hop_by_hop(name) ? upstream_field::drop : upstream_field::copy;
        case 17:
            return iequals(name, "x-forwarded-proto") || is_hop_by_hop(name) ? upstream_field::drop : upstream_field::copy;
        case 19:  // a forward proxy's credential (RFC 9110 section 11.7.2): never the backend's business
            return iequals(name, "proxy-authorization") ? upstream_field::drop : upstream_field::copy;
        default: return is_hop_by_hop(name) ? upstream_field::drop : upstream_field::copy;
    }
}

// True if `name` is listed in any Connection field from index `from` on (RFC 9110 section 7.6.1:
// such fields are hop-by-hop and must be removed).
bool listed_in_connection(const std::vector<header>& headers, std::size_t from, std::string_view name) noexcept {
    for (std::size_t i = from; i < headers.size(); ++i)
        if (iequals(headers[i].name, "connection") && detail::list_has_token(headers[i].value, name)) return true;
    return false;
}

// Does the authority of an http:// URL name one of our own hosts? An entry without a port
// matches only the default http port (absent, empty or 80); an entry with a port only that port.
bool is_own_authority(std::string_view authority, std::span<const std::string_view> own_hosts) noexcept {
    auto [host, port] = util::split_host_port(authority);
    if (host.empty()) return false;
    if (port.empty()) port = "80";
    for (const auto entry : own_hosts) {
        auto [e_host, e_port] = util::split_host_port(entry);
        if (e_port.empty()) e_port = "80";
        if (iequals(host, e_host) && port == e_port) return true;
    }
    return false;
}

constexpr std::string_view http_scheme = "http://";

// '_' anywhere in a header name. Names are short: eight bytes at a time (SWAR zero-byte test on
// name ^ "________"), no call.
bool has_underscore(std::string_view name) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const char* p = name.data();
    std::size_t n = name.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        w ^= ones * '_';
        if (((w - ones) & ~w & highs) != 0) return true;
    }
    for (; n > 0; ++p, --n)
        if (*p == '_') return true;
    return false;
}

}  // namespace

bool is_identity_field(std::string_view name) noexcept {
    if (name.size() < 11) return false;  // "client-cert" is the shortest
    // Cheap filter on the first letters: nearly every name (Content-Type, X-Forwarded-For, ...) is
    // decided here without a comparison call.
    const char second = static_cast<char>(name[1] | 0x20);
    switch (name[0] | 0x20) {
        case 'c': return second == 'l' && starts_with_ci(name, "client-cert");
        case 's': return second == 's' && starts_with_ci(name, "ssl-client-");
        case 'x':
            if (name[1] != '-') return false;
            switch (name[2] | 0x20) {
                case 'c': return starts_with_ci(name, "x-client-cert");
                case 's': return starts_with_ci(name, "x-ssl-client-");
                case 'f': return iequals(name, "x-forwarded-client-cert");
                case 'a': return iequals(name, "x-arr-clientcert") || starts_with_ci(name, "x-amzn-mtls-");
                default: return false;
            }
        default: return false;
    }
}

bool is_hop_by_hop(std::string_view name) noexcept {
    switch (name.size()) {
        case 2: return iequals(name, "te");
        case 7: return iequals(name, "trailer") || iequals(name, "upgrade");
        case 10: return iequals(name, "connection") || iequals(name, "keep-alive");
        case 14: return iequals(name, "content-length");
        case 16: return iequals(name, "proxy-connection");
        case 17: return iequals(name, "transfer-encoding");
        default: return false;
    }
}

upstream_request_drops write_upstream_request(const request_head& h, const upstream_request_context& ctx,
                                              std::string& out) {
    upstream_request_drops drops;
    out.append(h.method);
    out.push_back(' ');
    out.append(h.target);
    out.append(" HTTP/1.1\r\n"sv);

    const auto& headers = h.headers;
    const std::size_t conn = first_connection(headers);
    bool host_written = false;
    std::size_t xff_count = 0;
    for (const auto& f : headers) {
        const auto kind = classify_upstream(f.name);
        if (kind == upstream_field::drop) continue;
        if (has_underscore(f.name)) {  // "X_Client_Cert" is X-Client-Cert to a CGI backend
            ++drops.underscore;
            continue;
        }
        if (is_identity_field(f.name) || (!ctx.identity_header.empty() && iequals(f.name, ctx.identity_header))) {
            ++drops.identity;  // only atsgate sets identity fields
            continue;
        }
        // Host is never dropped even if Connection lists it: the upstream request needs it, and a
        // client must not be able to strip it (RFC 9112 section 3.2).
        if (kind != upstream_field::host && conn < headers.size() && listed_in_connection(headers, conn, f.name))
            continue;
        if (kind == upstream_field::xff) {
            ++xff_count;  // merged below, in order, with the client address appended
            continue;
        }
        if (kind == upstream_field::host) {
            if (host_written) continue;  // the parser refuses a second Host; never forward two
            host_written = true;
        }
        append_field(out, f.name, f.value);
    }
    if (!host_written) append_field(out, "Host", h.host);  // HTTP/1.0 without Host: empty value
    if (!ctx.identity_header.empty() && !ctx.identity_value.empty())
        append_field(out, ctx.identity_header, ctx.identity_value);

    // X-Forwarded-For: every client-sent value in order (unless Connection listed it), then the
    // peer address.
    if (xff_count > 0 || !ctx.client_ip.empty()) {
        out.append("X-Forwarded-For: "sv);
        bool first = true;
        for (std::size_t i = 0; xff_count > 0 && i < headers.size(); ++i) {
            const auto& f = headers[i];
            if (f.value.empty() || classify_upstream(f.name) != upstream_field::xff) continue;
            if (!first) out.append(", "sv);
            out.append(f.value);
            first = false;
        }
        if (!ctx.client_ip.empty()) {
            if (!first) out.append(", "sv);
            out.append(ctx.client_ip);
        }
        out.append("\r\n"sv);
    }
    append_field(out, "X-Forwarded-Proto", ctx.proto);
    if (!h.host.empty()) append_field(out, "X-Forwarded-Host", h.host);

    append_framing(ctx.body, ctx.content_length, out);  // a request body cannot be close-delimited
    out.append("\r\n"sv);
    return drops;
}

response_rewrites write_client_response(const response_head& h, const client_response_context& ctx,
                                        std::string& out) {
    response_rewrites rw;
    out.append("HTTP/1.1 "sv);
    append_uint(h.status, out);
    out.push_back(' ');
    out.append(h.reason.empty() ? reason_phrase(h.status) : h.reason);
    out.append("\r\n"sv);

    const auto& headers = h.headers;
    const std::size_t conn = first_connection(headers);
    for (const auto& f : headers) {
        if (is_hop_by_hop(f.name)) continue;
        if (conn < headers.size() && listed_in_connection(headers, conn, f.name)) continue;
        if (f.name.size() == 8 && iequals(f.name, "location") && f.value.size() > http_scheme.size() &&
            iequals(f.value.substr(0, http_scheme.size()), http_scheme)) {
            // The legacy server believes it is reached over plain http; the device must only ever
            // be sent to https (Apple ATS refuses http:// loads).
            const auto rest = f.value.substr(http_scheme.size());
            const auto path_at = rest.find_first_of("/?#");
            const auto authority = rest.substr(0, path_at);
            const auto tail = path_at == std::string_view::npos ? std::string_view{} : rest.substr(path_at);
            if (!ctx.request_host.empty() && is_own_authority(authority, ctx.own_hosts)) {
                out.append(f.name);
                out.append(": https://"sv);
                out.append(ctx.request_host);
                out.append(tail);
                out.append("\r\n"sv);
                rw.location_rewritten = true;
                continue;
            }
            rw.plaintext_location = true;  // foreign host: left alone, reported to the caller
        }
        append_field(out, f.name, f.value);
    }

    append_framing(ctx.body, ctx.content_length, out);  // until_close: nothing, Connection: close below
    // A close-delimited body ends only by closing the connection, so say so whatever keep_alive is.
    if (!ctx.keep_alive || ctx.body == framing::until_close) out.append("Connection: close\r\n"sv);
    out.append("\r\n"sv);
    return rw;
}

void append_chunk_header(std::size_t size, std::string& out) {
    append_uint(size, out, 16);
    out.append("\r\n"sv);
}

std::string_view reason_phrase(std::uint16_t status) noexcept {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 102: return "Processing";
        case 103: return "Early Hints";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 203: return "Non-Authoritative Information";
        case 204: return "No Content";
        case 205: return "Reset Content";
        case 206: return "Partial Content";
        case 207: return "Multi-Status";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 402: return "Payment Required";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 407: return "Proxy Authentication Required";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 421: return "Misdirected Request";
        case 422: return "Unprocessable Content";
        case 425: return "Too Early";
        case 426: return "Upgrade Required";
        case 428: return "Precondition Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 451: return "Unavailable For Legal Reasons";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        case 507: return "Insufficient Storage";
        case 511: return "Network Authentication Required";
        default: return "";
    }
}

}  // namespace atsgate::http
