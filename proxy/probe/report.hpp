#pragma once
// The probe report: per target and per profile, a list of checks with stable ids, plus the
// nscurl-style matrix per target. Rendered as text (optionally coloured) or JSON (schema below,
// documented in README "Probing an MDM stack").

#include "tls/check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::probe {

// The report model is the audit's (tls/check.hpp): a check has a stable id ("probe.ems",
// "cert.chain", "profile.http_url", ...), a status (`exempt`: Apple exempts SCEP URLs from ATS),
// the subject (certificate subject for cert.*, key path for profile.*), evidence and remediation
// (empty on pass/info/exempt). The cert.* checks are the audit's own findings.
using tls::check;
using tls::json_name;
using tls::status;
using tls::to_string;

// One row of the nscurl-style matrix: would a client with this configuration connect?
struct matrix_row {
    std::string id;       // stable: "ats_default", "tls13", "tls12", "tls12_no_pfs"
    std::string label;    // "ATS default", "TLS 1.3 only", "TLS 1.2 only", "TLS 1.2 without PFS"
    status result = status::unknown;  // pass / fail / unknown (not attempted)
    std::string detail;   // negotiated version and suite, or why it failed
};

struct target_report {
    std::string target;   // canonical URL
    std::string address;  // connected address, "" if unreachable
    std::string sni;      // SNI sent, "" if none
    std::string source;   // where the target came from
    std::vector<check> checks;
    std::vector<matrix_row> matrix;
    bool failed() const noexcept;
};

struct profile_report {
    std::string path;
    std::string format;        // "XML plist" / "binary plist"
    bool signed_cms = false;
    std::vector<check> checks;
    bool failed() const noexcept;
};

struct report {
    std::vector<profile_report> profiles;
    std::vector<target_report> targets;
    bool failed() const noexcept;  // any FAIL anywhere
    std::size_t count(status s) const noexcept;  // checks with this status (matrix rows not counted)
};

// Text: one block per profile and per target, the matrix, a one-line summary at the end.
// `colour`: ANSI colours for the status words (the caller decides: TTY and NO_COLOR unset).
std::string render_text(const report& r, bool colour);

// JSON, schema version 1:
// {"version":1,
//  "summary":{"targets":n,"targets_passed":n,"targets_failed":n,"profiles":n,"profiles_failed":n,
//             "pass":n,"info":n,"warn":n,"fail":n,"unknown":n,"exempt":n},
//  "profiles":[{"path":..,"format":..,"signed":bool,"result":"pass|fail",
//               "checks":[{"id":..,"status":..,"subject":..,"evidence":..,"remediation":..}]}],
//  "targets":[{"target":..,"address":..,"sni":..,"source":..,"result":"pass|fail",
//              "checks":[...same shape...],
//              "matrix":[{"id":..,"label":..,"result":"pass|fail|unknown","detail":..}]}]}
// Fields are only ever added, never renamed or removed.
std::string render_json(const report& r);

// A self-contained HTML report for the people who own the servers (`probe --html FILE`): the same
// checks, verdicts and matrix as render_text, one section per profile and per target, and each
// target's remediation lines gathered under "What to fix". No script, no external resource; a
// Content-Security-Policy <meta> allows only its own stylesheet (by hash). Every peer-controlled
// string (certificate subjects, evidence, URLs) is HTML-escaped. `generated_at`: unix seconds,
// `version`: atsgate's version, both printed in the header.
std::string render_html(const report& r, std::int64_t generated_at, std::string_view version);

}  // namespace atsgate::probe
