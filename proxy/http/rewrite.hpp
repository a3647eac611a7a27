#pragma once
// Head serialisation for both hops. Pure functions: head in, bytes appended to `out`.
// `out` is the caller's reusable buffer (no per-request allocation once it has grown).

#include "proxy/http/message.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace atsgate::http {

// Hop-by-hop fields never forwarded in either direction (RFC 9110 section 7.6.1), plus the names
// listed in Connection. Content-Length and Transfer-Encoding are also not copied: the writer
// re-emits framing itself from `body` below, so what reaches the other hop is normalised.
bool is_hop_by_hop(std::string_view name) noexcept;

struct upstream_request_context {
    std::string_view client_ip;       // appended to X-Forwarded-For ("a, b, client_ip")
    std::string_view proto = "https"; // X-Forwarded-Proto, replaces any client-sent value
    framing body = framing::none;     // framing to declare: none, content_length or chunked
    std::uint64_t content_length = 0;
    // Device identity: the listener's client_cert_header ("" when client_auth = "none"). A field of
    // that name sent by the client is dropped like every other identity field
    // (is_identity_field()); when `identity_value` is not empty, "identity_header: identity_value"
    // is added.
    std::string_view identity_header{};
    std::string_view identity_value{};
};

// What write_upstream_request left out of the client's fields, for counters.
struct upstream_request_drops {
    std::uint32_t underscore = 0;  // names containing '_'
    std::uint32_t identity = 0;    // identity fields (is_identity_field or the configured name)
};

// Fields that carry a client-certificate identity in some backend's convention, which only
// atsgate may set: a device must never be able to send one, on any listener, whatever the
// client_auth setting (issue 9). Case-insensitive; a name that is, or starts with:
//   Client-Cert, Client-Cert-Chain (RFC 9440)          prefix "client-cert"
//   X-Client-Cert (NanoMDM, nginx $ssl_client_escaped_cert convention)   prefix "x-client-cert"
//   X-SSL-Client-Cert / -Verify / -S-DN (nginx, HAProxy conventions)      prefix "x-ssl-client-"
//   SSL-Client-Cert / ... (CGI HTTP_SSL_CLIENT_*)      prefix "ssl-client-"
//   X-Forwarded-Client-Cert (Envoy XFCC)               "x-forwarded-client-cert"
//   X-ARR-ClientCert (IIS Application Request Routing) "x-arr-clientcert"
//   X-Amzn-Mtls-Clientcert, -Leaf (AWS ALB)            prefix "x-amzn-mtls-"
// The underscore spellings (X_Client_Cert, SSL_CLIENT_CERT) never pass either: every name with
// '_' is dropped (see write_upstream_request).
bool is_identity_field(std::string_view name) noexcept;

// Appends "METHOD target HTTP/1.1\r\n" + end-to-end headers + identity header + X-Forwarded-For/-Proto/-Host +
// framing + "\r\n". `h.target` is forwarded as the parser normalised it (what the router matched).
// Drops hop-by-hop headers, those named by Connection, Expect (atsgate answers 100-continue
// itself), Proxy-Authorization (a credential for a forward proxy, RFC 9110 section 11.7.2, never
// for the backend), client-sent X-Forwarded-Proto / X-Forwarded-Host (replaced), identity fields
// (is_identity_field and ctx.identity_header), and every field whose name contains '_': CGI, WSGI,
// PHP and Rack map '_' and '-' to the same variable, so "X_Client_Cert" would reach the backend as
// X-Client-Cert (nginx drops them too: underscores_in_headers off). Dropped, not refused: real
// clients send such names harmlessly, and nothing of them reaches the backend.
// Host is forwarded as received; X-Forwarded-Host is set to it. Returns what was dropped.
upstream_request_drops write_upstream_request(const request_head& h, const upstream_request_context& ctx, std::string& out);

struct client_response_context {
    bool keep_alive = true;            // false: emit "Connection: close"
    framing body = framing::none;      // framing to declare to the client: none, content_length,
    std::uint64_t content_length = 0;  // chunked, or until_close (no framing header, close after)
    std::string_view request_host;     // Host of the request, e.g. "mdm.example.com:8443"
    // Hosts whose http:// Location URLs are rewritten to https://request_host: the request host,
    // the listener's server_name and the upstream's host[:port]. Compared case-insensitively; a
    // port in the Location must match the entry when the entry has one.
    std::span<const std::string_view> own_hosts;
};

struct response_rewrites {
    bool location_rewritten = false;      // a Location header was changed from http:// to https://
    bool plaintext_location = false;      // an http:// Location to a foreign host was left as is
};

// Appends "HTTP/1.1 status reason\r\n" + end-to-end response headers + framing + Connection +
// "\r\n". Rewrites "Location: http://own-host/..." to "https://request_host/...".
response_rewrites write_client_response(const response_head& h, const client_response_context& ctx,
                                        std::string& out);

// Responses atsgate generates itself: local_response.hpp.

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

// Chunked transfer coding helpers for re-framing bodies (RFC 9112 section 7.1).
void append_chunk_header(std::size_t size, std::string& out);  // "<hex>\r\n"
inline constexpr std::string_view chunk_trailer = "\r\n";       // after each chunk's data
inline constexpr std::string_view last_chunk = "0\r\n\r\n";     // end of body, no trailers

// Standard reason phrase for a status code ("Bad Gateway"), "" if unknown.
std::string_view reason_phrase(std::uint16_t status) noexcept;

}  // namespace atsgate::http
