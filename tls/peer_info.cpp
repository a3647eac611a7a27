#include "tls/peer_info.hpp"

#include "tls/ossl.hpp"
#include "util/hex.hpp"

#include <cstdio>

namespace atsgate::tls {

namespace {

bool unreserved(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

}  // namespace

const char* version_name(int version) noexcept {
    switch (version) {
        case SSL3_VERSION: return "SSLv3";
        case TLS1_VERSION: return "TLSv1.0";
        case TLS1_1_VERSION: return "TLSv1.1";
        case TLS1_2_VERSION: return "TLSv1.2";
        case TLS1_3_VERSION: return "TLSv1.3";
        case 0: return "none";
        default: return "unknown";
    }
}

std::string version_label(int version) {
    switch (version) {
        case SSL3_VERSION: return "SSL 3.0";
        case TLS1_VERSION: return "TLS 1.0";
        case TLS1_1_VERSION: return "TLS 1.1";
        case TLS1_2_VERSION: return "TLS 1.2";
        case TLS1_3_VERSION: return "TLS 1.3";
        default: break;
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%04x", static_cast<unsigned>(version));
    return buf;
}

std::string escaped_pem(X509& cert) {
    auto bio = ossl::own(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), &cert) != 1) {
        ERR_clear_error();
        return {};
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    std::string out;
    out.reserve(static_cast<std::size_t>(len) * 3 / 2);
    for (long i = 0; i < len; ++i) {
        const auto c = static_cast<unsigned char>(data[i]);
        if (unreserved(c)) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            util::append_hex(out, c, util::hex_case::upper);
        }
    }
    return out;
}

std::string rfc9440(X509& cert) {
    unsigned char* raw = nullptr;
    const int len = i2d_X509(&cert, &raw);
    // i2d with a null output allocates with OPENSSL_malloc: owned by ossl::string_ptr.
    const ossl::string_ptr der(reinterpret_cast<char*>(raw));
    if (len <= 0 || !der) {
        ERR_clear_error();
        return {};
    }
    std::string out(4 * ((static_cast<std::size_t>(len) + 2) / 3) + 3, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + 1), raw, len);
    out[0] = ':';
    out[static_cast<std::size_t>(n) + 1] = ':';
    out.resize(static_cast<std::size_t>(n) + 2);
    return out;
}

std::string sha256_fingerprint(X509& cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(&cert, EVP_sha256(), md, &n) != 1) {
        ERR_clear_error();
        return {};
    }
    return util::hex({md, n});
}

peer_info peer_info::of(SSL& ssl, bool read_client_cert, config::client_cert_format format) {
    peer_info p;
    p.version = SSL_get_version(&ssl);
    p.cipher = SSL_get_cipher_name(&ssl);
    p.resumed = SSL_session_reused(&ssl) == 1;
    if (const int group = SSL_get_negotiated_group(&ssl); group != 0) {
        if (const char* name = SSL_group_to_name(&ssl, group)) p.group = name;
    }
    if (read_client_cert) {
        if (X509* cert = SSL_get0_peer_certificate(&ssl)) {
            p.identity = format == config::client_cert_format::rfc9440 ? rfc9440(*cert) : escaped_pem(*cert);
            p.fingerprint = sha256_fingerprint(*cert);
        }
    }
    return p;
}

}  // namespace atsgate::tls
