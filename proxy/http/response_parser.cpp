#include "proxy/http/response_parser.hpp"

#include "proxy/http/field_util.hpp"
#include "proxy/http/parser_core.hpp"

#include <memory>
#include <utility>

namespace atsgate::http {

struct response_parser::impl final : detail::parser_core {
    explicit impl(const limits& l)
        : parser_core(settings{.kind = role::response,
                               .head_limit = l.response_header_bytes,
                               .field_limit = l.header_count,
                               .body_limit = 0,
                               .head_too_large = errc::response_head_too_large,
                               .too_many_fields = errc::response_head_too_large,
                               .malformed = errc::bad_response}) {
        head_.headers.reserve(l.header_count);
    }

    void clear_head() noexcept {
        auto headers = std::move(head_.headers);  // keep the reserved capacity
        headers.clear();
        head_ = response_head{};
        head_.headers = std::move(headers);
    }

    void reset(std::string_view method) noexcept {
        // A new exchange (possibly on another upstream connection): everything starts afresh,
        // errors included.
        restart();
        clear_head();
        head_request_ = iequals(method, "HEAD");
    }

    void next_response() noexcept {
        if (phase_ == phase::failed) return;
        if (phase_ != phase::done || head_.status >= 200) {
            fail(errc::bad_response, "next_response() without a completed 1xx response");
            return;
        }
        // The interim response ended exactly where llhttp paused, so a fresh llhttp state starts
        // at the final response's first byte (and does not inherit the 1xx's Connection flags).
        const bool head_request = head_request_;
        restart();
        clear_head();
        head_request_ = head_request;
    }

    parser_core::feed_result finish() noexcept {
        switch (phase_) {
            case phase::failed: return {0, parse_event::error};
            case phase::done: return {0, parse_event::message_done};
            case phase::head: break;
            case phase::body:
                if (message_complete_pending()) return feed({});
                // Close-delimited body (RFC 9112 section 6.3 rule 8): EOF is its end.
                if (head_.body == framing::until_close) {
                    phase_ = phase::done;
                    return {0, parse_event::message_done};
                }
                break;
        }
        fail(errc::bad_response, started() ? "upstream closed before the response was complete"
                                           : "upstream closed without sending a response");
        return {0, parse_event::error};
    }

    errc on_version_complete(std::uint8_t major, std::uint8_t minor) noexcept override {
        return major == 1 && minor <= 1 ? errc::ok : errc::bad_response;
    }

    errc on_head_complete() noexcept override {
        auto& h = head_;
        h.status = llp_.status_code;
        h.reason = reason_text();
        h.version_major = llp_.http_major;
        h.version_minor = llp_.http_minor;
        build_headers(h.headers);

        // llhttp accepts any number of status digits ("20"). 101 is refused: atsgate drops
        // Upgrade, so a switch of protocols was never asked for (RFC 9110 section 15.2.2).
        if (h.status < 100 || h.status > 599 || h.status == 101) return errc::bad_response;

        const detail::framing_fields ff = detail::scan_framing(h.headers);
        const auto lengths = ff.lengths, codings = ff.codings;
        const std::string_view length = ff.length, coding = ff.coding;
        const bool close = ff.close, keep_alive = ff.keep_alive;
        const bool http11 = h.version_minor == 1;

        // Bodies are re-framed towards the client, so only "chunked" can be decoded here; any
        // other transfer coding (or TE from an HTTP/1.0 server, RFC 9112 section 6.1) is refused.
        if (codings > 0 && (lengths > 0 || codings > 1 || !iequals(coding, "chunked") || !http11))
            return errc::bad_response;
        if (lengths > 1) return errc::bad_response;
        if (lengths == 1 && !detail::parse_content_length(length, h.content_length)) return errc::bad_response;

        // No body whatever the headers say (RFC 9112 section 6.3 rule 1): responses to HEAD, 1xx,
        // 204 and 304. content_length keeps the declared value (the size a GET would have had).
        if (head_request_ || h.status < 200 || h.status == 204 || h.status == 304) {
            skip_body();  // what returning 1 from on_headers_complete would do; we return HPE_PAUSED
            h.body = framing::none;
        } else if (codings > 0) {
            h.body = framing::chunked;
            chunked_body_ = true;
        } else if (lengths > 0) {
            h.body = framing::content_length;
        } else {
            h.body = framing::until_close;
        }
        h.keep_alive = (http11 ? !close : (keep_alive && !close)) && h.body != framing::until_close;
        return errc::ok;
    }

    errc map_llhttp_error(llhttp_errno_t) const noexcept override { return errc::bad_response; }

    response_head head_;
    bool head_request_ = false;
};

response_parser::response_parser(const limits& l) : impl_(std::make_unique<impl>(l)) {}
response_parser::~response_parser() = default;

void response_parser::reset(std::string_view request_method) noexcept { impl_->reset(request_method); }
void response_parser::next_response() noexcept { impl_->next_response(); }

response_parser::result response_parser::feed(std::span<const char> input) noexcept {
    const auto r = impl_->feed(input);
    return {r.consumed, r.event};
}

response_parser::result response_parser::finish() noexcept {
    const auto r = impl_->finish();
    return {r.consumed, r.event};
}

const response_head& response_parser::head() const noexcept { return impl_->head_; }
std::span<const body_span> response_parser::body_spans() const noexcept { return impl_->body_spans(); }
std::uint64_t response_parser::body_bytes() const noexcept { return impl_->body_bytes(); }
errc response_parser::error() const noexcept { return impl_->error(); }
std::string_view response_parser::error_reason() const noexcept { return impl_->error_reason(); }
bool response_parser::started() const noexcept { return impl_->started(); }

}  // namespace atsgate::http
