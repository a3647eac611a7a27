#include "bench/hsload/response_reader.hpp"

#include <algorithm>
#include <cstring>

namespace atsgate::bench {

namespace {

constexpr std::size_t npos = static_cast<std::size_t>(-1);

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// Case-insensitive search for a token in a comma-separated field value ("keep-alive, close").
bool has_token(std::string_view value, std::string_view token) noexcept {
    while (!value.empty()) {
        const auto comma = value.find(',');
        auto item = value.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (iequals(item, token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (s.empty() || s.size() > 18) return false;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = v;
    return true;
}

// Chunk size: hex digits, then optional whitespace / ";extensions".
bool parse_chunk_size(std::string_view s, std::uint64_t& out) noexcept {
    std::uint64_t v = 0;
    std::size_t digits = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else if (c == ';' || c == ' ' || c == '\t') break;
        else return false;
        if (++digits > 15) return false;
        v = v * 16 + static_cast<std::uint64_t>(d);
    }
    if (digits == 0) return false;
    out = v;
    return true;
}

}  // namespace

void response_reader::reset() noexcept {
    begin_ = end_ = 0;
    state_ = state::head;
    remaining_ = 0;
    body_bytes_ = 0;
    status_ = 0;
    keep_alive_ = true;
}

std::span<char> response_reader::space() noexcept {
    if (begin_ == end_) begin_ = end_ = 0;
    if (end_ == buf_.size()) compact();
    return {buf_.data() + end_, buf_.size() - end_};
}

void response_reader::compact() noexcept {
    if (begin_ == 0) return;
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
}

std::size_t response_reader::find_crlf() const noexcept {
    for (std::size_t i = begin_; i + 1 < end_; ++i)
        if (buf_[i] == '\r' && buf_[i + 1] == '\n') return i - begin_;
    return npos;
}

response_reader::progress response_reader::parse_head() noexcept {
    const std::string_view avail(buf_.data() + begin_, end_ - begin_);
    const auto head_end = avail.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
        if (begin_ == 0 && end_ == buf_.size()) return state_ = state::failed, progress::error;
        return progress::need_more;
    }
    std::string_view head = avail.substr(0, head_end + 2);  // keeps the last line's CRLF
    begin_ += head_end + 4;

    // Status line: HTTP/1.x SP 3DIGIT SP reason
    const auto eol = head.find("\r\n");
    const auto line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return state_ = state::failed, progress::error;
    int code = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        if (line[i] < '0' || line[i] > '9') return state_ = state::failed, progress::error;
        code = code * 10 + (line[i] - '0');
    }
    const bool http10 = line[7] == '0';
    bool keep_alive = !http10;
    bool chunked = false;
    bool have_length = false;
    std::uint64_t length = 0;
    while (!head.empty()) {
        const auto e = head.find("\r\n");
        const auto field = head.substr(0, e);
        head.remove_prefix(e + 2);
        const auto colon = field.find(':');
        if (colon == std::string_view::npos) return state_ = state::failed, progress::error;
        const auto name = field.substr(0, colon);
        const auto value = field.substr(colon + 1);
        if (iequals(name, "content-length")) {
            std::uint64_t v = 0;
            if (!parse_decimal(value, v) || (have_length && v != length)) return state_ = state::failed, progress::error;
            have_length = true;
            length = v;
        } else if (iequals(name, "transfer-encoding")) {
            chunked = has_token(value, "chunked");
        } else if (iequals(name, "connection")) {
            if (has_token(value, "close")) keep_alive = false;
            if (has_token(value, "keep-alive")) keep_alive = true;
        }
    }
    if (code >= 100 && code < 200) return progress::need_more;  // interim response: the real one follows
    status_ = code;
    keep_alive_ = keep_alive;
    if (code == 204 || code == 304) {
        state_ = state::done;
    } else if (chunked) {
        state_ = state::chunk_size;
    } else if (have_length) {
        remaining_ = length;
        state_ = length == 0 ? state::done : state::body_length;
    } else {
        keep_alive_ = false;
        state_ = state::body_eof;
    }
    return progress::need_more;
}

response_reader::progress response_reader::parse() noexcept {
    for (;;) {
        switch (state_) {
        case state::head: {
            const auto before = begin_;
            const auto p = parse_head();
            if (p == progress::error) return p;
            if (state_ == state::head && begin_ == before) return progress::need_more;
            break;
        }
        case state::body_length:
        case state::chunk_data: {
            const std::uint64_t n = std::min<std::uint64_t>(remaining_, end_ - begin_);
            begin_ += static_cast<std::size_t>(n);
            remaining_ -= n;
            body_bytes_ += n;
            if (remaining_ != 0) return progress::need_more;
            state_ = state_ == state::body_length ? state::done : state::chunk_crlf;
            break;
        }
        case state::chunk_crlf:
            if (end_ - begin_ < 2) return progress::need_more;
            if (buf_[begin_] != '\r' || buf_[begin_ + 1] != '\n') return state_ = state::failed, progress::error;
            begin_ += 2;
            state_ = state::chunk_size;
            break;
        case state::chunk_size: {
            const auto e = find_crlf();
            if (e == npos) {
                if (end_ - begin_ > 1024) return state_ = state::failed, progress::error;
                return progress::need_more;
            }
            std::uint64_t size = 0;
            if (!parse_chunk_size({buf_.data() + begin_, e}, size)) return state_ = state::failed, progress::error;
            begin_ += e + 2;
            remaining_ = size;
            state_ = size == 0 ? state::trailers : state::chunk_data;
            break;
        }
        case state::trailers: {
            const auto e = find_crlf();
            if (e == npos) {
                if (end_ - begin_ > 4096) return state_ = state::failed, progress::error;
                return progress::need_more;
            }
            begin_ += e + 2;
            if (e == 0) state_ = state::done;
            break;
        }
        case state::body_eof:
            body_bytes_ += end_ - begin_;
            begin_ = end_;
            return progress::need_more;
        case state::done:
            return progress::done;
        case state::failed:
            return progress::error;
        }
    }
}

response_reader::progress response_reader::eof() noexcept {
    if (state_ == state::body_eof) {
        state_ = state::done;
        return progress::done;
    }
    if (state_ == state::done) return progress::done;
    state_ = state::failed;
    return progress::error;
}

}  // namespace atsgate::bench
