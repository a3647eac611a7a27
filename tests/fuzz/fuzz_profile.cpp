// Fuzz target: probe::parse_profile / probe::unwrap_cms (signed .mobileconfig files: CMS
// SignedData in DER or PEM around an XML or binary plist; `atsgate probe` reads them from anywhere).
//
// Input: profile bytes (seeds: signed DER and PEM profiles, an unsigned plist).
// Checks:
// - unwrap_cms() and parse_profile() leave the thread's OpenSSL error queue empty (their contract:
//   a left-over error would be blamed on the next, unrelated OpenSSL call);
// - failure <=> nullopt with an error message; success leaves `error` untouched;
// - signed_cms is set iff the bytes were unwrapped (looks_like_cms and no "bplist" magic), and then
//   unwrap_cms() on its own agrees (same signers, same signature verdict);
// - a signature verdict exists only with a signer; every URL is http(s) with consistent flags.

#include "fuzz_check.hpp"

#include "proxy/probe/profile.hpp"

#include <openssl/err.h>

#include <string>

namespace probe = atsgate::probe;

namespace {

bool istarts(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        if (c != p[i]) return false;
    }
    return true;
}

void check_queue_empty(const char* after) {
    const unsigned long e = ERR_peek_error();
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        FUZZ_CHECK(false, "OpenSSL error left queued after %s: %s", after, buf);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    ERR_clear_error();

    std::string unwrap_error;
    const auto cms = probe::unwrap_cms(in, unwrap_error);
    check_queue_empty("unwrap_cms");
    FUZZ_CHECK(cms.has_value() == unwrap_error.empty(), "unwrap_cms: result vs error \"%s\"", unwrap_error.c_str());
    if (cms) {
        if (cms->signature_valid.has_value()) FUZZ_CHECK(!cms->signers.empty(), "verdict without a signer");
        if (cms->signature_valid.value_or(true)) FUZZ_CHECK(cms->signature_error.empty(), "error on a valid signature");
    }

    std::string error;
    const auto facts = probe::parse_profile(in, "fuzz.mobileconfig", error);
    check_queue_empty("parse_profile");
    FUZZ_CHECK(facts.has_value() == error.empty(), "parse_profile: result and error \"%s\"",
               error.c_str());
    if (!facts) return 0;

    const bool unwrapped = in.substr(0, 6) != "bplist" && probe::looks_like_cms(in);
    FUZZ_CHECK(facts->signed_cms == unwrapped, "signed_cms %d, expected %d", facts->signed_cms, unwrapped);
    FUZZ_CHECK(facts->path == "fuzz.mobileconfig", "path");
    FUZZ_CHECK(facts->format == "XML plist" || facts->format == "binary plist", "format %s", facts->format.c_str());
    if (facts->signed_cms) {
        FUZZ_CHECK(cms.has_value(), "parse_profile unwrapped what unwrap_cms refused");
        FUZZ_CHECK(facts->signers == cms->signers, "signers differ");
        FUZZ_CHECK(facts->signature_valid == cms->signature_valid, "signature verdicts differ");
    } else {
        FUZZ_CHECK(facts->signers.empty() && !facts->signature_valid, "unsigned profile with signers");
    }
    for (const auto& u : facts->urls) {
        FUZZ_CHECK(u.https == istarts(u.url, "https://"), "https flag for %s", u.url.c_str());
        FUZZ_CHECK(u.https || istarts(u.url, "http://"), "not a URL: %s", u.url.c_str());
        FUZZ_CHECK(!(u.https && u.scep_exempt), "https URL marked SCEP-exempt");
    }
    return 0;
}
