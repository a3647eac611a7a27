#include "tls/policy.hpp"

#include <cstdlib>
#include <cstdio>

namespace atsgate::tls {

const suite* find_suite(std::string_view name) noexcept {
    for (const auto& s : suites)
        if (s.openssl == name || s.iana == name) return &s;
    return nullptr;
}

const suite* find_suite(std::uint16_t code) noexcept {
    for (const auto& s : suites)
        if (s.code == code) return &s;
    return nullptr;
}

const group* find_group(std::string_view name) noexcept {
    for (const auto& g : groups)
        if (g.name == name) return &g;
    // Accept OpenSSL's aliases too, so either spelling works in the config.
    if (name == "prime256v1" || name == "secp256r1") return &groups[1];
    if (name == "secp384r1") return &groups[2];
    if (name == "x25519") return &groups[0];
    return nullptr;
}

const group* find_group(std::uint16_t code) noexcept {
    for (const auto& g : groups)
        if (g.code == code) return &g;
    return nullptr;
}

const rule& rule_for(rule_id id) noexcept {
    for (const auto& r : rules)
        if (r.id == id) return r;
    // The table covers every enumerator; reaching this is a programming error.
    std::fputs("atsgate: internal error: rule id missing from tls::rules\n", stderr);
    std::abort();
}

}  // namespace atsgate::tls
