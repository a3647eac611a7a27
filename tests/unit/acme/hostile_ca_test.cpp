// What a hostile CA sends, checked before use: the issued chain (strict PEM, the leaf for exactly
// the ordered names and our key, re-encoded) and the URLs it names (https on the directory's
// origin). The order flow's side of it is in order_flow_test.cpp ([hostile]).

#include "proxy/acme/account_key.hpp"
#include "proxy/acme/certificate_request.hpp"
#include "proxy/acme/https_url.hpp"
#include "tests/support/cert_factory.hpp"

#include <catch2/catch.hpp>

using namespace atsgate;
using namespace atsgate::acme;

namespace {
// A CERTIFICATE block holding `cert`'s DER and two more bytes.
std::string with_trailing_bytes(X509& cert) {
    const int len = i2d_X509(&cert, nullptr);
    REQUIRE(len > 0);
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    REQUIRE(i2d_X509(&cert, &p) == len);
    der += std::string(2, '\0');
    auto bio = ossl::own(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio(bio.get(), "CERTIFICATE", "", reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<long>(der.size())) > 0);
    char* text = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &text);
    return std::string(text, static_cast<std::size_t>(n));
}
}  // namespace

TEST_CASE("issued chain: strict PEM, the leaf for exactly our names and key, re-encoded", "[acme][csr][hostile]") {
    test::cert_factory f(1767225600);
    auto root = f.root_ca();
    auto inter = f.intermediate(root);
    std::string err;
    auto our_key = acme::generate_key(key_type::ecdsa_p256, err);
    REQUIRE(our_key);
    const std::vector<std::string> names{"a.example.test", "b.example.test"};
    auto leaf_for = [&](std::vector<std::string> san_dns, EVP_PKEY* key, std::vector<std::string> san_ip = {}) {
        auto spec = test::cert_factory::leaf_spec(san_dns.empty() ? "x" : san_dns.front());
        spec.san_dns = std::move(san_dns);
        spec.san_ip = std::move(san_ip);
        spec.subject_key = key;
        return f.make(spec, &inter);
    };
    auto good = leaf_for({"b.example.test", "A.example.test"}, our_key.get());
    const std::string chain = test::chain_pem({&good, &inter});

    SECTION("accepted, and what is kept is OpenSSL's encoding of the parsed certificates") {
        const std::string out = verify_issued_chain("\r\n" + chain + "\n\n", names, *our_key, err);
        INFO(err);
        REQUIRE(!out.empty());
        auto parsed = parse_pem_chain(out, err);
        REQUIRE(parsed.size() == 2);
        CHECK(X509_cmp(parsed[0].get(), good.cert.get()) == 0);
        CHECK(X509_cmp(parsed[1].get(), inter.cert.get()) == 0);
        CHECK(out.find("BEGIN PRIVATE KEY") == std::string::npos);
    }
    struct row {
        const char* label;
        std::string pem;
        std::string error;
    };
    auto other_names = leaf_for({"evil.example.test"}, our_key.get());
    auto fewer_names = leaf_for({"a.example.test"}, our_key.get());
    auto more_names = leaf_for({"a.example.test", "b.example.test", "evil.example.test"}, our_key.get());
    auto with_ip = leaf_for({"a.example.test", "b.example.test"}, our_key.get(), {"10.0.0.1"});
    auto no_san = leaf_for({}, our_key.get());
    auto other_key = leaf_for({"a.example.test", "b.example.test"}, nullptr);  // someone else's key
    const std::string key_block = "-----BEGIN PRIVATE KEY-----\n" + std::string("MIGHAgEAMBMG") + "\n-----END PRIVATE KEY-----\n";
    std::string eleven;
    for (int i = 0; i < 11; ++i) eleven += inter.cert_pem();
    std::string trailing = chain;
    const auto end_at = trailing.find("-----END CERTIFICATE-----");
    const std::vector<row> rows = {
        {"a leaf for other names", test::chain_pem({&other_names, &inter}),
         "the certificate is for evil.example.test, not exactly the ordered names"},
        {"a leaf missing a name", test::chain_pem({&fewer_names, &inter}),
         "the certificate is for a.example.test, not exactly the ordered names"},
        {"a leaf with an extra name", test::chain_pem({&more_names, &inter}),
         "the certificate is for a.example.test, b.example.test, evil.example.test, not exactly the ordered names"},
        {"a leaf with an IP address too", test::chain_pem({&with_ip, &inter}),
         "the certificate names more than the ordered DNS names (a subjectAltName of another type)"},
        {"a leaf without subjectAltName", test::chain_pem({&no_san, &inter}),
         "the certificate is for no DNS name, not exactly the ordered names"},
        {"a leaf for another key", test::chain_pem({&other_key, &inter}),
         "the certificate is not for the key atsgate generated for this order"},
        {"the intermediate first", test::chain_pem({&inter, &good}),
         "the certificate is not for the key atsgate generated for this order"},
        {"explanatory text", "Here is your certificate:\n" + chain, "the chain has text outside CERTIFICATE blocks (at byte 0)"},
        {"text between blocks", good.cert_pem() + "junk\n" + inter.cert_pem(),
         "the chain has text outside CERTIFICATE blocks (at byte " + std::to_string(good.cert_pem().size()) + ")"},
        {"a private key block", chain + key_block,
         "the chain has text outside CERTIFICATE blocks (at byte " + std::to_string(chain.size()) + ")"},
        {"PEM headers", "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n" + good.cert_pem().substr(28),
         "certificate 1 of the chain is not a plain PEM CERTIFICATE block"},
        {"bytes after the DER", with_trailing_bytes(*good.cert), "certificate 1 of the chain is not one DER certificate"},
        {"not a certificate", "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",
         "certificate 1 of the chain is not one DER certificate"},
        {"unterminated", chain.substr(0, end_at), "the chain ends inside a CERTIFICATE block"},
        {"empty", "\n", "the answer holds no certificate"},
        {"too many", good.cert_pem() + eleven, "the chain has more than 10 certificates"},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        err.clear();
        CHECK(verify_issued_chain(r.pem, names, *our_key, err).empty());
        CHECK(err == r.error);
    }
}

TEST_CASE("CA URLs: https on the directory's origin only", "[acme][hostile]") {
    const std::string dir = "https://acme.example.test/directory";
    struct row {
        const char* label;
        std::string url;
        bool ok;
    };
    const std::vector<row> rows = {
        {"same host", "https://acme.example.test/acme/new-order", true},
        {"host in another case", "https://ACME.Example.test/x", true},
        {"default port spelled out", "https://acme.example.test:443/x", true},
        {"plaintext", "http://acme.example.test/x", false},
        {"another host", "https://evil.example.test/x", false},
        {"a subdomain", "https://a.acme.example.test/x", false},
        {"a suffix", "https://acme.example.test.evil.test/x", false},
        {"another port", "https://acme.example.test:8443/x", false},
        {"userinfo", "https://acme.example.test@evil.test/x", false},
        {"a space", "https://acme.example.test/a b", false},
        {"CR LF", "https://acme.example.test/a\r\nX: y", false},
        {"non-ASCII", "https://acme.example.test/caf\xc3\xa9", false},
        {"too long", "https://acme.example.test/" + std::string(2100, 'a'), false},
        {"not a URL", "acme.example.test/x", false},
        {"empty", "", false},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        CHECK(on_origin(r.url, dir) == r.ok);
    }
    CHECK(on_origin("https://127.0.0.1:14000/x", "https://127.0.0.1:14000/dir"));
    CHECK_FALSE(on_origin("https://127.0.0.1:14001/x", "https://127.0.0.1:14000/dir"));
    CHECK(on_origin("https://[::1]:14000/x", "https://[::1]:14000/dir"));
}
