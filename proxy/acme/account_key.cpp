#include "proxy/acme/account_key.hpp"

#include "proxy/acme/base64url.hpp"
#include "util/json.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <vector>

namespace atsgate::acme {
namespace {

std::string fail(std::string& err, std::string what) {
    err = ossl::failure(std::move(what));
    return {};
}

// Big-endian bytes of a BIGNUM parameter, left-padded to `width` bytes (0 = minimal length).
std::optional<std::string> bn_param(EVP_PKEY& key, const char* name, int width) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(&key, name, &raw) != 1) {
        ossl::drain_errors();
        return std::nullopt;
    }
    auto bn = ossl::own(raw);
    const int n = width > 0 ? width : BN_num_bytes(bn.get());
    std::string out(static_cast<std::size_t>(n), '\0');
    if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), n) != n) {
        ossl::drain_errors();
        return std::nullopt;
    }
    return out;
}

}  // namespace

std::string_view to_string(key_type t) noexcept {
    return t == key_type::rsa_2048 ? "rsa-2048" : "ecdsa-p256";
}

std::optional<key_type> parse_key_type(std::string_view s) noexcept {
    if (s == "ecdsa-p256") return key_type::ecdsa_p256;
    if (s == "rsa-2048") return key_type::rsa_2048;
    return std::nullopt;
}

std::string sha256(std::string_view data) {
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
        // SHA-256 from the default provider cannot fail short of memory exhaustion.
        ossl::drain_errors();
        return {};
    }
    return std::string(reinterpret_cast<const char*>(md), len);
}

ossl::ptr<EVP_PKEY> generate_key(key_type t, std::string& err) {
    ossl::ptr<EVP_PKEY> key = t == key_type::rsa_2048 ? ossl::own(EVP_RSA_gen(2048))
                                                      : ossl::own(EVP_EC_gen("P-256"));
    if (!key) fail(err, std::string("cannot generate a ") + std::string(to_string(t)) + " key");
    return key;
}

std::string private_key_pem(EVP_PKEY& key, std::string& err) {
    auto bio = ossl::own(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return fail(err, "cannot encode the private key as PEM");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

ossl::ptr<EVP_PKEY> read_private_key_pem(std::string_view pem, std::string& err) {
    auto bio = ossl::own(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        fail(err, "out of memory");
        return {};
    }
    auto key = ossl::own(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) fail(err, "not an unencrypted PEM private key");
    return key;
}

std::optional<account_key> account_key::from_key(ossl::ptr<EVP_PKEY>&& key, std::string& err) {
    if (!key) {
        err = "no key";
        return std::nullopt;
    }
    account_key k;
    const int id = EVP_PKEY_get_base_id(key.get());
    if (id == EVP_PKEY_EC) {
        char group[32] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
            std::string_view(group) != "prime256v1") {
            ossl::drain_errors();
            err = "the account key must be ECDSA P-256 or RSA (2048 bits or more)";
            return std::nullopt;
        }
        auto x = bn_param(*key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
        auto y = bn_param(*key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
        if (!x || !y) {
            err = "cannot read the EC public key";
            return std::nullopt;
        }
        k.alg_ = "ES256";
        k.jwk_ = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" + base64url(*x) + "\",\"y\":\"" + base64url(*y) + "\"}";
    } else if (id == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(key.get()) < 2048) {
            err = "the RSA account key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                  " bits (minimum 2048)";
            return std::nullopt;
        }
        auto n = bn_param(*key, OSSL_PKEY_PARAM_RSA_N, 0);
        auto e = bn_param(*key, OSSL_PKEY_PARAM_RSA_E, 0);
        if (!n || !e) {
            err = "cannot read the RSA public key";
            return std::nullopt;
        }
        k.alg_ = "RS256";
        k.jwk_ = "{\"e\":\"" + base64url(*e) + "\",\"kty\":\"RSA\",\"n\":\"" + base64url(*n) + "\"}";
    } else {
        err = "the account key must be ECDSA P-256 or RSA (2048 bits or more)";
        return std::nullopt;
    }
    k.thumbprint_ = base64url(sha256(k.jwk_));
    k.key_ = std::move(key);
    return k;
}

std::string account_key::signature(std::string_view data, std::string& err) const {
    auto ctx = ossl::own(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1)
        return fail(err, "cannot start a JWS signature");
    std::size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) return fail(err, "cannot size the JWS signature");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) != 1)
        return fail(err, "cannot sign the JWS");
    sig.resize(len);
    if (alg_ == "RS256") return sig;

    // ES256: OpenSSL produces DER ECDSA-Sig-Value { r, s }; JWS wants fixed-width R || S.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    auto ecdsa = ossl::own(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!ecdsa) return fail(err, "cannot decode the ECDSA signature");
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(ecdsa.get(), &r, &s);
    std::string out(64, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    if (BN_bn2binpad(r, o, 32) != 32 || BN_bn2binpad(s, o + 32, 32) != 32)
        return fail(err, "ECDSA signature component too large");
    return out;
}

std::string account_key::sign(std::string_view url, std::string_view nonce, std::string_view kid,
                              std::string_view payload, std::string& err) const {
    std::string header = "{\"alg\":\"" + alg_ + "\"";
    if (!kid.empty())
        header += ",\"kid\":" + util::json_quote(kid);
    else
        header += ",\"jwk\":" + jwk_;
    header += ",\"nonce\":" + util::json_quote(nonce) + ",\"url\":" + util::json_quote(url) + "}";
    const std::string protected64 = base64url(header);
    const std::string payload64 = base64url(payload);
    const std::string sig = signature(protected64 + "." + payload64, err);
    if (sig.empty()) return {};
    return "{\"protected\":\"" + protected64 + "\",\"payload\":\"" + payload64 + "\",\"signature\":\"" +
           base64url(sig) + "\"}";
}

}  // namespace atsgate::acme
