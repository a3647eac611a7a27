#pragma once
// Dashboard sessions for browsers. A browser cannot be told to send "Authorization: Bearer" on a
// plain navigation, so the dashboard's login form (POST /login, the token in the body, never in a
// URL) exchanges the admin token once for a cookie that proves knowledge of the token without
// being it:
//
//   v1.<expiry, unix seconds>.<hex HMAC-SHA256(secret, "atsgate-dashboard|v1|<expiry>|" SHA-256(token))>
//
// `secret` is random per process. A session therefore ends at its expiry, when the token changes
// (a reload with a new token), and when atsgate restarts. The admin endpoint accepts the cookie
// only for read-only GETs (the dashboard and /status): a cookie is an ambient credential that a
// browser attaches on its own, so it must never authorise a state change (reload, weights).
// Thread-safety: const methods, any thread.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atsgate::server {

class session_keys {
public:
    session_keys();  // draws the secret (RAND_bytes; aborts if the CSPRNG fails)

    // The cookie value for `token`, valid until now + lifetime seconds.
    std::string mint(std::string_view token, std::int64_t now, std::int64_t lifetime) const;
    // True if `value` was minted by this process for `token` and has not expired at `now`.
    // Constant-time in the MAC comparison. An empty token never verifies.
    bool verify(std::string_view value, std::string_view token, std::int64_t now) const;

private:
    std::string mac(std::string_view token, std::int64_t expiry) const;
    std::array<unsigned char, 32> secret_{};
};

// The value of cookie `name` in a Cookie request header ("a=1; b=2"), or nullopt.
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name);

// Field `name` of an application/x-www-form-urlencoded body, decoded ('+' is a space, %XX a byte),
// or nullopt when absent or malformed (a bad %-escape).
std::optional<std::string> form_field(std::string_view body, std::string_view name);

}  // namespace atsgate::server
