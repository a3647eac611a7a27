// url_guard: the plaintext URL scanner over response bodies. Every body is fed whole, byte by
// byte, and split at every point (and every pair of points for short bodies): the counts and
// first() never depend on how the body arrived. Then the exemptions (SCEP URLs, the plist DTD),
// the scan budget, URLs running to the end of the body, first()'s truncation and applies().

#include "proxy/http/url_guard.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using atsgate::http::url_guard;

namespace {

constexpr std::uint64_t big_budget = 1 << 20;

struct scan {
    std::uint32_t plaintext = 0;
    std::uint32_t exempt = 0;
    std::string first;

    bool operator==(const scan&) const = default;
};

std::ostream& operator<<(std::ostream& os, const scan& s) {
    return os << "{plaintext " << s.plaintext << ", exempt " << s.exempt << ", first \"" << s.first << "\"}";
}

scan result_of(const url_guard& g) { return scan{g.plaintext(), g.exempt(), std::string(g.first())}; }

// Feeds `pieces` in order, then finish().
scan feed_pieces(const std::vector<std::string_view>& pieces, std::uint64_t budget = big_budget) {
    url_guard g;
    g.reset(budget);
    for (auto p : pieces) g.feed({p.data(), p.size()});
    g.finish();
    return result_of(g);
}

scan feed_whole(std::string_view body, std::uint64_t budget = big_budget) { return feed_pieces({body}, budget); }

// The body split before byte `at` (0 and size() give an empty piece on one side).
scan feed_split(std::string_view body, std::size_t at) { return feed_pieces({body.substr(0, at), body.substr(at)}); }

scan feed_bytes(std::string_view body) {
    std::vector<std::string_view> pieces;
    for (std::size_t i = 0; i < body.size(); ++i) pieces.push_back(body.substr(i, 1));
    return feed_pieces(pieces);
}

const std::string plist_dtd =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n";

}  // namespace

TEST_CASE("url_guard: results do not depend on where the body is split", "[http][url_guard]") {
    struct row {
        const char* label;
        std::string body;
        scan expected;
    };
    const row rows[] = {
        {"no URL", "<plist><dict><key>Status</key><string>Acknowledged</string></dict></plist>", {0, 0, ""}},
        {"https only", "<string>https://mdm.example.com/checkin</string>", {0, 0, ""}},
        {"one http URL in a plist string", "<string>http://mdm.example.com/checkin</string>",
         {1, 0, "http://mdm.example.com/checkin"}},
        // The scheme matches in any case; first() spells it "http://" and keeps the rest as sent.
        {"upper-case scheme", "<string>HTTP://MDM.example.com/Server</string>", {1, 0, "http://MDM.example.com/Server"}},
        {"mixed-case scheme", "{\"url\": \"hTtP://mdm.example.com/a?b=c\"}", {1, 0, "http://mdm.example.com/a?b=c"}},
        {"two URLs: first() is the first one",
         "<string>http://a.example.com/1</string><string>http://b.example.com/2</string>",
         {2, 0, "http://a.example.com/1"}},
        {"the plist DTD is exempt", plist_dtd + "<plist><dict/></plist>", {0, 1, ""}},
        {"a SCEP URL is exempt (any case)",
         "<key>URL</key><string>http://ca.example.com/SCEP/pkiclient.exe</string>", {0, 1, ""}},
        {"the classic SCEP CGI path is exempt without \"scep\" in the URL",
         "<string>http://ca.example.com/cgi-bin/pkiclient.exe</string>", {0, 1, ""}},
        {"DTD and SCEP exempt, the MDM URL counted",
         plist_dtd + "<string>http://scep.example.com/cgi</string><string>http://mdm.example.com/mdm</string>",
         {1, 2, "http://mdm.example.com/mdm"}},
        {"an exempt URL before does not become first()",
         "http://scep.example.com/x http://mdm.example.com/y", {1, 1, "http://mdm.example.com/y"}},
        {"a partial scheme restarts cleanly", "hhttp://a.example.com httphttp://b.example.com http:/c http//d",
         {2, 0, "http://a.example.com"}},
        {"scheme alone is not a URL", "<string>http://</string> \"http://\"", {0, 0, ""}},
        {"JSON: a backslash ends the URL", "{\"u\":\"http://mdm.example.com\\/path\"}", {1, 0, "http://mdm.example.com"}},
        {"URL at the very end of the body (finish)", "see http://mdm.example.com/end", {1, 0, "http://mdm.example.com/end"}},
        {"every delimiter ends a URL", "http://a<http://b>http://c\"http://d'http://e{http://f}http://g|http://h^http://i`",
         {9, 0, "http://a"}},
        {"whitespace and control characters end a URL", "http://a\thttp://b\nhttp://c\rhttp://d http://e\x7f", {5, 0, "http://a"}},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            CHECK(feed_whole(r.body) == r.expected);
            CHECK(feed_bytes(r.body) == r.expected);
            for (std::size_t at = 0; at <= r.body.size(); ++at) {
                INFO("split at " << at);
                CHECK(feed_split(r.body, at) == r.expected);
            }
            if (r.body.size() <= 96) {
                for (std::size_t a = 0; a <= r.body.size(); ++a) {
                    for (std::size_t b = a; b <= r.body.size(); ++b) {
                        const std::string_view body = r.body;
                        INFO("split at " << a << " and " << b);
                        REQUIRE(feed_pieces({body.substr(0, a), body.substr(a, b - a), body.substr(b)}) == r.expected);
                    }
                }
            }
        }
    }
}

TEST_CASE("url_guard: a URL ending the body is counted only by finish()", "[http][url_guard]") {
    const std::string_view body = "<string>http://mdm.example.com/tail";
    url_guard g;
    g.reset(big_budget);
    g.feed({body.data(), body.size()});
    CHECK(g.plaintext() == 0);  // the URL may continue in the next piece
    g.finish();
    CHECK(g.plaintext() == 1);
    CHECK(g.first() == "http://mdm.example.com/tail");
    g.finish();  // idempotent
    CHECK(g.plaintext() == 1);
    g.feed({body.data(), body.size()});  // after finish nothing is scanned
    g.finish();
    CHECK(g.plaintext() == 1);
}

TEST_CASE("url_guard: the budget bounds the bytes scanned", "[http][url_guard]") {
    const std::string body = "0123456789<string>http://mdm.example.com/x</string>http://late.example.com/";
    const std::size_t url_at = body.find("http://");
    struct row {
        const char* label;
        std::uint64_t budget;
        scan expected;
    };
    const row rows[] = {
        {"budget 0: nothing is scanned", 0, {0, 0, ""}},
        {"the budget ends before the URL", url_at, {0, 0, ""}},
        {"the budget ends inside the scheme", url_at + 5, {0, 0, ""}},
        {"the budget ends right after the scheme: no URL yet", url_at + 7, {0, 0, ""}},
        {"the budget ends inside the URL: counted, cut at the budget", url_at + 10, {1, 0, "http://mdm"}},
        {"the budget ends after the first URL", body.find("</string>") + 1, {1, 0, "http://mdm.example.com/x"}},
        {"the budget covers everything", body.size(), {2, 0, "http://mdm.example.com/x"}},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            CHECK(feed_whole(body, r.budget) == r.expected);
            // The budget counts bytes across feed() calls.
            std::vector<std::string_view> bytes;
            for (std::size_t i = 0; i < body.size(); ++i) bytes.push_back(std::string_view(body).substr(i, 1));
            CHECK(feed_pieces(bytes, r.budget) == r.expected);
        }
    }
}

TEST_CASE("url_guard: first() keeps the first 200 bytes of a long URL", "[http][url_guard]") {
    const std::string url = "http://mdm.example.com/" + std::string(400, 'a');
    const std::string body = "<string>" + url + "</string><string>http://second.example.com/</string>";
    for (const auto& r : {feed_whole(body), feed_bytes(body), feed_split(body, 150), feed_split(body, 250)}) {
        CHECK(r.plaintext == 2);
        CHECK(r.first.size() == 200);
        CHECK(r.first == url.substr(0, 200));
    }
    SECTION("a long SCEP URL is still exempt") {
        const std::string scep = "http://scep.example.com/" + std::string(300, 'b');
        CHECK(feed_whole(scep) == scan{0, 1, ""});
    }
}

TEST_CASE("url_guard: reset() starts a new body", "[http][url_guard]") {
    url_guard g;
    const std::string_view a = "http://a.example.com/ http://sce";
    g.reset(big_budget);
    g.feed({a.data(), a.size()});
    g.reset(big_budget);  // the URL in progress and the counts are dropped
    const std::string_view b = "p.example.com/ http://b.example.com/";
    g.feed({b.data(), b.size()});
    g.finish();
    CHECK(result_of(g) == scan{1, 0, "http://b.example.com/"});
}

TEST_CASE("url_guard: applies() to plists, XML, JSON and signed profiles", "[http][url_guard]") {
    struct row {
        const char* content_type;
        bool scanned;
    };
    const row rows[] = {
        {"application/xml", true},
        {"text/xml; charset=utf-8", true},
        {"application/x-plist", true},
        {"application/x-apple-plist", true},
        {"Application/X-Plist", true},
        {"application/x-apple-aspen-config", true},
        {"application/x-apple-aspen-mdm-checkin", true},
        {"application/json", true},
        {"application/json;charset=UTF-8", true},
        {"APPLICATION/JSON", true},
        {"application/pkcs7-mime", true},
        {"application/pkcs7-mime; smime-type=signed-data", true},
        {"text/html", false},
        {"text/plain", false},
        {"application/octet-stream", false},
        {"application/x-www-form-urlencoded", false},
        {"image/png", false},
        {"application/pkcs7-signature", false},
        {"", false},
        {"application/", false},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION('"' << r.content_type << '"') { CHECK(url_guard::applies(r.content_type) == r.scanned); }
    }
}
