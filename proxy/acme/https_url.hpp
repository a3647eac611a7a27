#pragma once
// URLs the ACME client talks to. Every URL comes from the configuration (the directory) or from
// the CA's answers; the CA's are hostile input (RFC 8555 10: a compromised CA, a man in the middle
// on a private network, a mistyped directory URL), so each one is checked before it is used.
//
// Decision: every URL taken from the CA (directory entries, Location, authorization, challenge,
// finalize and certificate URLs, renewalInfo) must be https and on the directory's origin (same
// host, compared case-insensitively, and same port). RFC 8555 does not require one origin, but
// every public ACME CA serves its whole API from the directory's host, an operator who names one
// directory (and maybe opens the egress firewall for just that host, and pins `ca`) expects the
// proxy to talk to that host only, and a hostile directory must not turn atsgate into a client
// that POSTs signed requests to arbitrary (internal) https hosts. Plaintext is impossible anyway:
// the transport speaks https only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atsgate::acme {

// "https://host[:port]/path?query" split up; nullopt for anything else (ACME is HTTPS only,
// RFC 8555 6.1): other schemes, userinfo, control bytes or spaces, a bad port. IPv6 literals in
// brackets are accepted.
struct https_url {
    std::string host;
    std::uint16_t port = 443;
    std::string target;  // "/path?query", at least "/"
};
std::optional<https_url> parse_https_url(std::string_view url);

// Whether `url`, taken from the CA, may be used: at most 2048 bytes of printable ASCII (so it is
// also safe to log), an https URL, on the origin of `base` (the configured directory URL): same
// host (case-insensitive) and port. False when either does not parse.
bool on_origin(std::string_view url, std::string_view base);

}  // namespace atsgate::acme
