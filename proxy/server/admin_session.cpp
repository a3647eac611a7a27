#include "proxy/server/admin_session.hpp"

#include "util/hex.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace atsgate::server {

namespace {

constexpr std::string_view prefix = "v1.";

std::string hex(const unsigned char* p, std::size_t n) { return util::hex({p, n}); }

}  // namespace

session_keys::session_keys() {
    if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
        std::fputs("atsgate: RAND_bytes failed: cannot create the dashboard session secret\n", stderr);
        std::abort();
    }
}

std::string session_keys::mac(std::string_view token, std::int64_t expiry) const {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(token.data(), token.size(), digest, &dlen, EVP_sha256(), nullptr) != 1) return {};
    std::string msg = "atsgate-dashboard|v1|" + std::to_string(expiry) + "|";
    msg.append(reinterpret_cast<const char*>(digest), dlen);
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t olen = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret_.data(), secret_.size(),
                  reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, sizeof out, &olen) == nullptr)
        return {};
    return hex(out, olen);
}

std::string session_keys::mint(std::string_view token, std::int64_t now, std::int64_t lifetime) const {
    const std::int64_t expiry = now + lifetime;
    return std::string(prefix) + std::to_string(expiry) + "." + mac(token, expiry);
}

bool session_keys::verify(std::string_view value, std::string_view token, std::int64_t now) const {
    if (token.empty() || value.substr(0, prefix.size()) != prefix) return false;
    value.remove_prefix(prefix.size());
    const auto dot = value.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 19) return false;
    std::int64_t expiry = 0;
    const auto [p, ec] = std::from_chars(value.data(), value.data() + dot, expiry);
    if (ec != std::errc{} || p != value.data() + dot || expiry < now) return false;
    const std::string want = mac(token, expiry);
    const std::string_view got = value.substr(dot + 1);
    return !want.empty() && got.size() == want.size() && CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
}

std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto semi = header.find(';');
        std::string_view item = header.substr(0, semi);
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || item.substr(0, eq) != name) continue;
        std::string_view v = item.substr(eq + 1);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return v;
    }
    return std::nullopt;
}

std::optional<std::string> form_field(std::string_view body, std::string_view name) {
    while (!body.empty()) {
        const auto amp = body.find('&');
        const std::string_view item = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        const auto eq = item.find('=');
        if (item.substr(0, eq) != name) continue;
        const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        std::string out;
        out.reserve(raw.size());
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '+') {
                out += ' ';
            } else if (raw[i] == '%') {
                if (i + 2 >= raw.size()) return std::nullopt;
                const int hi = util::hex_value(raw[i + 1]), lo = util::hex_value(raw[i + 2]);
                if (hi < 0 || lo < 0) return std::nullopt;
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
            } else {
                out += raw[i];
            }
        }
        return out;
    }
    return std::nullopt;
}

}  // namespace atsgate::server
