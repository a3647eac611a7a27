// base64url, JWK thumbprints (RFC 7638 vector), JWS signatures verified with the public key, CSRs,
// the TLS-ALPN-01 certificate (RFC 8737) and the ARI certificate id (RFC 9773 vector).

#include "proxy/acme/account_key.hpp"
#include "proxy/acme/base64url.hpp"
#include "proxy/acme/certificate_request.hpp"
#include "proxy/acme/challenge.hpp"
#include "tests/support/cert_factory.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

using namespace atsgate;
using namespace atsgate::acme;

namespace {

std::string b64d(std::string_view s) {
    auto d = base64url_decode(s);
    REQUIRE(d);
    return *d;
}

account_key make_account(key_type t) {
    std::string err;
    auto k = account_key::from_key(generate_key(t, err), err);
    INFO(err);
    REQUIRE(k);
    return std::move(*k);
}

// Verifies a JWS signature (R||S for ES256) with the account's public key.
bool verify_jws(const account_key& k, std::string_view signing_input, std::string_view sig) {
    std::string der_sig(sig);
    if (k.alg() == "ES256") {
        REQUIRE(sig.size() == 64);
        auto r = ossl::own(BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr));
        auto s = ossl::own(BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
        auto es = ossl::own(ECDSA_SIG_new());
        REQUIRE(ECDSA_SIG_set0(es.get(), r.release(), s.release()) == 1);
        unsigned char* out = nullptr;
        const int n = i2d_ECDSA_SIG(es.get(), &out);
        ossl::string_ptr owned(reinterpret_cast<char*>(out));
        der_sig.assign(owned.get(), static_cast<std::size_t>(n));
    }
    auto ctx = ossl::own(EVP_MD_CTX_new());
    REQUIRE(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, &k.key()) == 1);
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der_sig.data()), der_sig.size(),
                            reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
}

}  // namespace

TEST_CASE("base64url: RFC 4648 vectors, no padding, strict decoding", "[acme][base64url]") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"},
    };
    for (auto [plain, enc] : vectors) {
        INFO(plain);
        CHECK(base64url(std::string_view(plain)) == enc);
        CHECK(b64d(enc) == plain);
    }
    CHECK_FALSE(base64url_decode("Zm9v="));   // padding
    CHECK_FALSE(base64url_decode("Zm9+"));    // '+' is base64, not base64url
    CHECK_FALSE(base64url_decode("Z"));       // impossible length
    CHECK_FALSE(base64url_decode("Zh"));      // non-zero leftover bits (canonical form is "Zg")
    CHECK(is_base64url("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
    CHECK_FALSE(is_base64url(""));
    CHECK_FALSE(is_base64url("../etc/passwd"));
    CHECK_FALSE(is_base64url("a b"));
}

TEST_CASE("JWK thumbprint: the RFC 7638 3.1 example", "[acme][jws]") {
    // The RSA key of RFC 7638 section 3.1 (public part only).
    const std::string n64 =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajr"
        "n1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const std::string n = b64d(n64);
    auto bn = ossl::own(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr));
    auto e = ossl::own(BN_new());
    REQUIRE(BN_set_word(e.get(), 65537) == 1);
    auto bld = ossl::own(OSSL_PARAM_BLD_new());
    REQUIRE(bld);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    auto params = ossl::own(OSSL_PARAM_BLD_to_param(bld.get()));
    auto pctx = ossl::own(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* raw = nullptr;
    REQUIRE(EVP_PKEY_fromdata_init(pctx.get()) == 1);
    REQUIRE(EVP_PKEY_fromdata(pctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) == 1);
    std::string err;
    auto k = account_key::from_key(ossl::own(raw), err);
    REQUIRE(k);
    CHECK(k->alg() == "RS256");
    CHECK(k->jwk() == "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" + n64 + "\"}");
    CHECK(k->thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST_CASE("account keys: ES256 and RS256 JWS verify with the public key", "[acme][jws]") {
    for (key_type t : {key_type::ecdsa_p256, key_type::rsa_2048}) {
        INFO(to_string(t));
        const account_key k = make_account(t);
        CHECK(k.alg() == (t == key_type::ecdsa_p256 ? "ES256" : "RS256"));
        std::string err;
        for (bool with_kid : {false, true}) {
            const std::string jws = k.sign("https://ca.test/acme/new-order", "nonce-1",
                                           with_kid ? "https://ca.test/acme/acct/7" : "", "{\"a\":1}", err);
            REQUIRE(!jws.empty());
            auto v = boost::json::parse(jws).as_object();
            CHECK(v.size() == 3);
            const std::string prot(v["protected"].as_string()), payload(v["payload"].as_string()),
                sig(v["signature"].as_string());
            auto header = boost::json::parse(b64d(prot)).as_object();
            CHECK(header["alg"].as_string() == k.alg());
            CHECK(header["nonce"].as_string() == "nonce-1");
            CHECK(header["url"].as_string() == "https://ca.test/acme/new-order");
            if (with_kid) {
                CHECK(header["kid"].as_string() == "https://ca.test/acme/acct/7");
                CHECK(!header.contains("jwk"));
            } else {
                CHECK(!header.contains("kid"));
                CHECK(boost::json::serialize(header["jwk"]) == k.jwk());
            }
            CHECK(b64d(payload) == "{\"a\":1}");
            CHECK(verify_jws(k, prot + "." + payload, b64d(sig)));
            CHECK_FALSE(verify_jws(k, prot + "." + base64url(std::string_view("{\"a\":2}")), b64d(sig)));
        }
        // POST-as-GET: the payload is the empty string.
        auto get = boost::json::parse(k.sign("https://ca.test/x", "n", "kid", "", err)).as_object();
        CHECK(get["payload"].as_string() == "");
        // The PEM round trip keeps the same account (same thumbprint).
        const std::string pem = private_key_pem(k.key(), err);
        auto again = account_key::from_key(read_private_key_pem(pem, err), err);
        REQUIRE(again);
        CHECK(again->thumbprint() == k.thumbprint());
    }
}

TEST_CASE("account keys: weak or unsupported keys are refused", "[acme][jws]") {
    std::string err;
    CHECK_FALSE(account_key::from_key(test::generate_key(test::key_type::rsa_1024), err));
    CHECK(err == "the RSA account key has 1024 bits (minimum 2048)");
    CHECK_FALSE(account_key::from_key(test::generate_key(test::key_type::ec_p384), err));
    CHECK_FALSE(account_key::from_key(test::generate_key(test::key_type::ed25519), err));
    CHECK_FALSE(read_private_key_pem("not a key", err));
}

TEST_CASE("CSR: names in the SAN, signed by the certificate key", "[acme][csr]") {
    for (key_type t : {key_type::ecdsa_p256, key_type::rsa_2048}) {
        std::string err;
        auto key = generate_key(t, err);
        REQUIRE(key);
        const std::string der = make_csr_der(*key, {"mdm.example.test", "enroll.example.test"}, err);
        REQUIRE(!der.empty());
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        auto req = ossl::own(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
        REQUIRE(req);
        CHECK(X509_REQ_verify(req.get(), key.get()) == 1);
        auto exts = ossl::own(X509_REQ_get_extensions(req.get()));
        REQUIRE(exts);
        REQUIRE(sk_X509_EXTENSION_num(exts.get()) == 1);
        auto sans = ossl::own(static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
        REQUIRE(sans);
        REQUIRE(sk_GENERAL_NAME_num(sans.get()) == 2);
        CHECK(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(sans.get(), 1)->d.dNSName))) ==
              "enroll.example.test");
        char cn[128] = {};
        X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName, cn, sizeof cn);
        CHECK(std::string(cn) == "mdm.example.test");
    }
    std::string err;
    auto key = generate_key(key_type::ecdsa_p256, err);
    CHECK(make_csr_der(*key, {}, err).empty());
}

TEST_CASE("challenges: key authorization, HTTP-01 path, TLS-ALPN-01 certificate (RFC 8737)", "[acme][challenge]") {
    CHECK(key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ") ==
          "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ");
    CHECK(http01_path("tok") == "/.well-known/acme-challenge/tok");

    std::string err;
    const std::string ka = "token123.thumb456";
    const std::int64_t now = 1767225600;
    auto c = tls_alpn01_certificate("mdm.example.test", ka, now, err);
    REQUIRE(c);
    auto id = read_acme_identifier(*c->cert);
    REQUIRE(id);
    CHECK(id->critical);
    CHECK(id->digest == sha256(ka));
    CHECK(dns_names_of(*c->cert) == std::vector<std::string>{"mdm.example.test"});
    CHECK(X509_check_private_key(c->cert.get(), c->key.get()) == 1);
    CHECK(X509_verify(c->cert.get(), c->key.get()) == 1);  // self-signed
    auto v = validity_of(*c->cert);
    REQUIRE(v);
    CHECK(v->first <= now);
    CHECK(v->second > now);
    // The raw extension value is the DER OCTET STRING (04 20 || digest), as RFC 8737 3 requires.
    auto obj = ossl::own(OBJ_txt2obj(acme_identifier_oid, 1));
    const int idx = X509_get_ext_by_OBJ(c->cert.get(), obj.get(), -1);
    REQUIRE(idx >= 0);
    const ASN1_OCTET_STRING* raw = X509_EXTENSION_get_data(X509_get_ext(c->cert.get(), idx));
    REQUIRE(ASN1_STRING_length(raw) == 34);
    CHECK(ASN1_STRING_get0_data(raw)[0] == 0x04);
    CHECK(ASN1_STRING_get0_data(raw)[1] == 0x20);
    // An ordinary certificate has no acmeIdentifier.
    test::cert_factory f(now);
    auto root = f.root_ca();
    CHECK_FALSE(read_acme_identifier(*root.cert));
}

TEST_CASE("ARI certificate id: the RFC 9773 4.1 example", "[acme][ari]") {
    // AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 0x87654321
    // -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" (the serial's DER content needs a leading zero byte).
    test::cert_factory f(1767225600);
    auto root = f.root_ca();
    auto cert = ossl::own(X509_dup(root.cert.get()));
    REQUIRE(cert);
    auto serial = ossl::own(BN_new());
    BN_set_word(serial.get(), 0x87654321);
    REQUIRE(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr);
    const int old = X509_get_ext_by_NID(cert.get(), NID_authority_key_identifier, -1);
    if (old >= 0) ossl::own(X509_delete_ext(cert.get(), old));
    const unsigned char keyid[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                   0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
    auto aki = ossl::own(AUTHORITY_KEYID_new());
    aki->keyid = ASN1_OCTET_STRING_new();
    REQUIRE(ASN1_OCTET_STRING_set(aki->keyid, keyid, sizeof keyid) == 1);
    REQUIRE(X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, aki.get(), 0, X509V3_ADD_REPLACE) == 1);
    REQUIRE(X509_sign(cert.get(), root.key.get(), EVP_sha256()) > 0);
    auto id = ari_cert_id(*cert);
    REQUIRE(id);
    CHECK(*id == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST_CASE("PEM chains: order kept, garbage refused", "[acme][csr]") {
    test::cert_factory f(1767225600);
    auto root = f.root_ca();
    auto inter = f.intermediate(root);
    auto leaf = f.leaf(inter, "mdm.example.test");
    std::string err;
    auto chain = parse_pem_chain(test::chain_pem({&leaf, &inter}), err);
    REQUIRE(chain.size() == 2);
    CHECK(dns_names_of(*chain[0]) == std::vector<std::string>{"mdm.example.test"});
    CHECK(parse_pem_chain("hello", err).empty());
    CHECK(parse_pem_chain("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", err).empty());
}
