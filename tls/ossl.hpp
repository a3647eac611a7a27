#pragma once
// RAII for OpenSSL objects. This is the only file in the project that calls *_free.
// Pattern mirrors BoringSSL's bssl::UniquePtr / UpRef (include/openssl/base.h).
//
// Rules at call sites:
//  - get0 results are borrowed and never stored;
//  - new / get1 / dup results are wrapped into ossl::ptr in the same expression;
//  - ossl::up_ref(p) turns a borrowed pointer into an owned one.

#include <openssl/bio.h>
#include <openssl/pem.h>  // before cms.h: it declares PEM_read_bio_CMS only when pem.h is in
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

namespace atsgate::ossl {

template <typename T>
struct deleter;

#define ATSGATE_OSSL_DELETER(type, fn)                   \
    template <>                                          \
    struct deleter<type> {                               \
        void operator()(type* p) const noexcept { fn(p); } \
    }

ATSGATE_OSSL_DELETER(SSL_CTX, SSL_CTX_free);
ATSGATE_OSSL_DELETER(SSL, SSL_free);
ATSGATE_OSSL_DELETER(SSL_SESSION, SSL_SESSION_free);
ATSGATE_OSSL_DELETER(X509, X509_free);
ATSGATE_OSSL_DELETER(X509_STORE, X509_STORE_free);
ATSGATE_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
ATSGATE_OSSL_DELETER(X509_NAME, X509_NAME_free);
ATSGATE_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
ATSGATE_OSSL_DELETER(X509_REQ, X509_REQ_free);
ATSGATE_OSSL_DELETER(X509_CRL, X509_CRL_free);
ATSGATE_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
ATSGATE_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
ATSGATE_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
ATSGATE_OSSL_DELETER(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free);
ATSGATE_OSSL_DELETER(EVP_MAC, EVP_MAC_free);
ATSGATE_OSSL_DELETER(EVP_MAC_CTX, EVP_MAC_CTX_free);
ATSGATE_OSSL_DELETER(BIO, BIO_free_all);
ATSGATE_OSSL_DELETER(BIGNUM, BN_free);
ATSGATE_OSSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free);
// ASN1_TIME, ASN1_INTEGER, ASN1_OCTET_STRING, ... are all typedefs of ASN1_STRING, so one deleter
// serves ossl::ptr<ASN1_TIME> and ossl::ptr<ASN1_INTEGER> alike (two would be a redefinition).
ATSGATE_OSSL_DELETER(ASN1_STRING, ASN1_STRING_free);
ATSGATE_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free);
ATSGATE_OSSL_DELETER(GENERAL_NAME, GENERAL_NAME_free);
ATSGATE_OSSL_DELETER(AUTHORITY_KEYID, AUTHORITY_KEYID_free);
ATSGATE_OSSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
ATSGATE_OSSL_DELETER(OSSL_PARAM, OSSL_PARAM_free);
ATSGATE_OSSL_DELETER(EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free);
ATSGATE_OSSL_DELETER(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free);
ATSGATE_OSSL_DELETER(PKCS7, PKCS7_free);
ATSGATE_OSSL_DELETER(CMS_ContentInfo, CMS_ContentInfo_free);
ATSGATE_OSSL_DELETER(ECDSA_SIG, ECDSA_SIG_free);
// HMAC_CTX is deprecated in OpenSSL 3.0 but is what the legacy ticket key callback hands over
// (tls/ticket_keys.cpp says why that one is used); only the deleter lives here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
ATSGATE_OSSL_DELETER(HMAC_CTX, HMAC_CTX_free);
#pragma GCC diagnostic pop

#undef ATSGATE_OSSL_DELETER

// STACK_OF(X509) owns its elements: pop-free.
template <>
struct deleter<STACK_OF(X509)> {
    void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_pop_free(p, X509_free); }
};

// STACK_OF(X509_EXTENSION) owns its elements: pop-free.
template <>
struct deleter<STACK_OF(X509_EXTENSION)> {
    void operator()(STACK_OF(X509_EXTENSION) * p) const noexcept { sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free); }
};

// OPENSSL_malloc'ed memory (e.g. results of X509_NAME_oneline, i2d with NULL out, BN_bn2dec).
struct openssl_string_deleter {
    void operator()(char* p) const noexcept { OPENSSL_free(p); }
};
using string_ptr = std::unique_ptr<char, openssl_string_deleter>;

template <typename T>
using ptr = std::unique_ptr<T, deleter<T>>;

// Wraps a freshly created or get1/dup result. Null in, null out.
template <typename T>
ptr<T> own(T* p) noexcept {
    return ptr<T>(p);
}

// Takes a new reference on a borrowed object and returns it owned.
inline ptr<X509> up_ref(X509* p) noexcept {
    if (p != nullptr) X509_up_ref(p);
    return ptr<X509>(p);
}
inline ptr<EVP_PKEY> up_ref(EVP_PKEY* p) noexcept {
    if (p != nullptr) EVP_PKEY_up_ref(p);
    return ptr<EVP_PKEY>(p);
}
inline ptr<SSL_CTX> up_ref(SSL_CTX* p) noexcept {
    if (p != nullptr) SSL_CTX_up_ref(p);
    return ptr<SSL_CTX>(p);
}
inline ptr<X509_STORE> up_ref(X509_STORE* p) noexcept {
    if (p != nullptr) X509_STORE_up_ref(p);
    return ptr<X509_STORE>(p);
}
inline ptr<SSL_SESSION> up_ref(SSL_SESSION* p) noexcept {
    if (p != nullptr) SSL_SESSION_up_ref(p);
    return ptr<SSL_SESSION>(p);
}

// Drains this thread's whole OpenSSL error queue into one "; "-separated string
// ("error:0A00018F:SSL routines::ee key too small; ..."). Empty when the queue was empty.
// Call it at the site of every failed OpenSSL call so no error is left for the next operation.
inline std::string drain_errors() {
    std::string out;
    char buf[256];
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

// Like drain_errors(), but keeps only OpenSSL's reason string of the first error
// ("ee key too small"), which is what operators want to read. The rest is discarded.
inline std::string drain_reason() {
    std::string out;
    unsigned long e;
    bool first = true;
    while ((e = ERR_get_error()) != 0) {
        if (first) {
            const char* r = ERR_reason_error_string(e);
            out = r != nullptr ? r : "unknown OpenSSL error";
            first = false;
        }
    }
    return out;
}

// `what`, then ": " and the drained error queue when it held anything: the message for a failed
// OpenSSL call ("cannot sign the CSR: error:...").
inline std::string failure(std::string what) {
    const std::string queued = drain_errors();
    if (!queued.empty()) what += ": " + queued;
    return what;
}

// Unix seconds (UTC) of `t`; nullopt, with the error queue drained, when `t` is null or unreadable.
inline std::optional<std::int64_t> unix_time(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        drain_errors();
        return std::nullopt;
    }
    return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace atsgate::ossl
