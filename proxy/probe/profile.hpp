#pragma once
// Configuration and enrollment profiles (.mobileconfig): unwrapping, parsing and URL extraction.
//
// A profile is an XML or binary property list, optionally wrapped in a CMS (PKCS#7) SignedData
// structure, DER or PEM. The signed content is unwrapped with OpenSSL without requiring a trusted
// signer: the signature is checked against the certificate embedded in the profile only, and the
// result is reported (INFO), never used to reject the file — `probe` audits the URLs inside, and
// the devices judge the signature themselves.
//
// Every string value that is an http:// or https:// URL is collected with its key path. Apple
// exempts SCEP from ATS: the URL of a SCEP payload (PayloadType com.apple.security.scep, key URL)
// is marked exempt.

#include "proxy/probe/plist.hpp"
#include "proxy/probe/target.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::probe {

struct profile_url {
    std::string key_path;      // "PayloadContent[0].ServerURL"; at most 256 bytes (longer ones end in "...")
    std::string url;           // the string, whitespace-trimmed
    bool https = false;        // scheme is https (else http)
    bool scep_exempt = false;  // http URL of a SCEP payload (exempt from ATS)
    std::string payload_type;  // PayloadType of the nearest enclosing payload dict, "" if none; capped like key_path
    std::string invalid;       // https only: why it is not a usable URL (parse_target's reason), "" if usable
};

// Every http(s) URL string in `root`, in document order. Pure.
std::vector<profile_url> extract_urls(const plist::value& root);

// What a profile file holds.
struct profile_facts {
    std::string path;                     // as given on the command line
    std::string format;                   // "XML plist" / "binary plist"
    bool signed_cms = false;              // wrapped in CMS SignedData
    std::vector<std::string> signers;     // subject (RFC 2253) of each signer found in the CMS
    std::optional<bool> signature_valid;  // signed only: the signature verifies with the embedded certificate
    std::string signature_error;          // OpenSSL's reason when it does not
    std::vector<profile_url> urls;
};

// The content of a CMS SignedData structure (DER, or PEM "CMS"/"PKCS7").
struct cms_content {
    std::string content;                  // the embedded, signed bytes
    std::vector<std::string> signers;     // signer subjects
    std::optional<bool> signature_valid;  // nullopt: not checked (no signer certificate)
    std::string signature_error;
};

// Unwraps `bytes`. Returns nullopt and sets `error` when they are not CMS SignedData with embedded
// content (a detached signature, say). Drains the OpenSSL error queue. Thread-safe.
std::optional<cms_content> unwrap_cms(std::string_view bytes, std::string& error);

// True when `bytes` look like CMS rather than a plist: DER (starts with a SEQUENCE) or PEM.
bool looks_like_cms(std::string_view bytes) noexcept;

// Parses a profile held in memory: CMS-unwrapped if needed, then XML or binary plist.
// `name` is used for profile_facts::path. Errors name what failed ("CMS: ...", "line 3, ...").
std::optional<profile_facts> parse_profile(std::string_view bytes, const std::string& name, std::string& error,
                                           const plist::limits& limits = {});

// Reads and parses the file at `path` (at most limits.max_bytes, plus room for a CMS wrapper).
// Errors start with the path: "/x.mobileconfig: cannot read: No such file or directory".
std::optional<profile_facts> load_profile(const std::string& path, std::string& error,
                                          const plist::limits& limits = {});

}  // namespace atsgate::probe
