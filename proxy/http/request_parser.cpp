#include "proxy/http/request_parser.hpp"

#include "proxy/http/field_util.hpp"
#include "proxy/http/parser_core.hpp"
#include "proxy/http/target.hpp"

#include <memory>
#include <utility>

namespace atsgate::http {

struct request_parser::impl final : detail::parser_core {
    explicit impl(const limits& l)
        : parser_core(settings{.kind = role::request,
                               .head_limit = l.header_bytes,
                               .field_limit = l.header_count,
                               .body_limit = l.body_bytes,
                               .head_too_large = errc::head_too_large,
                               .too_many_fields = errc::too_many_headers,
                               .malformed = errc::bad_request}) {
        head_.headers.reserve(l.header_count);
    }

    void restart_all() noexcept {
        restart();
        auto headers = std::move(head_.headers);
        headers.clear();
        head_ = request_head{};
        head_.headers = std::move(headers);
    }

    void reset() noexcept {
        if (phase_ == phase::failed) return;  // sticky: the connection must be closed
        const bool at_boundary = phase_ == phase::done || message_complete_pending() ||
                                 (phase_ == phase::head && !started());
        if (!at_boundary) {
            // Mid-message the start of the next request cannot be known: refuse rather than guess.
            fail(errc::bad_request, "reset() in the middle of a request");
            return;
        }
        resume_if_paused();
        clear_message();
        auto headers = std::move(head_.headers);  // keep the reserved capacity
        headers.clear();
        head_ = request_head{};
        head_.headers = std::move(headers);
    }

    errc on_method_complete(std::string_view, std::uint8_t m) noexcept override {
        // atsgate is a reverse proxy, not a tunnel (RFC 9110 section 9.3.6).
        if (m == HTTP_CONNECT) return errc::method_not_allowed;
        // "PRI * HTTP/2.0" is the HTTP/2 connection preface (RFC 9113 section 3.4); h2 is not offered.
        if (m == HTTP_PRI) return errc::unsupported_version;
        return errc::ok;
    }

    errc on_target_complete(std::string_view target) noexcept override {
        // Only origin-form (RFC 9112 section 3.2.1) and, for OPTIONS, asterisk-form. absolute-form
        // is for forward proxies and authority-form for CONNECT; accepting either would let the
        // target disagree with Host.
        if (target == "*") return llp_.method == HTTP_OPTIONS ? errc::ok : errc::bad_target;
        if (target.empty() || target.front() != '/') return errc::bad_target;
        // A fragment is never sent (RFC 9110 section 4.2.5); llhttp accepts '#'.
        if (target.find('#') != std::string_view::npos) return errc::bad_target;
        // Routing and the upstream see one normalised target (target.hpp): rewritten in place in
        // the head storage (it never grows), or refused when it has no single meaning.
        const auto n = normalize_target(target, target_storage());
        if (n.status != target_status::ok) {
            hook_reason_ = to_string(n.status).data();  // a string literal
            return errc::bad_target;
        }
        set_target_length(static_cast<std::uint32_t>(n.size));
        return errc::ok;
    }

    errc on_version_complete(std::uint8_t major, std::uint8_t minor) noexcept override {
        return major == 1 && minor <= 1 ? errc::ok : errc::unsupported_version;
    }

    errc on_head_complete() noexcept override {
        auto& h = head_;
        h.method = method_text();
        h.target = target_text();
        h.version_major = llp_.http_major;
        h.version_minor = llp_.http_minor;
        build_headers(h.headers);
        // llhttp reads a request line without a version ("GET  /x": its two SP pass the raw count)
        // as HTTP/0.9, still parses header fields, and never calls on_version_complete: without
        // this, such a request (even without Host) went upstream as HTTP/1.1. Malformed for
        // HTTP/1.x, like "GET /x", hence bad_request. Found by tests/fuzz/fuzz_request_parser.
        if (h.version_major != 1 || h.version_minor > 1) return errc::bad_request;

        const auto [hosts, lengths, codings, host, length, coding, close, keep_alive, expect] =
            detail::scan_framing(h.headers);
        const bool http11 = h.version_minor == 1;

        // Framing (RFC 9112 section 6.3). Anything ambiguous is refused, never repaired: the
        // upstream must never see a body boundary different from ours.
        if (codings > 0) {
            if (lengths > 0) return errc::smuggling;    // CL + TE
            if (codings > 1) return errc::smuggling;    // TE split over several fields
            if (!iequals(coding, "chunked")) return errc::smuggling;  // only exactly "chunked"
            if (!http11) return errc::smuggling;        // TE in HTTP/1.0: faulty framing (section 6.1)
            h.body = framing::chunked;
            chunked_body_ = true;
        } else if (lengths > 0) {
            if (lengths > 1) return errc::smuggling;  // even identical duplicates
            std::uint64_t n = 0;
            if (!detail::parse_content_length(length, n)) return errc::smuggling;
            if (cfg_.body_limit != 0 && n > cfg_.body_limit) return errc::body_too_large;
            h.body = framing::content_length;
            h.content_length = n;
        } else {
            h.body = framing::none;
        }

        // Host (RFC 9112 section 3.2): exactly one on HTTP/1.1, at most one on HTTP/1.0.
        if (hosts > 1 || (http11 && hosts == 0)) return errc::missing_host;
        if (!detail::is_valid_host(host)) return errc::bad_request;
        h.host = host;

        h.keep_alive = http11 ? !close : (keep_alive && !close);
        // A server MUST ignore 100-continue in an HTTP/1.0 request (RFC 9110 section 10.1.1).
        h.expect_continue = http11 && expect;
        return errc::ok;
    }

    errc map_llhttp_error(llhttp_errno_t e) const noexcept override {
        switch (e) {
            case HPE_INVALID_CONTENT_LENGTH:       // "+5", "5, 5", overflow, empty
            case HPE_UNEXPECTED_CONTENT_LENGTH:    // duplicate CL, CL with TE
            case HPE_INVALID_TRANSFER_ENCODING: return errc::smuggling;
            case HPE_INVALID_CHUNK_SIZE: return errc::bad_chunk;
            case HPE_INVALID_VERSION:
                // Well-formed but unsupported ("HTTP/1.2") vs malformed ("HTTP/1.1 ").
                return (llp_.http_major == 1 && llp_.http_minor <= 1) ? errc::bad_request : errc::unsupported_version;
            default: return phase_ == phase::body && chunked_body_ ? errc::bad_chunk : errc::bad_request;
        }
    }

    request_head head_;
};

request_parser::request_parser(const limits& l) : impl_(std::make_unique<impl>(l)) {}
request_parser::~request_parser() = default;

void request_parser::reset() noexcept { impl_->reset(); }
void request_parser::restart() noexcept { impl_->restart_all(); }

request_parser::result request_parser::feed(std::span<const char> input) noexcept {
    const auto r = impl_->feed(input);
    return {r.consumed, r.event};
}

const request_head& request_parser::head() const noexcept { return impl_->head_; }
std::span<const body_span> request_parser::body_spans() const noexcept { return impl_->body_spans(); }
std::uint64_t request_parser::body_bytes() const noexcept { return impl_->body_bytes(); }
errc request_parser::error() const noexcept { return impl_->error(); }
std::string_view request_parser::error_reason() const noexcept { return impl_->error_reason(); }
bool request_parser::started() const noexcept { return impl_->started(); }

}  // namespace atsgate::http
