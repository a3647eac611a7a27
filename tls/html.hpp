#pragma once
// Pieces of the self-contained HTML pages atsgate writes: the admin dashboard (GET / on [admin])
// and `atsgate probe --html`. One stylesheet so both look alike, CSP hash-sources so the pages can
// run under a Content-Security-Policy without 'unsafe-inline', status badges and UTC times.
// Pure: no I/O. Text from peers, certificates or config goes through util::html_escape (util/html.hpp)
// before it is put into a page; nothing here escapes for you except where a parameter says so.

#include "tls/audit.hpp"
#include "util/html.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace atsgate::tls::html {

// The pages' stylesheet (no external fonts or images). Put it between <style> and </style>
// exactly as returned: its CSP hash is computed over these bytes.
std::string_view stylesheet() noexcept;

// A CSP Level 2 hash-source for an inline <script> or <style> whose content is exactly `text`:
// "'sha256-<base64 of SHA-256(text)>'".
std::string csp_hash(std::string_view text);

// The CSS class of a status: its JSON name ("pass", "info", "warn", "fail", "unknown", "exempt").
std::string_view status_class(status s) noexcept;
// <span class="badge CLASS">LABEL</span>; `label` and `css_class` are escaped.
std::string badge(std::string_view css_class, std::string_view label);
inline std::string badge(status s) { return badge(status_class(s), to_string(s)); }

// "2026-11-29 06:26:53 UTC" (seconds) for unix seconds `t`.
std::string utc_time(std::int64_t t);
// "2026-11-29" for unix seconds `t`.
std::string utc_date(std::int64_t t);

}  // namespace atsgate::tls::html
