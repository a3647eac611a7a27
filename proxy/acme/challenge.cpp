#include "proxy/acme/challenge.hpp"

#include "proxy/acme/account_key.hpp"

#include <openssl/rand.h>

namespace atsgate::acme {
namespace {

bool fail(std::string& err, std::string what) {
    err = ossl::failure(std::move(what));
    return false;
}

ossl::ptr<ASN1_OBJECT> acme_identifier_object() {
    return ossl::own(OBJ_txt2obj(acme_identifier_oid, 1));
}

}  // namespace

std::string key_authorization(std::string_view token, std::string_view thumbprint) {
    std::string out(token);
    out += '.';
    out += thumbprint;
    return out;
}

std::string http01_path(std::string_view token) {
    std::string out(http01_prefix);
    out += token;
    return out;
}

std::optional<challenge_certificate> tls_alpn01_certificate(std::string_view domain, std::string_view key_authz,
                                                            std::int64_t now, std::string& err) {
    challenge_certificate out;
    out.key = generate_key(key_type::ecdsa_p256, err);
    if (!out.key) return std::nullopt;
    out.cert = ossl::own(X509_new());
    if (!out.cert) {
        fail(err, "out of memory");
        return std::nullopt;
    }
    X509* c = out.cert.get();

    unsigned char serial_bytes[16];
    if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) {
        fail(err, "no random serial number");
        return std::nullopt;
    }
    serial_bytes[0] &= 0x7F;  // positive
    auto serial_bn = ossl::own(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
    auto name = ossl::own(X509_NAME_new());
    if (!serial_bn || !name || X509_set_version(c, X509_VERSION_3) != 1 ||
        BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(c)) == nullptr ||
        X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>("ACME TLS-ALPN-01 challenge"), -1, -1,
                                   0) != 1 ||
        X509_set_subject_name(c, name.get()) != 1 || X509_set_issuer_name(c, name.get()) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(c), static_cast<time_t>(now - 3600)) == nullptr ||
        ASN1_TIME_set(X509_getm_notAfter(c), static_cast<time_t>(now + 7 * 86400)) == nullptr ||
        X509_set_pubkey(c, out.key.get()) != 1) {
        fail(err, "cannot fill the challenge certificate");
        return std::nullopt;
    }

    // subjectAltName: the one DNS name being validated (RFC 8737 3).
    auto sans = ossl::own(GENERAL_NAMES_new());
    auto g = ossl::own(GENERAL_NAME_new());
    auto ia5 = ossl::own(ASN1_IA5STRING_new());
    if (!sans || !g || !ia5 || ASN1_STRING_set(ia5.get(), domain.data(), static_cast<int>(domain.size())) != 1) {
        fail(err, "cannot build the subjectAltName");
        return std::nullopt;
    }
    GENERAL_NAME_set0_value(g.get(), GEN_DNS, ia5.release());
    if (sk_GENERAL_NAME_push(sans.get(), g.get()) == 0) {
        fail(err, "cannot build the subjectAltName");
        return std::nullopt;
    }
    g.release();
    if (X509_add1_ext_i2d(c, NID_subject_alt_name, sans.get(), 0, X509V3_ADD_DEFAULT) != 1) {
        fail(err, "cannot add the subjectAltName");
        return std::nullopt;
    }

    // id-pe-acmeIdentifier, critical: extnValue = DER(Authorization ::= OCTET STRING (SIZE (32))).
    const std::string digest = sha256(key_authz);
    auto inner = ossl::own(ASN1_OCTET_STRING_new());
    if (!inner || ASN1_OCTET_STRING_set(inner.get(), reinterpret_cast<const unsigned char*>(digest.data()),
                                        static_cast<int>(digest.size())) != 1) {
        fail(err, "cannot build the acmeIdentifier");
        return std::nullopt;
    }
    const int der_len = i2d_ASN1_OCTET_STRING(inner.get(), nullptr);
    std::string der(der_len > 0 ? static_cast<std::size_t>(der_len) : 0, '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    auto value = ossl::own(ASN1_OCTET_STRING_new());
    auto obj = acme_identifier_object();
    if (der_len <= 0 || i2d_ASN1_OCTET_STRING(inner.get(), &p) != der_len || !value || !obj ||
        ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>(der.data()), der_len) != 1) {
        fail(err, "cannot encode the acmeIdentifier");
        return std::nullopt;
    }
    auto ext = ossl::own(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 1, value.get()));
    if (!ext || X509_add_ext(c, ext.get(), -1) != 1) {
        fail(err, "cannot add the acmeIdentifier extension");
        return std::nullopt;
    }
    if (X509_sign(c, out.key.get(), EVP_sha256()) <= 0) {
        fail(err, "cannot sign the challenge certificate");
        return std::nullopt;
    }
    return out;
}

std::optional<acme_identifier> read_acme_identifier(X509& cert) {
    auto obj = acme_identifier_object();
    if (!obj) return std::nullopt;
    const int idx = X509_get_ext_by_OBJ(&cert, obj.get(), -1);
    if (idx < 0) return std::nullopt;
    X509_EXTENSION* ext = X509_get_ext(&cert, idx);
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    const unsigned char* p = ASN1_STRING_get0_data(data);
    auto inner = ossl::own(d2i_ASN1_OCTET_STRING(nullptr, &p, ASN1_STRING_length(data)));
    if (!inner || p != ASN1_STRING_get0_data(data) + ASN1_STRING_length(data) || ASN1_STRING_length(inner.get()) != 32) {
        ossl::drain_errors();
        return std::nullopt;
    }
    acme_identifier out;
    out.digest.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner.get())), 32);
    out.critical = X509_EXTENSION_get_critical(ext) == 1;
    return out;
}

}  // namespace atsgate::acme
