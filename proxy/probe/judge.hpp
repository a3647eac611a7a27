#pragma once
// The probe's judging: a pure function from gathered facts to checks with stable ids. No clock
// (`now` is a parameter), no I/O, no OpenSSL calls. The certificate rules are not re-implemented
// here: the served chain is judged by tls::audit (the start-up self-audit's rules), and its cert.*
// findings become checks of the target.

#include "proxy/probe/facts.hpp"
#include "proxy/probe/profile.hpp"
#include "proxy/probe/report.hpp"

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

namespace atsgate::probe {

// Probe-only checks (the cert.* checks come from tls::rules). Stable ids: scripts key on them;
// never rename or remove, only add. Order is report order.
struct probe_check {
    std::string_view id;
    std::string_view title;
    std::string_view requirement;  // what is checked, one line (README table)
};

inline constexpr std::array<probe_check, 13> probe_checks{{
    {"probe.reachability", "Reachability", "the name resolves and the port accepts a TCP connection"},
    {"probe.tls_versions", "TLS versions", "TLS 1.2 or 1.3 accepted (FAIL if neither); TLS 1.0/1.1 accepted or TLS 1.3 missing: WARN"},
    {"probe.ats_default", "ATS default connection", "a device's default ATS connection succeeds; on failure, which requirement broke it"},
    {"probe.ems", "Extended Master Secret", "TLS 1.2 connections negotiate EMS (RFC 7627)"},
    {"probe.suites", "ATS cipher suites", "the ATS suites accepted, one by one; FAIL if none, WARN for CBC/CHACHA20 on TLS 1.2"},
    {"probe.non_pfs", "Suites without forward secrecy", "TLS 1.2 suites without forward secrecy (static RSA) are refused (WARN if accepted)"},
    {"probe.plaintext_port80", "Plain HTTP port", "the host's plain-HTTP port is closed or only redirects to https:// (WARN otherwise)"},
    {"probe.redirect", "Redirects", "the URL never redirects to an http:// location (FAIL)"},
    {"http.https_only", "HTTPS only", "a target given as http:// is plain HTTP (FAIL)"},
    {"profile.signature", "Profile signature", "CMS signer and whether the signature verifies (INFO; WARN if broken)"},
    {"profile.urls", "Profile URLs", "the URLs found in the profile (INFO); each https:// URL is probed as a target"},
    {"profile.http_url", "Plain-HTTP URL in a profile", "no http:// URL in the profile (FAIL), except a SCEP payload URL (EXEMPT)"},
    {"profile.url_invalid", "Unusable URL in a profile", "every https:// URL in the profile can be parsed and probed (FAIL)"},
}};

// The matrix rows, in order: id and label.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 4> matrix_rows{{
    {"ats_default", "ATS default"},
    {"tls13", "TLS 1.3 only"},
    {"tls12", "TLS 1.2 only"},
    {"tls12_no_pfs", "TLS 1.2 without PFS"},
}};

// Judges one target. `now` is unix seconds (UTC), used for certificate validity.
target_report judge_target(const target_facts& f, std::int64_t now);

// Judges a profile's own content (signature, plain-HTTP URLs). Its https URLs are probed as targets.
profile_report judge_profile(const profile_facts& p);

}  // namespace atsgate::probe
