#include "proxy/http/parser_core.hpp"

#include "proxy/http/field_util.hpp"

#include <cstring>

namespace atsgate::http::detail {

namespace {
// llhttp keeps an open span's start pointer across calls and restarts it at `data`; it must never
// be null, so empty input is passed as an empty range at this address.
constexpr char empty_input[1] = {0};

parser_core& self(llhttp_t* p) noexcept { return *static_cast<parser_core*>(p->data); }
}  // namespace

parser_core::parser_core(const settings& s) : cfg_(s) {
    store_.reserve(cfg_.head_limit);
    fields_.reserve(cfg_.field_limit);
    // The settings object must outlive the parser; a function-local static built once is shared by
    // all parsers (it holds only function pointers).
    static const llhttp_settings_t cbs = [] {
        llhttp_settings_t c;
        llhttp_settings_init(&c);
        c.on_method = &parser_core::cb_method;
        c.on_method_complete = &parser_core::cb_method_complete;
        c.on_url = &parser_core::cb_url;
        c.on_url_complete = &parser_core::cb_url_complete;
        c.on_status = &parser_core::cb_status;
        c.on_status_complete = &parser_core::cb_status_complete;
        c.on_version_complete = &parser_core::cb_version_complete;
        c.on_header_field = &parser_core::cb_header_field;
        c.on_header_field_complete = &parser_core::cb_header_field_complete;
        c.on_header_value = &parser_core::cb_header_value;
        c.on_header_value_complete = &parser_core::cb_header_value_complete;
        c.on_headers_complete = &parser_core::cb_headers_complete;
        c.on_chunk_header = &parser_core::cb_chunk_header;
        c.on_body = &parser_core::cb_body;
        c.on_message_complete = &parser_core::cb_message_complete;
        return c;
    }();
    llhttp_init(&llp_, cfg_.kind == role::request ? HTTP_REQUEST : HTTP_RESPONSE, &cbs);
    // No llhttp_set_lenient_*: strict parsing is the smuggling defence (STYLE.md section 9).
    llp_.data = this;
}

parser_core::~parser_core() = default;

errc parser_core::on_method_complete(std::string_view, std::uint8_t) noexcept { return errc::ok; }
errc parser_core::on_target_complete(std::string_view) noexcept { return errc::ok; }

void parser_core::clear_message() noexcept {
    phase_ = phase::head;
    chunked_body_ = false;
    store_.clear();
    fields_.clear();
    mark_ = method_off_ = method_len_ = target_off_ = target_len_ = reason_off_ = reason_len_ = 0;
    name_off_ = name_len_ = 0;
    head_bytes_ = trailer_bytes_ = trailer_fields_ = 0;
    nspans_ = 0;
    body_bytes_ = 0;
    pending_done_ = false;
    started_ = false;
    pause_event_ = parse_event::need_more;
    prev_ = '\0';
    in_start_line_ = start_line_seen_ = false;
    start_line_sp_ = 0;
    cb_error_ = errc::ok;
    hook_reason_ = nullptr;
}

void parser_core::restart() noexcept {
    llhttp_reset(&llp_);  // keeps type, settings, data and (zero) lenient flags
    paused_ = false;
    error_ = errc::ok;
    reason_ = nullptr;
    clear_message();
}

void parser_core::resume_if_paused() noexcept {
    if (paused_) {
        llhttp_resume(&llp_);
        paused_ = false;
    }
}

void parser_core::fail(errc e, const char* reason) noexcept {
    phase_ = phase::failed;
    error_ = e;
    reason_ = reason;
    nspans_ = 0;
    pending_done_ = false;
}

void parser_core::build_headers(std::vector<header>& out) const noexcept {
    out.clear();
    for (const auto& f : fields_) out.push_back({text(f.name_off, f.name_len), text(f.value_off, f.value_len)});
}

parser_core::feed_result parser_core::feed(std::span<const char> input) noexcept {
    switch (phase_) {
        case phase::failed: return {0, parse_event::error};
        case phase::done: return {0, parse_event::message_done};
        case phase::head:
        case phase::body: break;
    }
    if (pending_done_) {
        pending_done_ = false;
        nspans_ = 0;
        phase_ = phase::done;
        return {0, parse_event::message_done};
    }
    nspans_ = 0;
    pause_event_ = parse_event::need_more;
    resume_if_paused();

    const phase start_phase = phase_;
    const char* data = input.empty() ? empty_input : input.data();
    std::size_t n = input.size();
    bool truncated = false;
    if (start_phase == phase::head) {
        // Give llhttp no more than the head may still take: the head either completes inside this
        // budget or the message is refused, and store_ (reserved to head_limit) never grows.
        const std::size_t room = cfg_.head_limit - head_bytes_;
        if (n > room) {
            n = room;
            truncated = true;
        }
    }

    std::size_t consumed = 0;
    llhttp_errno_t err = HPE_OK;
    for (;;) {
        err = llhttp_execute(&llp_, data + consumed, n - consumed);
        const char* stop = err == HPE_OK ? data + n : llhttp_get_error_pos(&llp_);
        consumed = static_cast<std::size_t>(stop - data);
        // Upgrade is cleared in on_headers_complete so llhttp never stops for it; if it still
        // does, continue parsing the following bytes as HTTP (atsgate never switches protocols).
        if (err != HPE_PAUSED_UPGRADE) break;
        llhttp_resume_after_upgrade(&llp_);
    }
    if (consumed > 0) started_ = true;

    // Raw checks over what llhttp consumed in this call; a violation there precedes whatever
    // llhttp or a hook reported at the end of the region.
    bool raw_ok = true;
    if (start_phase == phase::head)
        raw_ok = scan_head(data, consumed);
    else if (chunked_body_)
        raw_ok = scan_body_framing(data, consumed);
    if (!raw_ok) {
        const bool in_chunks = start_phase == phase::body && cfg_.kind == role::request;
        fail(in_chunks ? errc::bad_chunk : cfg_.malformed, reason_);
        return {consumed, parse_event::error};
    }

    if (start_phase == phase::head) head_bytes_ += static_cast<std::uint32_t>(consumed);

    switch (err) {
        case HPE_OK:
            if (truncated) {
                fail(cfg_.head_too_large, "head larger than the configured limit");
                return {consumed, parse_event::error};
            }
            return {consumed, nspans_ > 0 ? parse_event::body : parse_event::need_more};
        case HPE_PAUSED:
            paused_ = true;
            if (pending_done_) return {consumed, parse_event::body};
            if (pause_event_ == parse_event::message_done) phase_ = phase::done;
            return {consumed, pause_event_};
        default: {
            const errc e = cb_error_ != errc::ok ? cb_error_ : map_llhttp_error(err);
            const char* why = cb_error_ != errc::ok ? reason_ : llhttp_get_error_reason(&llp_);
            fail(e, why);
            return {consumed, parse_event::error};
        }
    }
}

// --- raw line checks ---------------------------------------------------------------------------

bool parser_core::scan_lines(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    while (i < n) {
        // A line starting with SP/HTAB continues the previous one: obs-fold (RFC 9112 section 5.2),
        // which llhttp 8.1 joins silently. Refused instead of replaced: it is a classic smuggling
        // vector and no Apple MDM client sends it.
        if (prev_ == '\n' && is_ows(p[i])) {
            reason_ = "obs-fold (line starting with whitespace)";
            return false;
        }
        const void* lf = std::memchr(p + i, '\n', n - i);
        if (lf == nullptr) {
            prev_ = p[n - 1];
            return true;
        }
        const auto end = static_cast<std::size_t>(static_cast<const char*>(lf) - p);
        const char before = end > i ? p[end - 1] : prev_;
        // RFC 9112 section 2.2 allows a recipient to accept bare LF; we do not (llhttp 8.1 strict
        // still accepts it after the start line and at the end of the head).
        if (before != '\r') {
            reason_ = "bare LF line ending";
            return false;
        }
        prev_ = '\n';
        i = end + 1;
    }
    return true;
}

bool parser_core::scan_head(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    while (!start_line_seen_ && i < n) {
        // Empty lines before the start line are tolerated (RFC 9112 section 2.2), CRLF only.
        const char c = p[i];
        if (c != '\r' && c != '\n') {
            start_line_seen_ = in_start_line_ = true;
            break;
        }
        if (c == '\n' && prev_ != '\r') {
            reason_ = "bare LF line ending";
            return false;
        }
        prev_ = c;
        ++i;
    }
    if (in_start_line_ && i < n) {
        const void* lf = std::memchr(p + i, '\n', n - i);
        const auto end = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - p) : n;
        for (std::size_t k = i; k < end; ++k) start_line_sp_ += p[k] == ' ';
        if (lf == nullptr) {
            prev_ = p[n - 1];
            return true;
        }
        const char before = end > i ? p[end - 1] : prev_;
        if (before != '\r') {
            reason_ = "bare LF line ending";
            return false;
        }
        // request-line = method SP request-target SP HTTP-version (RFC 9112 section 3): llhttp 8.1
        // accepts repeated SP between method and target.
        if (cfg_.kind == role::request && start_line_sp_ != 2) {
            reason_ = "request line must have exactly two single spaces";
            return false;
        }
        in_start_line_ = false;
        prev_ = '\n';
        i = end + 1;
    }
    return scan_lines(p + i, n - i);
}

bool parser_core::scan_body_framing(const char* p, std::size_t n) noexcept {
    // Chunk-size lines, the CRLF after each chunk, trailers and the final CRLF are framing; chunk
    // data (the spans of this call, in order) is skipped.
    const char* cur = p;
    const char* const end = p + n;
    for (std::size_t k = 0; k < nspans_; ++k) {
        const char* s = spans_[k].data();
        if (s < cur || s > end) continue;  // not from this region (cannot happen)
        if (!scan_lines(cur, static_cast<std::size_t>(s - cur))) return false;
        prev_ = '\0';  // data separates framing bytes
        cur = s + spans_[k].size();
    }
    return scan_lines(cur, static_cast<std::size_t>(end - cur));
}

// --- llhttp callbacks --------------------------------------------------------------------------

int parser_core::cb_fail(errc e, const char* reason) noexcept {
    cb_error_ = e;
    reason_ = reason;
    llhttp_set_error_reason(&llp_, reason);
    return -1;
}

int parser_core::append_text(const char* at, std::size_t len) noexcept {
    // Cannot exceed the reservation: everything stored is a part of the head, and llhttp is never
    // given more head bytes than head_limit (see feed()).
    if (store_.size() + len > store_.capacity()) return cb_fail(cfg_.head_too_large, "head storage exhausted");
    store_.append(at, len);
    return 0;
}

std::uint32_t parser_core::mark_text() noexcept {
    const auto start = mark_;
    mark_ = static_cast<std::uint32_t>(store_.size());
    return start;
}

int parser_core::cb_method(llhttp_t* p, const char* at, std::size_t len) noexcept {
    return self(p).append_text(at, len);
}

int parser_core::cb_method_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    s.method_off_ = s.mark_text();
    s.method_len_ = s.mark_ - s.method_off_;
    const errc e = s.on_method_complete(s.method_text(), p->method);
    return e == errc::ok ? 0 : s.cb_fail(e, "method refused");
}

int parser_core::cb_url(llhttp_t* p, const char* at, std::size_t len) noexcept {
    return self(p).append_text(at, len);
}

int parser_core::cb_url_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    s.target_off_ = s.mark_text();
    s.target_len_ = s.mark_ - s.target_off_;
    const errc e = s.on_target_complete(s.target_text());
    return e == errc::ok ? 0 : s.cb_fail(e, s.hook_reason_ != nullptr ? s.hook_reason_ : "request target refused");
}

int parser_core::cb_status(llhttp_t* p, const char* at, std::size_t len) noexcept {
    return self(p).append_text(at, len);
}

int parser_core::cb_status_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    s.reason_off_ = s.mark_text();
    s.reason_len_ = s.mark_ - s.reason_off_;
    return 0;
}

int parser_core::cb_version_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    const errc e = s.on_version_complete(p->http_major, p->http_minor);
    return e == errc::ok ? 0 : s.cb_fail(e, "HTTP version not supported");
}

int parser_core::cb_header_field(llhttp_t* p, const char* at, std::size_t len) noexcept {
    auto& s = self(p);
    if (s.phase_ == phase::body) {  // trailer field (chunked): checked and counted, not kept
        s.trailer_bytes_ += static_cast<std::uint32_t>(len);
        if (s.trailer_bytes_ > s.cfg_.head_limit) return s.cb_fail(s.cfg_.head_too_large, "trailer section too large");
        return 0;
    }
    return s.append_text(at, len);
}

int parser_core::cb_header_field_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    if (s.phase_ == phase::body) {
        if (++s.trailer_fields_ > s.cfg_.field_limit) return s.cb_fail(s.cfg_.too_many_fields, "too many trailer fields");
        return 0;
    }
    s.name_off_ = s.mark_text();
    s.name_len_ = s.mark_ - s.name_off_;
    if (s.fields_.size() >= s.cfg_.field_limit) return s.cb_fail(s.cfg_.too_many_fields, "too many header fields");
    // llhttp checks name characters but lets an empty name (": value") through.
    if (!is_token(s.text(s.name_off_, s.name_len_))) return s.cb_fail(s.cfg_.malformed, "invalid header field name");
    return 0;
}

int parser_core::cb_header_value(llhttp_t* p, const char* at, std::size_t len) noexcept {
    auto& s = self(p);
    if (s.phase_ == phase::body) {
        s.trailer_bytes_ += static_cast<std::uint32_t>(len);
        if (s.trailer_bytes_ > s.cfg_.head_limit) return s.cb_fail(s.cfg_.head_too_large, "trailer section too large");
        return 0;
    }
    return s.append_text(at, len);
}

int parser_core::cb_header_value_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    if (s.phase_ == phase::body) return 0;
    const auto off = s.mark_text();
    const auto raw = s.text(off, s.mark_ - off);
    // Belt and braces: llhttp strict already refuses CTLs in values.
    if (!is_field_value(raw)) return s.cb_fail(s.cfg_.malformed, "invalid character in header value");
    const auto value = trim_ows(raw);
    const auto value_off = static_cast<std::uint32_t>(value.data() - s.store_.data());
    s.fields_.push_back({s.name_off_, s.name_len_, value_off, static_cast<std::uint32_t>(value.size())});
    return 0;
}

int parser_core::cb_headers_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    const errc e = s.on_head_complete();
    if (e != errc::ok) return s.cb_fail(e, "message head refused");
    // Upgrade is hop-by-hop and dropped by the writer, so the request is an ordinary one; without
    // this llhttp would stop with HPE_PAUSED_UPGRADE after it and treat what follows as another
    // protocol.
    p->upgrade = 0;
    s.phase_ = phase::body;
    s.pause_event_ = parse_event::head_done;
    return HPE_PAUSED;
}

int parser_core::cb_chunk_header(llhttp_t* p) noexcept {
    auto& s = self(p);
    // p->content_length is the size of the chunk that starts now: refuse before reading it.
    if (s.cfg_.body_limit != 0 && p->content_length > s.cfg_.body_limit - s.body_bytes_)
        return s.cb_fail(errc::body_too_large, "chunked body larger than the configured limit");
    return 0;
}

int parser_core::cb_body(llhttp_t* p, const char* at, std::size_t len) noexcept {
    auto& s = self(p);
    if (len == 0) return 0;
    if (s.cfg_.body_limit != 0 && len > s.cfg_.body_limit - s.body_bytes_)
        return s.cb_fail(errc::body_too_large, "body larger than the configured limit");
    s.spans_[s.nspans_++] = body_span{at, len};
    s.body_bytes_ += len;
    if (s.nspans_ == max_spans) {
        s.pause_event_ = parse_event::body;
        return HPE_PAUSED;
    }
    return 0;
}

int parser_core::cb_message_complete(llhttp_t* p) noexcept {
    auto& s = self(p);
    if (s.nspans_ > 0)
        s.pending_done_ = true;  // report the spans first, message_done on the next feed()
    else
        s.pause_event_ = parse_event::message_done;
    return HPE_PAUSED;
}

}  // namespace atsgate::http::detail
