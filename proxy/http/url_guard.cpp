#include "proxy/http/url_guard.hpp"

#include "proxy/http/message.hpp"

#include <algorithm>
#include <cstring>

namespace atsgate::http {

namespace {

constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Characters that end a URL in XML, JSON or plain text.
constexpr bool ends_url(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\'' || c == '\\' || c == '`' ||
           c == '{' || c == '}' || c == '|' || c == '^';
}

bool icontains(std::string_view hay, std::string_view needle) noexcept {
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        bool ok = true;
        for (std::size_t j = 0; j < needle.size() && ok; ++j) ok = lower(hay[i + j]) == needle[j];
        if (ok) return true;
    }
    return false;
}

}  // namespace

bool url_guard::applies(std::string_view ct) noexcept {
    const std::string_view type = ct.substr(0, ct.find(';'));
    auto starts = [&](std::string_view p) { return starts_with_ci(type, p); };
    return starts("application/xml") || starts("text/xml") || starts("application/x-plist") ||
           starts("application/x-apple-aspen-") || starts("application/json") || starts("application/pkcs7-mime") ||
           starts("application/x-apple-plist");
}

void url_guard::reset(std::uint64_t budget) noexcept {
    budget_ = budget;
    matched_ = 0;
    in_url_ = false;
    url_len_ = 0;
    first_len_ = 0;
    plaintext_ = 0;
    exempt_ = 0;
}

void url_guard::end_url() noexcept {
    in_url_ = false;
    const std::string_view url(url_.data(), url_len_);
    if (url.size() <= scheme.size()) return;  // "http://" followed by nothing: not a URL
    // SCEP endpoints are usually ".../scep" or the classic ".../cgi-bin/pkiclient.exe" (RFC 8894).
    if (icontains(url, "scep") || icontains(url, "pkiclient.exe") || icontains(url, "http://www.apple.com/dtds/")) {
        ++exempt_;
    } else {
        if (plaintext_ == 0) {
            first_len_ = url_len_;
            std::copy_n(url_.data(), url_len_, first_.data());
        }
        ++plaintext_;
    }
    url_len_ = 0;
}

void url_guard::feed(std::span<const char> data) noexcept {
    if (budget_ == 0) return;
    if (data.size() > budget_) data = data.first(static_cast<std::size_t>(budget_));
    budget_ -= data.size();
    const char* p = data.data();
    const char* const end = p + data.size();
    while (p != end) {
        if (!in_url_ && matched_ == 0) {
            // Between URLs: a scheme that starts at or after p has its ':' 4 bytes in, at or after
            // the next ':' (q), so it starts at q - 4 or later. memchr finds q; the byte loop
            // below takes over 4 bytes before it (or 4 before the end of the span, where a
            // scheme may begin that the next span completes).
            const void* colon = std::memchr(p, ':', static_cast<std::size_t>(end - p));
            const char* q = colon != nullptr ? static_cast<const char*>(colon) : end;
            if (q - p > 4) p = q - 4;
        }
        const char c = *p++;
        if (in_url_) {
            if (ends_url(c)) {
                end_url();
            } else {
                if (url_len_ < url_.size()) url_[url_len_++] = c;
                continue;
            }
        }
        if (lower(c) == scheme[matched_]) {
            if (++matched_ == scheme.size()) {
                in_url_ = true;
                matched_ = 0;
                std::copy(scheme.begin(), scheme.end(), url_.begin());
                url_len_ = scheme.size();
            }
        } else {
            matched_ = lower(c) == scheme[0] ? 1 : 0;
        }
    }
    if (budget_ == 0 && in_url_) end_url();
}

void url_guard::finish() noexcept {
    if (in_url_) end_url();
    budget_ = 0;
}

}  // namespace atsgate::http
