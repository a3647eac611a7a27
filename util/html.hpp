#pragma once
// Text for HTML pages (the admin dashboard, `atsgate probe --html`).

#include <string>
#include <string_view>

namespace atsgate::util {

// `s` as HTML text or attribute value: & < > " ' become character references, control characters
// (and DEL) '?', invalid UTF-8 U+FFFD. Safe inside element content and quoted attribute values;
// never inside <script> or <style>.
std::string html_escape(std::string_view s);

}  // namespace atsgate::util
