#include "tls/fleet.hpp"

#include <openssl/tls1.h>

#include <algorithm>
#include <cstdio>

namespace atsgate::tls {

namespace {

template <std::size_t N>
void copy_bounded(std::array<char, N>& out, std::string_view s) noexcept {
    const std::size_t n = std::min(s.size(), N - 1);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        out[i] = (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    out[n] = '\0';
}

}  // namespace

version_bucket bucket_of(std::uint16_t v) noexcept {
    switch (v) {
        case TLS1_3_VERSION: return version_bucket::tls13;
        case TLS1_2_VERSION: return version_bucket::tls12;
        case TLS1_1_VERSION: return version_bucket::tls11;
        case TLS1_VERSION: return version_bucket::tls10;
        default: return version_bucket::older;
    }
}

std::string_view to_string(version_bucket b) noexcept {
    switch (b) {
        case version_bucket::tls13: return "TLSv1.3";
        case version_bucket::tls12: return "TLSv1.2";
        case version_bucket::tls11: return "TLSv1.1";
        case version_bucket::tls10: return "TLSv1.0";
        case version_bucket::older: return "older";
    }
    return "older";
}

std::string group_name(std::uint16_t code) {
    switch (code) {
        case 0x0017: return "secp256r1";
        case 0x0018: return "secp384r1";
        case 0x0019: return "secp521r1";
        case 0x001D: return "x25519";
        case 0x001E: return "x448";
        case 0x0100: return "ffdhe2048";
        case 0x0101: return "ffdhe3072";
        case 0x0102: return "ffdhe4096";
        case 0x0103: return "ffdhe6144";
        case 0x0104: return "ffdhe8192";
        case 0x11EB: return "SecP256r1MLKEM768";
        case 0x11EC: return "X25519MLKEM768";
        case 0x11ED: return "SecP384r1MLKEM1024";
        case 0x6399: return "X25519Kyber768Draft00";
        default: break;
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", code);
    return buf;
}

void fleet_counters::count_hello(const client_hello_facts& h) noexcept {
    inc(hellos);
    inc(offered_max[static_cast<std::size_t>(bucket_of(h.max_version))]);
    if (h.ems) inc(ems_offered);
    if (h.sni[0] != '\0') inc(sni_present);
    if (h.mlkem) inc(mlkem_offered);
}

refused_handshake make_refused(std::int64_t at, std::string_view listener, std::string_view client,
                               const client_hello_facts& hello, refusal reason, bool would_refuse) noexcept {
    refused_handshake e;
    e.at = at;
    copy_bounded(e.listener, listener);
    copy_bounded(e.client, client);
    copy_bounded(e.sni, std::string_view(hello.sni.data()));
    e.max_version = hello.max_version;
    e.suites = hello.suite_count;
    e.ems = hello.ems;
    e.group_count = hello.group_count;
    e.groups = hello.groups;
    e.reason = reason;
    e.would_refuse = would_refuse;
    return e;
}

void refusal_log::push(const refused_handshake& e) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    ring_[next_] = e;
    next_ = (next_ + 1) % capacity;
    if (size_ < capacity) ++size_;
}

std::vector<refused_handshake> refusal_log::recent() const {
    std::vector<refused_handshake> out;
    std::lock_guard<std::mutex> lock(mutex_);
    out.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i) out.push_back(ring_[(next_ + capacity - 1 - i) % capacity]);
    return out;
}

}  // namespace atsgate::tls
