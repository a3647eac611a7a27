// Facts gathering against certificates generated at test time: inspect_certificate, inspect_chain
// and the PEM loaders. Every case also checks that no OpenSSL error is left queued.

#include "tls_fixtures.hpp"

#include <catch2/catch.hpp>

#include <openssl/pem.h>
#include <openssl/rsa.h>

using namespace atsgate;
using namespace atsgate::tls;
using namespace atsgate::tls::testing;
using test::cert_spec;
using test::key_type;

namespace {

verify_inputs private_trust(X509_STORE* store, std::string hostname = {}, EVP_PKEY* key = nullptr) {
    verify_inputs in;
    in.trust = store;
    in.hostname = std::move(hostname);
    in.key = key;
    in.check_public_trust = false;
    return in;
}

}  // namespace

TEST_CASE("inspect_certificate: key, signature and names", "[tls][facts]") {
    const auto& p = pki::get();
    struct row {
        key_type key;
        test::digest sig;
        key_kind kind;
        int bits;
        const char* description;
        const char* signature;  // issuer is the EC intermediate
        int hash_bits;
    };
    const row table[] = {
        {key_type::ec_p256, test::digest::sha256, key_kind::ec, 256, "EC P-256", "ecdsa-with-SHA256", 256},
        {key_type::ec_p384, test::digest::sha384, key_kind::ec, 384, "EC P-384", "ecdsa-with-SHA384", 384},
        {key_type::ec_p224, test::digest::sha512, key_kind::ec, 224, "EC P-224", "ecdsa-with-SHA512", 512},
        {key_type::rsa_1024, test::digest::sha1, key_kind::rsa, 1024, "RSA 1024", "ecdsa-with-SHA1", 160},
        {key_type::rsa_2048, test::digest::sha256, key_kind::rsa, 2048, "RSA 2048", "ecdsa-with-SHA256", 256},
        {key_type::ed25519, test::digest::sha256, key_kind::ed25519, 256, "Ed25519", "ecdsa-with-SHA256", 256},
        {key_type::dsa_2048, test::digest::sha256, key_kind::dsa, 2048, "DSA 2048", "ecdsa-with-SHA256", 256},
    };
    for (const auto& r : table) {
        DYNAMIC_SECTION(test::to_string(r.key) << " signed with digest " << static_cast<int>(r.sig)) {
            auto s = test::cert_factory::leaf_spec(host, r.key);
            s.sig = r.sig;
            auto leaf = p.factory.make(s, &p.inter);
            cert_facts f = inspect_certificate(leaf.x509());
            CHECK(f.key == r.kind);
            CHECK(f.key_bits == r.bits);
            CHECK(f.key_description == r.description);
            CHECK(f.signature_algorithm == r.signature);
            CHECK(f.signature_hash_bits == r.hash_bits);
            CHECK(ERR_peek_error() == 0);
        }
    }
}

TEST_CASE("inspect_certificate: RSA issuers (PKCS#1 v1.5, PSS) and Ed25519 issuers", "[tls][facts]") {
    const auto& f = pki::get().factory;
    SECTION("sha1WithRSAEncryption") {
        auto root = f.root_ca("rsa root", key_type::rsa_2048);
        auto s = test::cert_factory::leaf_spec(host);
        s.sig = test::digest::sha1;
        auto leaf = f.make(s, &root);
        cert_facts c = inspect_certificate(leaf.x509());
        CHECK(c.signature_algorithm == "sha1WithRSAEncryption");
        CHECK(c.signature_hash_bits == 160);
    }
    SECTION("RSASSA-PSS with SHA-256") {
        auto root = f.root_ca("rsa root", key_type::rsa_2048);
        auto leaf = f.leaf(root, host);
        // Re-sign the leaf with PSS padding.
        auto md_ctx = ossl::own(EVP_MD_CTX_new());
        REQUIRE(md_ctx);
        EVP_PKEY_CTX* pctx = nullptr;  // owned by md_ctx
        REQUIRE(EVP_DigestSignInit(md_ctx.get(), &pctx, EVP_sha256(), nullptr, root.key.get()) == 1);
        REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
        REQUIRE(X509_sign_ctx(leaf.cert.get(), md_ctx.get()) > 0);
        cert_facts c = inspect_certificate(leaf.x509());
        CHECK(c.signature_algorithm == "rsassaPss");
        CHECK(c.signature_hash_bits == 256);
    }
    SECTION("Ed25519 issuer") {
        auto root = f.root_ca("ed root", key_type::ed25519);
        auto leaf = f.leaf(root, host);
        cert_facts c = inspect_certificate(leaf.x509());
        CHECK(c.signature_algorithm == "ED25519");
        CHECK(c.signature_hash_bits == 512);
    }
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("inspect_certificate: identity, dates, extensions", "[tls][facts]") {
    const auto& p = pki::get();
    SECTION("leaf") {
        cert_spec s = test::cert_factory::leaf_spec(host);
        s.san_dns.push_back("*.example.test");
        s.san_ip = {"10.0.0.1", "2001:db8::1"};
        s.usage = test::eku::server_and_client;
        s.not_before = -2 * day;
        s.not_after = 30 * day;
        auto leaf = p.factory.make(s, &p.inter);
        cert_facts c = inspect_certificate(leaf.x509());
        CHECK(c.subject == "CN=mdm.example.test,O=atsgate tests");
        CHECK(c.issuer == "CN=atsgate test intermediate,O=atsgate tests");
        CHECK(c.common_name == "mdm.example.test");
        CHECK_FALSE(c.serial_hex.empty());
        CHECK(c.serial_hex.find_first_not_of("0123456789ABCDEF") == std::string::npos);
        CHECK(c.sha256_fingerprint.size() == 32 * 3 - 1);
        CHECK(c.not_before == fixed_now - 2 * day);
        CHECK(c.not_after == fixed_now + 30 * day);
        CHECK_FALSE(c.self_issued);
        CHECK_FALSE(c.self_signed);
        CHECK_FALSE(c.is_ca);
        CHECK(c.san_dns == std::vector<std::string>{"mdm.example.test", "*.example.test"});
        CHECK(c.san_ip == std::vector<std::string>{"10.0.0.1", "2001:db8::1"});
        CHECK(c.has_eku);
        CHECK(c.eku_server_auth);
        CHECK(c.eku == std::vector<std::string>{"serverAuth", "clientAuth"});
    }
    SECTION("root") {
        cert_facts c = inspect_certificate(p.root.x509());
        CHECK(c.self_issued);
        CHECK(c.self_signed);
        CHECK(c.is_ca);
        CHECK_FALSE(c.has_eku);
        CHECK(c.san_dns.empty());
    }
    SECTION("self-signed leaf without keyCertSign is still self-signed") {
        auto leaf = p.factory.make(test::cert_factory::leaf_spec(host));
        cert_facts c = inspect_certificate(leaf.x509());
        CHECK(c.self_signed);
        CHECK_FALSE(c.is_ca);
    }
    SECTION("self-issued but signed by another key is not self-signed") {
        // Same subject as the root, signed by the root's key, but carrying a different key.
        auto s = test::cert_factory::ca_spec("atsgate test root", key_type::ec_p256, 365 * day);
        s.key_slot = 9;
        auto cross = p.factory.make(s, &p.root);
        cert_facts c = inspect_certificate(cross.x509());
        CHECK(c.self_issued);
        CHECK_FALSE(c.self_signed);
    }
    SECTION("anyExtendedKeyUsage does not count as serverAuth") {
        auto s = test::cert_factory::leaf_spec(host);
        s.usage = test::eku::any;
        cert_facts c = inspect_certificate(p.factory.make(s, &p.inter).x509());
        CHECK(c.has_eku);
        CHECK_FALSE(c.eku_server_auth);
        CHECK(c.eku == std::vector<std::string>{"anyExtendedKeyUsage"});
    }
    SECTION("no CN") {
        auto s = test::cert_factory::leaf_spec(host);
        s.common_name.clear();
        cert_facts c = inspect_certificate(p.factory.make(s, &p.inter).x509());
        CHECK(c.common_name.empty());
        CHECK(c.subject == "O=atsgate tests");
    }
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("inspect_chain", "[tls][facts]") {
    const auto& p = pki::get();
    auto leaf = p.factory.leaf(p.inter, host);
    auto store = test::store_of({&p.root});

    SECTION("verifies to the private root") {
        chain_facts c = inspect_chain(test::chain_of({&leaf, &p.inter}), private_trust(store.get(), host, leaf.key.get()));
        CHECK(c.served.size() == 2);
        REQUIRE(c.verified == true);
        REQUIRE(c.anchor);
        CHECK(c.anchor->subject == "CN=atsgate test root,O=atsgate tests");
        CHECK(c.verify_error.empty());
        CHECK_FALSE(c.missing_intermediate);
        CHECK_FALSE(c.publicly_trusted.has_value());
        CHECK(c.key_matches == true);
        CHECK(c.hostname_matches == true);
        CHECK(c.hostname == host);
    }
    SECTION("time is not checked by inspect_chain (the audit judges it)") {
        auto s = test::cert_factory::leaf_spec(host);
        s.not_before = -400 * day;
        s.not_after = -300 * day;
        auto expired = p.factory.make(s, &p.inter);
        chain_facts c = inspect_chain(test::chain_of({&expired, &p.inter}), private_trust(store.get()));
        CHECK(c.verified == true);
    }
    SECTION("missing intermediate") {
        chain_facts c = inspect_chain(test::chain_of({&leaf}), private_trust(store.get()));
        REQUIRE(c.verified == false);
        CHECK(c.verify_error == "unable to get local issuer certificate");
        CHECK(c.verify_error_depth == 0);
        CHECK(c.verify_error_subject == "CN=mdm.example.test,O=atsgate tests");
        CHECK(c.missing_intermediate);
        CHECK(c.missing_issuer == "CN=atsgate test intermediate,O=atsgate tests");
        CHECK_FALSE(c.anchor);
    }
    SECTION("partial chains are not accepted even if the store allows them") {
        auto inter_store = test::store_of({&p.inter});
        X509_STORE_set_flags(inter_store.get(), X509_V_FLAG_PARTIAL_CHAIN);
        chain_facts c = inspect_chain(test::chain_of({&leaf, &p.inter}), private_trust(inter_store.get()));
        CHECK(c.verified == false);
    }
    SECTION("self-signed leaf not trusted") {
        auto self = p.factory.make(test::cert_factory::leaf_spec(host));
        chain_facts c = inspect_chain(test::chain_of({&self}), private_trust(store.get()));
        REQUIRE(c.verified == false);
        CHECK(c.verify_error == "self-signed certificate");
        CHECK_FALSE(c.missing_intermediate);
    }
    SECTION("wrong purpose") {
        auto s = test::cert_factory::leaf_spec(host);
        s.usage = test::eku::client_auth;
        auto client = p.factory.make(s, &p.inter);
        chain_facts c = inspect_chain(test::chain_of({&client, &p.inter}), private_trust(store.get()));
        REQUIRE(c.verified == false);
        CHECK(c.verify_error == "unsuitable certificate purpose");
    }
    SECTION("host names: SAN only, no partial wildcards, IP literals") {
        auto s = test::cert_factory::leaf_spec("cn-only.example.test");
        s.san_dns = {"*.wild.example.test", "f*.partial.example.test"};
        s.san_ip = {"192.0.2.7", "2001:db8::7"};
        auto named = p.factory.make(s, &p.inter);
        auto check = [&](const std::string& h) {
            return inspect_chain(test::chain_of({&named, &p.inter}), private_trust(store.get(), h)).hostname_matches;
        };
        CHECK(check("a.wild.example.test") == true);
        CHECK(check("a.b.wild.example.test") == false);
        CHECK(check("foo.partial.example.test") == false);
        CHECK(check("cn-only.example.test") == false);  // the CN is never consulted
        CHECK(check("192.0.2.7") == true);
        CHECK(check("192.0.2.8") == false);
        CHECK(check("2001:db8::7") == true);
        CHECK(check("[2001:db8::7]") == true);
        CHECK(check("") == std::nullopt);
    }
    SECTION("key mismatch, including a different key type") {
        auto rsa = test::cached_key(key_type::rsa_2048, 0);
        CHECK(inspect_chain(test::chain_of({&leaf}), private_trust(store.get(), {}, rsa.get())).key_matches == false);
        auto ec = test::cached_key(key_type::ec_p256, 5);
        CHECK(inspect_chain(test::chain_of({&leaf}), private_trust(store.get(), {}, ec.get())).key_matches == false);
    }
    SECTION("public trust: a private root is not publicly trusted") {
        verify_inputs in = private_trust(store.get());
        in.check_public_trust = true;
        chain_facts c = inspect_chain(test::chain_of({&leaf, &p.inter}), in);
        CHECK(c.verified == true);
        CHECK(c.publicly_trusted == false);
    }
    SECTION("no certificate") {
        chain_facts c = inspect_chain({}, private_trust(store.get()));
        CHECK_FALSE(c.verified.has_value());
        CHECK(c.verify_error == "no certificate to verify");
    }
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("loaders", "[tls][facts]") {
    const auto& p = pki::get();
    auto leaf = p.factory.leaf(p.inter, host);
    test::temp_dir dir;
    auto cert_path = dir.write_chain("cert.pem", {&leaf, &p.inter}).string();
    auto key_path = dir.write_key("key.pem", leaf).string();
    auto trust_path = dir.write_chain("trust.pem", {&p.root}).string();
    load_error err;

    SECTION("round trip") {
        auto chain = load_cert_chain(cert_path, err);
        REQUIRE(chain);
        REQUIRE(chain->size() == 2);
        CHECK(X509_cmp((*chain)[0].get(), leaf.cert.get()) == 0);
        auto key = load_private_key(key_path, err);
        REQUIRE(key);
        auto store = load_trust_store(trust_path, err);
        REQUIRE(store);
        chain_facts c = inspect_chain(*chain, private_trust(store.get(), host, key.get()));
        CHECK(c.verified == true);
        CHECK(c.key_matches == true);
    }
    SECTION("a key in the certificate file is skipped") {
        auto mixed = dir.write_text("mixed.pem", leaf.key_pem() + leaf.cert_pem()).string();
        auto chain = load_cert_chain(mixed, err);
        REQUIRE(chain);
        CHECK(chain->size() == 1);
    }
    SECTION("missing file") {
        std::string missing = dir.file("nope.pem").string();
        CHECK_FALSE(load_cert_chain(missing, err));
        CHECK(err.message == "cannot read " + missing + ": No such file or directory");
        CHECK_FALSE(load_private_key(missing, err));
        CHECK(err.message == "cannot read " + missing + ": No such file or directory");
        CHECK_FALSE(load_trust_store(missing, err));
    }
    SECTION("no certificate in file") {
        auto empty = dir.write_text("empty.pem", "hello\n").string();
        CHECK_FALSE(load_cert_chain(empty, err));
        CHECK(err.message == empty + ": no certificate found");
    }
    SECTION("malformed certificate") {
        auto bad = dir.write_text("bad.pem", leaf.cert_pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                       .string();
        CHECK_FALSE(load_cert_chain(bad, err));
        CHECK(err.message.rfind(bad + ": certificate #2 is malformed: ", 0) == 0);
    }
    SECTION("not a key") {
        CHECK_FALSE(load_private_key(cert_path, err));
        CHECK(err.message.rfind(cert_path + ": not a PEM private key", 0) == 0);
    }
    SECTION("encrypted key fails without prompting") {
        auto bio = ossl::own(BIO_new(BIO_s_mem()));
        static const char pass[] = "secret";
        REQUIRE(PEM_write_bio_PrivateKey(bio.get(), leaf.key.get(), EVP_aes_128_cbc(),
                                         reinterpret_cast<const unsigned char*>(pass), 6, nullptr, nullptr) == 1);
        char* data = nullptr;
        long len = BIO_get_mem_data(bio.get(), &data);
        auto enc = dir.write_text("enc.pem", std::string(data, static_cast<std::size_t>(len))).string();
        CHECK_FALSE(load_private_key(enc, err));
        CHECK(err.message.rfind(enc + ": not a PEM private key", 0) == 0);
    }
    CHECK(ERR_peek_error() == 0);
}
