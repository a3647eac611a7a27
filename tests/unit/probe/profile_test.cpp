// Profiles: URL extraction with key paths and the SCEP exemption; CMS/PKCS#7 unwrapping of signed
// profiles (DER and PEM, valid and tampered signatures, detached, garbage) with signers made at
// test time; loading files.

#include "probe_fixtures.hpp"
#include "proxy/probe/profile.hpp"

#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>

#include <catch2/catch.hpp>

using namespace atsgate;
using namespace atsgate::probe;
using namespace atsgate::probe::testing;

namespace {

const std::string profile_xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>PayloadType</key><string>com.apple.mdm</string>
      <key>ServerURL</key><string>https://mdm.example.test/mdm/server</string>
      <key>CheckInURL</key><string>  HTTPS://mdm.example.test/mdm/checkin  </string>
      <key>Topic</key><string>com.apple.mgmt.External.1234</string>
    </dict>
    <dict>
      <key>PayloadType</key><string>com.apple.security.scep</string>
      <key>PayloadContent</key>
      <dict>
        <key>URL</key><string>http://scep.example.test/scep</string>
        <key>Name</key><string>CA</string>
        <key>Note</key><string>http://scep.example.test/not-the-url-key</string>
      </dict>
    </dict>
    <dict>
      <key>PayloadType</key><string>com.apple.webClip.managed</string>
      <key>URL</key><string>http://intranet.example.test/</string>
    </dict>
    <dict>
      <key>PayloadType</key><string>com.apple.app.managed</string>
      <key>ManifestURLs</key>
      <array>
        <string>https://apps.example.test:8443/manifest.plist</string>
        <string>not a url: https://example.test</string>
        <string>ftp://files.example.test/</string>
      </array>
    </dict>
  </array>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadDescription</key><string>see https://docs.example.test for help</string>
</dict>
</plist>
)";

std::string bio_bytes(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string{};
}

// Signs `content` as CMS SignedData with the content embedded (or detached).
std::string cms_sign(const std::string& content, const test::test_cert& signer, bool pem, bool detached = false) {
    auto in = ossl::own(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    auto cms = ossl::own(CMS_sign(signer.cert.get(), signer.key.get(), nullptr, in.get(),
                                  CMS_BINARY | (detached ? CMS_DETACHED : 0)));
    REQUIRE(cms);
    auto out = ossl::own(BIO_new(BIO_s_mem()));
    REQUIRE((pem ? PEM_write_bio_CMS(out.get(), cms.get()) : i2d_CMS_bio(out.get(), cms.get())) == 1);
    return bio_bytes(out.get());
}

// The older PKCS#7 API (what many profile-signing tools use).
std::string pkcs7_sign(const std::string& content, const test::test_cert& signer) {
    auto in = ossl::own(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    auto p7 = ossl::own(PKCS7_sign(signer.cert.get(), signer.key.get(), nullptr, in.get(), PKCS7_BINARY));
    REQUIRE(p7);
    auto out = ossl::own(BIO_new(BIO_s_mem()));
    REQUIRE(i2d_PKCS7_bio(out.get(), p7.get()) == 1);
    return bio_bytes(out.get());
}

const test::test_cert& signer() {
    const auto& p = pki::get();
    static const test::test_cert s = [&] {
        auto spec = test::cert_factory::leaf_spec("Profile Signer");
        spec.san_dns.clear();
        spec.usage = test::eku::none;
        return p.factory.make(spec, &p.inter);
    }();
    return s;
}

}  // namespace

TEST_CASE("profile: every http(s) URL with its key path, SCEP's URL exempt", "[probe][profile]") {
    auto r = plist::parse_xml(profile_xml);
    REQUIRE(r.ok);
    const auto urls = extract_urls(r.root);
    struct want {
        const char* path;
        const char* url;
        bool https;
        bool exempt;
        const char* payload;
    };
    const std::vector<want> expected = {
        {"PayloadContent[0].ServerURL", "https://mdm.example.test/mdm/server", true, false, "com.apple.mdm"},
        {"PayloadContent[0].CheckInURL", "HTTPS://mdm.example.test/mdm/checkin", true, false, "com.apple.mdm"},
        {"PayloadContent[1].PayloadContent.URL", "http://scep.example.test/scep", false, true, "com.apple.security.scep"},
        {"PayloadContent[1].PayloadContent.Note", "http://scep.example.test/not-the-url-key", false, false,
         "com.apple.security.scep"},
        {"PayloadContent[2].URL", "http://intranet.example.test/", false, false, "com.apple.webClip.managed"},
        {"PayloadContent[3].ManifestURLs[0]", "https://apps.example.test:8443/manifest.plist", true, false,
         "com.apple.app.managed"},
    };
    REQUIRE(urls.size() == expected.size());
    for (std::size_t i = 0; i < urls.size(); ++i) {
        INFO(i << ": " << urls[i].key_path);
        CHECK(urls[i].key_path == expected[i].path);
        CHECK(urls[i].url == expected[i].url);
        CHECK(urls[i].https == expected[i].https);
        CHECK(urls[i].scep_exempt == expected[i].exempt);
        CHECK(urls[i].payload_type == expected[i].payload);
    }
}

TEST_CASE("profile: an https URL that cannot be probed is marked, not dropped", "[probe][profile]") {
    auto r = plist::parse_xml(R"(<plist><dict><key>ServerURL</key><string>https://$SERVER/mdm</string>
        <key>CheckInURL</key><string>https://mdm.example.test:99999/</string></dict></plist>)");
    REQUIRE(r.ok);
    auto urls = extract_urls(r.root);
    REQUIRE(urls.size() == 2);
    CHECK_THAT(urls[0].invalid, Catch::Contains("invalid host name"));
    CHECK_THAT(urls[1].invalid, Catch::Contains("invalid port"));
}

TEST_CASE("profile: an https SCEP URL is a plain https URL, not exempt", "[probe][profile]") {
    auto r = plist::parse_xml(R"(<plist><dict><key>PayloadType</key><string>com.apple.security.scep</string>
        <key>PayloadContent</key><dict><key>URL</key><string>https://scep.example.test/</string></dict></dict></plist>)");
    REQUIRE(r.ok);
    auto urls = extract_urls(r.root);
    REQUIRE(urls.size() == 1);
    CHECK(urls[0].https);
    CHECK_FALSE(urls[0].scep_exempt);
}

TEST_CASE("profile: XML, binary and CMS-signed (DER, PEM, PKCS#7) give the same URLs", "[probe][profile]") {
    auto x = plist::parse_xml(profile_xml);
    REQUIRE(x.ok);
    bplist_builder b;
    const std::string binary = b.build(b.encode(x.root));

    struct variant {
        const char* label;
        std::string bytes;
        const char* format;
        bool is_signed;
    };
    const std::vector<variant> variants = {
        {"XML", profile_xml, "XML plist", false},
        {"binary", binary, "binary plist", false},
        {"CMS DER over XML", cms_sign(profile_xml, signer(), false), "XML plist", true},
        {"CMS PEM over XML", cms_sign(profile_xml, signer(), true), "XML plist", true},
        {"CMS DER over binary", cms_sign(binary, signer(), false), "binary plist", true},
        {"PKCS#7 DER over XML", pkcs7_sign(profile_xml, signer()), "XML plist", true},
    };
    for (const auto& v : variants) {
        DYNAMIC_SECTION(v.label) {
            std::string err;
            auto p = parse_profile(v.bytes, "enroll.mobileconfig", err);
            INFO(err);
            REQUIRE(p);
            CHECK(p->path == "enroll.mobileconfig");
            CHECK(p->format == v.format);
            CHECK(p->signed_cms == v.is_signed);
            CHECK(p->urls.size() == 6);
            if (v.is_signed) {
                REQUIRE(p->signers.size() == 1);
                CHECK_THAT(p->signers[0], Catch::Contains("CN=Profile Signer"));
                CHECK(p->signature_valid == true);
                CHECK(p->signature_error.empty());
            } else {
                CHECK(p->signers.empty());
                CHECK_FALSE(p->signature_valid.has_value());
            }
        }
    }
}

TEST_CASE("profile: a tampered signed profile is unwrapped, its signature reported broken", "[probe][profile]") {
    std::string der = cms_sign(profile_xml, signer(), false);
    const auto at = der.find("mdm.example.test/mdm/server");
    REQUIRE(at != std::string::npos);
    der[at] = 'M';
    std::string err;
    auto p = parse_profile(der, "tampered.mobileconfig", err);
    INFO(err);
    REQUIRE(p);
    CHECK(p->signature_valid == false);
    CHECK_FALSE(p->signature_error.empty());
    CHECK(p->urls.at(0).url == "https://Mdm.example.test/mdm/server");
}

// Found while fuzzing (tests/fuzz/fuzz_profile, corpus/profile/shared_long_key.bplist): one long key
// and one long PayloadType shared by thousands of URLs were copied into every URL found below
// them, so output grew as key length x URLs (a 120 kB binary plist took 2.5 GB).
TEST_CASE("profile: key paths and payload types stay bounded when one long key is shared", "[probe][profile]") {
    bplist_builder b;
    b.offset_size = 4;
    const std::string long_key = std::string(20000, 'k') + "\xc3\xa9";  // ends in a 2-byte UTF-8 character
    const std::size_t url = b.str("http://mdm.example.test/");
    const std::size_t list = b.array(std::vector<std::size_t>(3000, url));
    const std::size_t key = b.str(long_key);
    const std::size_t pt_key = b.str("PayloadType");
    const std::size_t pt = b.str(std::string(20000, 'T'));
    const std::size_t inner = b.dict({{pt_key, pt}, {key, list}});
    const std::size_t root = b.dict({{b.str("PayloadContent"), b.array({inner})}});
    const std::string bytes = b.build(root);
    REQUIRE(bytes.size() < 50000);

    std::string err;
    const auto p = parse_profile(bytes, "shared.mobileconfig", err);
    INFO(err);
    REQUIRE(p);
    REQUIRE(p->urls.size() == 3000);
    std::size_t total = 0;
    for (const auto& u : p->urls) total += u.key_path.size() + u.payload_type.size();
    CHECK(total <= 3000 * 512);
    const auto& first = p->urls.front();
    CHECK(first.key_path.size() <= 256);
    CHECK(first.key_path.rfind("PayloadContent[0].kkk", 0) == 0);
    CHECK(first.key_path.substr(first.key_path.size() - 3) == "...");
    CHECK(first.payload_type.size() <= 256);
    CHECK(first.url == "http://mdm.example.test/");
    // Short paths are untouched.
    CHECK(extract_urls(plist::parse_xml(profile_xml).root).front().key_path == "PayloadContent[0].ServerURL");
}

TEST_CASE("profile: unusable inputs are refused with a reason", "[probe][profile]") {
    struct bad {
        const char* label;
        std::string bytes;
        const char* reason;
    };
    const std::vector<bad> table = {
        {"detached signature", cms_sign(profile_xml, signer(), false, true), "detached signature"},
        {"garbage DER", std::string("\x30\x82\x01\x00garbage", 12), "not a readable CMS"},
        {"garbage PEM", "-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n", "not a readable CMS"},
        {"signed content is not a plist", cms_sign("hello", signer(), false), "XML plist: line 1"},
        {"top level is not a dictionary", "<plist><array/></plist>", "not a dictionary"},
        {"malformed XML", "<plist><dict>", "XML plist: line"},
        {"malformed binary", "bplist00xx", "binary plist: too short"},
    };
    for (const auto& b : table) {
        DYNAMIC_SECTION(b.label) {
            std::string err;
            CHECK_FALSE(parse_profile(b.bytes, "p.mobileconfig", err));
            CHECK_THAT(err, Catch::Contains(b.reason));
        }
    }
}

TEST_CASE("profile: load_profile names the file in its errors", "[probe][profile]") {
    test::temp_dir dir;
    std::string err;
    CHECK_FALSE(load_profile((dir.path() / "missing.mobileconfig").string(), err));
    CHECK_THAT(err, Catch::EndsWith("missing.mobileconfig: cannot read: No such file or directory"));
    const auto empty = dir.write_text("empty.mobileconfig", "");
    CHECK_FALSE(load_profile(empty.string(), err));
    CHECK_THAT(err, Catch::EndsWith("empty.mobileconfig: empty file"));
    const auto good = dir.write_text("good.mobileconfig", profile_xml);
    auto p = load_profile(good.string(), err);
    REQUIRE(p);
    CHECK(p->path == good.string());
    plist::limits tiny;
    tiny.max_bytes = 16;
    const auto big = dir.write_text("big.mobileconfig", std::string((1u << 20) + 64, ' '));
    CHECK_FALSE(load_profile(big.string(), err, tiny));
    CHECK_THAT(err, Catch::Contains("larger than"));
}
