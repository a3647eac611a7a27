#pragma once
// The report model shared by the self-audit (tls/audit) and `atsgate probe` (proxy/probe/report):
// one check result with a stable id, its status, the evidence and the remediation, and the
// printers both reports use for it (text line, JSON members). Pure: no OpenSSL, no I/O.

#include "util/json.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace atsgate::tls {

enum class status {
    pass,     // the rule holds
    info,     // worth knowing, nothing to do
    warn,     // works for devices, but should be fixed
    fail,     // devices will refuse it (ATS), or atsgate refuses to start
    unknown,  // the facts needed were missing: never reported as pass
    exempt,   // Apple exempts it from ATS (SCEP URLs in profiles): neither pass nor failure (probe)
};

std::string_view to_string(status s) noexcept;  // "PASS", "INFO", "WARN", "FAIL", "UNKNOWN", "EXEMPT"
std::string_view json_name(status s) noexcept;  // "pass", "info", "warn", "fail", "unknown", "exempt"

// One rule applied to one thing.
struct check {
    std::string id;           // stable rule id: "cert.key_strength", "probe.ems", "profile.http_url"
    status result = status::unknown;
    std::string subject;      // which certificate (RFC 2253 subject), profile key path, or ""
    std::string evidence;     // what was observed, one line
    std::string remediation;  // what to do; shown for warn, fail and unknown
};

// Whether a check asks the operator to act (warn, fail, unknown): its remediation is shown.
bool needs_action(status s) noexcept;

// How append_text() lays a check out.
struct text_style {
    std::size_t id_width = 0;  // ids are padded to id_width + 2 (the widest id of the report)
    bool colour = false;       // ANSI colour on the status word
};

// "  FAIL    cert.key_strength  [mdm.example.com] leaf RSA 1024 (minimum RSA 2048)\n", then
// "          -> reissue the certificate ...\n" when the check needs action. Peer-controlled text is
// made printable(); the subject is shown by subject_label().
void append_text(std::string& out, const check& c, const text_style& style);

// The members "status", "subject", "evidence", "remediation" of a check object (the caller
// opens the object and writes the id member first, named as its schema says: "rule", "id").
void append_json_members(util::json_writer& j, const check& c);

// The status word padded to `width` (colour codes outside the padding when `colour`).
std::string status_word(status s, std::size_t width, bool colour);

// `s` padded with spaces to `width`.
std::string padded(std::string_view s, std::size_t width);

// `s` on one line: control characters (and DEL) become '?', so a peer cannot inject terminal sequences.
std::string printable(std::string_view s);

// The first CN of an RFC 2253 subject ("CN=a\,b,O=x" -> "a,b"), or the whole subject without a CN.
std::string subject_label(const std::string& subject);

}  // namespace atsgate::tls
