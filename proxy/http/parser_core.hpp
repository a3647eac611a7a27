#pragma once
// Private to proxy/http: the llhttp driver shared by request_parser and response_parser.
//
// It owns the llhttp state, accumulates the head's text in storage reserved once (so pieces split
// across feed() calls at any byte are joined without per-request allocation), collects body spans,
// enforces the head size and field count limits, and checks the raw bytes that llhttp 8.1 lets
// through even in strict mode: bare LF line endings, obs-fold continuation lines and, for requests,
// a request line with other than exactly two SP. The role-specific checks (method, target,
// version, framing headers, Host, ...) are virtual hooks implemented by the two parsers.
//
// Pausing model: on_headers_complete and on_message_complete return HPE_PAUSED so llhttp stops
// exactly after the head / the message; llhttp_get_error_pos() then gives the consumed count and
// the next feed() (or reset()) calls llhttp_resume(). on_body records spans into a fixed array and
// pauses when it is full. If the message completes in the same execute as body data arrived, the
// body event is reported first and message_done on the next feed() (with consumed == 0).

#include "proxy/http/body_chunk.hpp"
#include "proxy/http/errc.hpp"
#include "proxy/http/message.hpp"

#include <llhttp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::http::detail {

class parser_core {
public:
    struct feed_result {
        std::size_t consumed = 0;
        parse_event event = parse_event::need_more;
    };

    parser_core(const parser_core&) = delete;
    parser_core& operator=(const parser_core&) = delete;

    feed_result feed(std::span<const char> input) noexcept;

    std::span<const body_span> body_spans() const noexcept { return {spans_.data(), nspans_}; }
    std::uint64_t body_bytes() const noexcept { return body_bytes_; }
    errc error() const noexcept { return error_; }
    std::string_view error_reason() const noexcept { return reason_ ? std::string_view{reason_} : std::string_view{}; }
    bool started() const noexcept { return started_; }

protected:
    enum class role : std::uint8_t { request, response };
    // Role-specific constants, fixed at construction.
    struct settings {
        role kind;
        std::uint32_t head_limit;    // raw head bytes (start line, fields, CRLFs)
        std::uint32_t field_limit;   // header fields per message
        std::uint64_t body_limit;    // decoded body bytes; 0 = unlimited
        errc head_too_large;         // head over head_limit (and trailers over it)
        errc too_many_fields;        // more than field_limit fields
        errc malformed;              // bare LF, obs-fold, bad field name or value
    };

    explicit parser_core(const settings& s);
    virtual ~parser_core();

    // Where the current message is.
    enum class phase : std::uint8_t {
        head,    // reading the start line and header fields
        body,    // head reported; reading the body (or waiting to report message_done)
        done,    // message_done reported; waiting for reset()/next_response()
        failed,  // error reported; sticky
    };

    // A header field as offsets into store_ (views are built once the head is complete).
    struct field_ref {
        std::uint32_t name_off, name_len, value_off, value_len;
    };

    // Hooks. Each returns errc::ok to continue or the error to fail the message with (a hook may
    // set hook_reason_ to a static string saying why, for logs).
    virtual errc on_method_complete(std::string_view method, std::uint8_t llhttp_method) noexcept;
    virtual errc on_target_complete(std::string_view target) noexcept;
    virtual errc on_version_complete(std::uint8_t major, std::uint8_t minor) noexcept = 0;
    // All fields are in: validate framing etc., build the public head, set chunked_body_ and call
    // skip_body() if the message has no body regardless of its headers.
    virtual errc on_head_complete() noexcept = 0;
    // Maps an llhttp error (not one raised by a hook) to the codec's error.
    virtual errc map_llhttp_error(llhttp_errno_t e) const noexcept = 0;

    // Per-message state back to "nothing seen". Keeps storage and the llhttp state.
    void clear_message() noexcept;
    // Fully re-initialises llhttp (clears errors too) and the per-message state.
    void restart() noexcept;
    // Continues llhttp after the pause at message completion.
    void resume_if_paused() noexcept;
    void fail(errc e, const char* reason) noexcept;
    // The message completed while body spans were still to be reported (message_done is next).
    bool message_complete_pending() const noexcept { return pending_done_; }

    std::string_view text(std::uint32_t off, std::uint32_t len) const noexcept { return {store_.data() + off, len}; }
    std::string_view method_text() const noexcept { return text(method_off_, method_len_); }
    std::string_view target_text() const noexcept { return text(target_off_, target_len_); }
    // The stored target, writable, for on_target_complete to rewrite in place; it may only shrink
    // (set_target_length(n) with n <= the current length).
    char* target_storage() noexcept { return store_.data() + target_off_; }
    void set_target_length(std::uint32_t n) noexcept { target_len_ = n <= target_len_ ? n : target_len_; }
    std::string_view reason_text() const noexcept { return text(reason_off_, reason_len_); }
    std::span<const field_ref> fields() const noexcept { return {fields_.data(), fields_.size()}; }
    // Fills `out` with views of the stored fields (capacity reserved to field_limit: no allocation).
    void build_headers(std::vector<header>& out) const noexcept;
    // The message has no body whatever its headers say (HEAD response, 1xx, 204, 304).
    void skip_body() noexcept { llp_.flags |= F_SKIPBODY; }

    const settings cfg_;
    llhttp_t llp_{};
    phase phase_ = phase::head;
    bool chunked_body_ = false;  // set by on_head_complete: raw framing lines of the body are checked
    const char* hook_reason_ = nullptr;  // why the last hook refused (static string), or null

private:
    // llhttp callbacks (data points at this object).
    static int cb_method(llhttp_t* p, const char* at, std::size_t len) noexcept;
    static int cb_method_complete(llhttp_t* p) noexcept;
    static int cb_url(llhttp_t* p, const char* at, std::size_t len) noexcept;
    static int cb_url_complete(llhttp_t* p) noexcept;
    static int cb_status(llhttp_t* p, const char* at, std::size_t len) noexcept;
    static int cb_status_complete(llhttp_t* p) noexcept;
    static int cb_version_complete(llhttp_t* p) noexcept;
    static int cb_header_field(llhttp_t* p, const char* at, std::size_t len) noexcept;
    static int cb_header_field_complete(llhttp_t* p) noexcept;
    static int cb_header_value(llhttp_t* p, const char* at, std::size_t len) noexcept;
    static int cb_header_value_complete(llhttp_t* p) noexcept;
    static int cb_headers_complete(llhttp_t* p) noexcept;
    static int cb_chunk_header(llhttp_t* p) noexcept;
    static int cb_body(llhttp_t* p, const char* at, std::size_t len) noexcept;
    static int cb_message_complete(llhttp_t* p) noexcept;

    int cb_fail(errc e, const char* reason) noexcept;
    int append_text(const char* at, std::size_t len) noexcept;
    std::uint32_t mark_text() noexcept;

    // Raw line checks over bytes llhttp consumed. Returns false on a violation (reason_ set).
    bool scan_head(const char* p, std::size_t n) noexcept;
    bool scan_lines(const char* p, std::size_t n) noexcept;
    bool scan_body_framing(const char* p, std::size_t n) noexcept;

    static constexpr std::size_t max_spans = 16;

    std::string store_;              // head text: method, target/reason, field names and values
    std::vector<field_ref> fields_;  // reserved to field_limit
    std::uint32_t mark_ = 0;         // start in store_ of the item being received
    std::uint32_t method_off_ = 0, method_len_ = 0;
    std::uint32_t target_off_ = 0, target_len_ = 0;
    std::uint32_t reason_off_ = 0, reason_len_ = 0;
    std::uint32_t name_off_ = 0, name_len_ = 0;
    std::uint32_t head_bytes_ = 0;     // raw head bytes consumed so far
    std::uint32_t trailer_bytes_ = 0;  // trailer field text (chunked), counted against head_limit
    std::uint32_t trailer_fields_ = 0;

    std::array<body_span, max_spans> spans_{};
    std::size_t nspans_ = 0;
    std::uint64_t body_bytes_ = 0;

    bool paused_ = false;        // llhttp returned HPE_PAUSED; resume before executing again
    bool pending_done_ = false;  // message completed while body spans were pending
    bool started_ = false;
    parse_event pause_event_ = parse_event::need_more;  // what the last callback pause means

    // Raw scanner state, carried across feed() calls.
    char prev_ = '\n';                // last scanned framing byte ('\n' at the message start)
    bool in_start_line_ = false;      // inside the request/status line
    bool start_line_seen_ = false;    // the first non-CRLF byte of the message was seen
    std::uint32_t start_line_sp_ = 0; // SP count in the request line

    errc error_ = errc::ok;
    errc cb_error_ = errc::ok;  // raised by a hook inside llhttp_execute
    const char* reason_ = nullptr;
};

}  // namespace atsgate::http::detail
