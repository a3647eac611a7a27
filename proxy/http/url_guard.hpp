#pragma once
// Plaintext URL guard: finds http:// URLs in response bodies a device acts on (plists, profiles,
// JSON) as they stream past. Detection only: bodies are never modified (a signed profile must stay
// byte-exact). Sans-io, allocation-free: a small state machine fed body spans of any size, split
// anywhere.
//
// Exempt (counted separately, never reported): SCEP URLs (any URL containing "scep" or
// "pkiclient.exe", case-insensitive: Apple exempts SCEP from ATS) and the plist DTD reference
// "http://www.apple.com/DTDs/..." that every XML plist carries but no device fetches.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace atsgate::http {

class url_guard {
public:
    // Whether responses with this Content-Type are scanned: XML and plists
    // (application/xml, text/xml, application/x-plist, application/x-apple-aspen-*), JSON, and
    // signed profiles (application/pkcs7-mime), whose signed plist content is stored in the clear.
    static bool applies(std::string_view content_type) noexcept;

    // Starts a new body; at most `budget` bytes are scanned (bounded work per response).
    void reset(std::uint64_t budget) noexcept;

    // Scans the next piece of the body.
    void feed(std::span<const char> data) noexcept;
    // The body ended: a URL running up to the end is counted.
    void finish() noexcept;

    std::uint32_t plaintext() const noexcept { return plaintext_; }  // offending http:// URLs
    std::uint32_t exempt() const noexcept { return exempt_; }        // SCEP and DTD URLs
    // The first offending URL (truncated to 200 bytes), for the log line.
    std::string_view first() const noexcept { return {first_.data(), first_len_}; }

private:
    void end_url() noexcept;

    static constexpr std::string_view scheme = "http://";
    std::uint64_t budget_ = 0;
    std::size_t matched_ = 0;  // bytes of "http://" matched so far
    bool in_url_ = false;
    std::array<char, 200> url_{};  // current URL (truncated)
    std::size_t url_len_ = 0;
    std::array<char, 200> first_{};
    std::size_t first_len_ = 0;
    std::uint32_t plaintext_ = 0;
    std::uint32_t exempt_ = 0;
};

}  // namespace atsgate::http
