// Property-list readers: the XML subset and bplist00, on well-formed profiles and on malformed
// and hostile inputs (entity tricks, internal subsets, deep nesting, cycles, out-of-range offsets,
// exponential shared references, truncation at every length, random mutations).

#include "probe_fixtures.hpp"
#include "proxy/probe/plist.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace atsgate::probe;
using namespace atsgate::probe::testing;

namespace {

const std::string enrollment_xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <!-- an MDM enrollment profile -->
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>PayloadType</key><string>com.apple.mdm</string>
      <key>ServerURL</key><string>https://mdm.example.test/mdm/server</string>
      <key>CheckInURL</key><string>https://mdm.example.test/mdm/checkin</string>
      <key>AccessRights</key><integer>8191</integer>
      <key>SignMessage</key><true/>
      <key>CheckOutWhenRemoved</key><false/>
      <key>Topic</key><string>com.apple.mgmt.External.&#x31;234 &amp; &lt;x&gt; &quot;q&quot; &apos;a&apos;</string>
      <key>Note</key><string><![CDATA[<not markup> & raw]]></string>
      <key>Empty</key><string/>
      <key>Ratio</key><real>0.5</real>
      <key>When</key><date>2026-01-01T00:00:00Z</date>
      <key>Blob</key><data>
        aGVsbG8g
        d29ybGQ=
      </data>
    </dict>
  </array>
  <key>PayloadType</key>
  <string>Configuration</string>
  <key>Nothing</key><dict/>
  <key>None</key><array/>
</dict>
</plist>
)";

plist::parse_result xml(const std::string& s, const plist::limits& l = {}) { return plist::parse_xml(s, l); }

std::string wrap(const std::string& inner) {
    return "<?xml version=\"1.0\"?><plist version=\"1.0\">" + inner + "</plist>";
}

}  // namespace

TEST_CASE("plist XML: an enrollment profile", "[probe][plist]") {
    auto r = xml(enrollment_xml);
    INFO(r.error);
    REQUIRE(r.ok);
    REQUIRE(r.root.type == plist::kind::dict);
    const plist::value* content = r.root.find("PayloadContent");
    REQUIRE(content != nullptr);
    REQUIRE(content->type == plist::kind::array);
    REQUIRE(content->array.size() == 1);
    const auto& mdm = content->array[0];
    CHECK(mdm.find("ServerURL")->text == "https://mdm.example.test/mdm/server");
    CHECK(mdm.find("AccessRights")->integer == 8191);
    CHECK(mdm.find("SignMessage")->boolean);
    CHECK_FALSE(mdm.find("CheckOutWhenRemoved")->boolean);
    CHECK(mdm.find("Topic")->text == "com.apple.mgmt.External.1234 & <x> \"q\" 'a'");
    CHECK(mdm.find("Note")->text == "<not markup> & raw");
    CHECK(mdm.find("Empty")->text.empty());
    CHECK(mdm.find("Ratio")->real == 0.5);
    CHECK(mdm.find("When")->type == plist::kind::date);
    CHECK(mdm.find("When")->text == "2026-01-01T00:00:00Z");
    CHECK(mdm.find("Blob")->text == "hello world");
    CHECK(r.root.find("Nothing")->type == plist::kind::dict);
    CHECK(r.root.find("None")->array.empty());
    CHECK(r.root.find("missing") == nullptr);
}

TEST_CASE("plist XML: character references and UTF-8", "[probe][plist]") {
    auto r = xml(wrap("<string>&#233;&#xE9;\xC3\xA9&#x1F600;</string>"));
    REQUIRE(r.ok);
    CHECK(r.root.text == "\xC3\xA9\xC3\xA9\xC3\xA9\xF0\x9F\x98\x80");
    auto bom = xml("\xEF\xBB\xBF" + wrap("<string>x</string>"));
    CHECK(bom.ok);
}

TEST_CASE("plist XML: malformed and hostile inputs are refused with a reason", "[probe][plist]") {
    struct bad {
        const char* label;
        std::string input;
        const char* reason;
    };
    const std::vector<bad> table = {
        {"internal subset (entity declaration)",
         "<?xml version=\"1.0\"?><!DOCTYPE plist [<!ENTITY x \"y\">]><plist><string>&x;</string></plist>",
         "internal subset"},
        {"billion laughs", R"(<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><plist><string>&lol2;</string></plist>)",
         "internal subset"},
        {"external entity (XXE)", R"(<!DOCTYPE plist [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><plist><string>&xxe;</string></plist>)",
         "internal subset"},
        {"bare ENTITY declaration", "<!ENTITY x \"y\"><plist><string/></plist>", "markup declarations"},
        {"unknown entity", wrap("<string>&nbsp;</string>"), "unknown entity &nbsp;"},
        {"unterminated entity", wrap("<string>&amp</string>"), "entity"},
        {"NUL character reference", wrap("<string>&#0;</string>"), "invalid character reference"},
        {"surrogate character reference", wrap("<string>&#xD800;</string>"), "invalid character reference"},
        {"character reference beyond Unicode", wrap("<string>&#x110000;</string>"), "invalid character reference"},
        {"malformed character reference", wrap("<string>&#xZZ;</string>"), "malformed character reference"},
        {"UTF-16", std::string("\xFE\xFF\x00<", 4), "UTF-16"},
        {"wrong root", "<dict></dict>", "root element is <dict>"},
        {"two DOCTYPEs", "<!DOCTYPE plist><!DOCTYPE plist><plist><string/></plist>", "unexpected DOCTYPE"},
        {"content after </plist>", wrap("<string/>") + "<string/>", "content after </plist>"},
        {"two top-level values", wrap("<string/><string/>"), "expected </plist>"},
        {"unknown element", wrap("<script>x</script>"), "unknown element <script>"},
        {"key outside dict", wrap("<key>x</key>"), "<key> outside a <dict>"},
        {"key without value", wrap("<dict><key>a</key></dict>"), "without a value"},
        {"value without key", wrap("<dict><string>a</string></dict>"), "expected <key>"},
        {"element inside string", wrap("<string>a<b/>c</string>"), "unexpected markup"},
        {"unterminated string", "<plist><string>abc", "unterminated <string>"},
        {"unterminated comment", "<plist><!-- x", "unterminated comment"},
        {"unterminated CDATA", wrap("<string><![CDATA[x</string>"), "unterminated CDATA"},
        {"mismatched end tag", wrap("<array></dict>"), "expected </array>"},
        {"bad integer", wrap("<integer>12a</integer>"), "invalid <integer>"},
        {"integer overflow", wrap("<integer>9223372036854775808</integer>"), "invalid <integer>"},
        {"bad real", wrap("<real>one</real>"), "invalid <real>"},
        {"bad base64", wrap("<data>!!!!</data>"), "invalid base64"},
        {"attribute without quotes", "<plist version=1.0><string/></plist>", "unquoted attribute"},
        {"empty input", "", "unexpected end of input"},
        {"text only", "hello", "expected an element"},
        {"NUL in text", wrap(std::string("<string>a\0b</string>", 20)), "NUL"},
    };
    for (const auto& b : table) {
        DYNAMIC_SECTION(b.label) {
            auto r = xml(b.input);
            CHECK_FALSE(r.ok);
            CHECK_THAT(r.error, Catch::Contains(b.reason));
            CHECK_THAT(r.error, Catch::StartsWith("line "));
        }
    }
}

TEST_CASE("plist XML: limits on size, depth and node count", "[probe][plist]") {
    plist::limits l;
    l.max_bytes = 64;
    CHECK_THAT(xml(wrap("<string>" + std::string(100, 'a') + "</string>"), l).error, Catch::Contains("limit 64"));

    std::string deep;
    for (int i = 0; i < 70; ++i) deep += "<array>";
    for (int i = 0; i < 70; ++i) deep += "</array>";
    auto r = xml(wrap(deep));
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("nesting deeper than 64"));

    std::string ok_depth;
    for (int i = 0; i < 64; ++i) ok_depth += "<array>";
    for (int i = 0; i < 64; ++i) ok_depth += "</array>";
    CHECK(xml(wrap(ok_depth)).ok);

    plist::limits few;
    few.max_nodes = 10;
    std::string many = "<array>";
    for (int i = 0; i < 20; ++i) many += "<true/>";
    many += "</array>";
    CHECK_THAT(xml(wrap(many), few).error, Catch::Contains("more than 10 values"));
}

TEST_CASE("plist XML: every truncation of a profile is refused cleanly", "[probe][plist]") {
    for (std::size_t n = 0; n < enrollment_xml.size(); ++n) {
        const std::string_view cut = std::string_view(enrollment_xml).substr(0, n);
        auto r = plist::parse_xml(cut);
        // Only the whole document (up to trailing whitespace) parses.
        if (r.ok) CHECK(cut.find("</plist>") != std::string_view::npos);
        else CHECK_FALSE(r.error.empty());
    }
}

// ---- binary ------------------------------------------------------------------------------------

TEST_CASE("plist binary: round trip of a profile-shaped tree", "[probe][plist]") {
    auto x = xml(enrollment_xml);
    REQUIRE(x.ok);
    bplist_builder b;
    const auto top = b.encode(x.root);
    b.ref_size = 1;
    auto bin = plist::parse_binary(b.build(top));
    INFO(bin.error);
    REQUIRE(bin.ok);
    const auto& mdm = bin.root.find("PayloadContent")->array.at(0);
    CHECK(mdm.find("ServerURL")->text == "https://mdm.example.test/mdm/server");
    CHECK(mdm.find("AccessRights")->integer == 8191);
    CHECK(mdm.find("SignMessage")->boolean);
    CHECK(mdm.find("Ratio")->real == 0.5);
    CHECK(mdm.find("Blob")->text == "hello world");
    CHECK(plist::parse(b.build(top)).ok);  // auto-detected
    CHECK(plist::format_name(b.build(top)) == "binary plist");
}

TEST_CASE("plist binary: UTF-16 strings, negative integers, wide references", "[probe][plist]") {
    bplist_builder b;
    b.ref_size = 2;
    b.offset_size = 4;
    const auto k1 = b.str("u");
    const auto v1 = b.utf16({0x0068, 0x00E9, 0xD83D, 0xDE00, 0xDC00});  // h, é, 😀, lone low surrogate
    const auto k2 = b.str("n");
    const auto v2 = b.integer(-5);
    const auto top = b.dict({{k1, v1}, {k2, v2}});
    auto r = plist::parse_binary(b.build(top));
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.root.find("u")->text == "h\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBD");
    CHECK(r.root.find("n")->integer == -5);
}

TEST_CASE("plist binary: malformed and hostile inputs are refused with a reason", "[probe][plist]") {
    struct bad {
        const char* label;
        std::string input;
        const char* reason;
    };
    std::vector<bad> table;
    auto simple = [] {
        bplist_builder b;
        const auto k = b.str("ServerURL");
        const auto v = b.str("https://mdm.example.test/");
        return std::pair{b, b.dict({{k, v}})};
    };
    {
        auto [b, top] = simple();
        std::string good = b.build(top);
        REQUIRE(plist::parse_binary(good).ok);
        table.push_back({"wrong magic", "bplist01" + good.substr(8), "not a bplist00"});
        table.push_back({"too short", "bplist00", "too short"});
        table.push_back({"offset size 0", b.build(top, {.offset_size = 0}), "offset size 0"});
        table.push_back({"reference size 9", b.build(top, {.ref_size = 9}), "reference size 9"});
        table.push_back({"no objects", b.build(top, {.num_objects = 0}), "no objects"});
        table.push_back({"top object out of range", b.build(top, {.top = 7}), "top object 7"});
        table.push_back({"offset table past the end", b.build(top, {.table_offset = 1 << 20}), "offset table outside"});
        table.push_back({"offset table inside the header", b.build(top, {.table_offset = 2}), "offset table outside"});
        table.push_back({"object count larger than the table", b.build(top, {.num_objects = 1000}), "runs past the trailer"});
        table.push_back({"huge object count", b.build(top, {.num_objects = INT64_MAX}), "runs past the trailer"});
    }
    {
        bplist_builder b;
        const auto a = b.reserve();
        b.set(a, b.array_bytes({a}));  // an array containing itself
        table.push_back({"array containing itself", b.build(a), "reference cycle"});
    }
    {
        bplist_builder b;
        const auto k = b.str("k");
        const auto d = b.reserve();
        const auto a = b.array({d});
        b.set(d, b.dict_bytes({{k, a}}));  // dict -> array -> dict
        table.push_back({"two-object cycle", b.build(d), "reference cycle"});
    }
    {
        bplist_builder b;
        const auto s = b.str("x");
        table.push_back({"reference beyond the object count", b.build(b.array({s, 9})), "reference to object 9"});
    }
    {
        bplist_builder b;
        const auto k = b.integer(1);
        const auto v = b.str("x");
        table.push_back({"non-string dictionary key", b.build(b.dict({{k, v}})), "dictionary key is not a string"});
    }
    {
        bplist_builder b;
        table.push_back({"string longer than the file", b.build(b.raw(bplist_builder::head(0x5, 1000) + "abc")),
                         "runs past the object area"});
        bplist_builder c;
        table.push_back({"array count larger than the file", c.build(c.raw(bplist_builder::head(0xA, 1ull << 40))),
                         "runs past the object area"});
        bplist_builder d;
        table.push_back({"128-bit integer", d.build(d.raw(std::string("\x14") + std::string(16, '\0'))), "wider than 64 bits"});
        bplist_builder e;
        table.push_back({"unknown marker", e.build(e.raw("\x70")), "unsupported marker 0x70"});
        bplist_builder g;
        table.push_back({"null object", g.build(g.raw(std::string(1, '\0'))), "unsupported marker 0x00"});
        bplist_builder h;
        table.push_back({"malformed count", h.build(h.raw("\x5F\x55")), "malformed count"});
        bplist_builder t;
        table.push_back({"truncated integer", t.build(t.raw("\x13\x01")), "truncated integer"});
    }
    {
        // Exponential expansion: each level is an array referencing the level below twice.
        bplist_builder b;
        auto prev = b.str("x");
        for (int i = 0; i < 40; ++i) prev = b.array({prev, prev});
        table.push_back({"shared references expanding exponentially", b.build(prev), "more than"});
    }
    {
        // Strings shared many times: bounded by the expanded-bytes budget too.
        bplist_builder b;
        const auto big = b.str(std::string(60000, 'a'));
        std::vector<std::size_t> refs(2000, big);
        b.ref_size = 2;
        table.push_back({"one large string referenced 2000 times", b.build(b.array(refs)), "bytes of strings and data"});
    }
    {
        bplist_builder b;
        std::size_t prev = b.str("x");
        for (int i = 0; i < 70; ++i) prev = b.array({prev});
        table.push_back({"nesting deeper than 64", b.build(prev), "nesting deeper than 64"});
    }
    for (const auto& t : table) {
        DYNAMIC_SECTION(t.label) {
            auto r = plist::parse_binary(t.input);
            CHECK_FALSE(r.ok);
            CHECK_THAT(r.error, Catch::Contains(t.reason));
        }
    }
}

TEST_CASE("plist binary: every truncation and random mutations never crash", "[probe][plist]") {
    auto x = xml(enrollment_xml);
    REQUIRE(x.ok);
    bplist_builder b;
    const std::string good = b.build(b.encode(x.root));
    for (std::size_t n = 0; n < good.size(); ++n) CHECK_FALSE(plist::parse_binary(good.substr(0, n)).ok);

    std::mt19937 rng(20260101);
    std::size_t parsed = 0;
    for (int i = 0; i < 5000; ++i) {
        std::string m = good;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) m[8 + rng() % (m.size() - 8)] = static_cast<char>(rng() & 0xFF);
        auto r = plist::parse_binary(m);
        if (r.ok) ++parsed;
        else CHECK_FALSE(r.error.empty());
    }
    SUCCEED("mutants that still parsed: " << parsed);

    for (int i = 0; i < 3000; ++i) {
        std::string m = enrollment_xml;
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; ++e) m[rng() % m.size()] = "<>&;/![]\"'#x0 a"[rng() % 15];
        auto r = plist::parse_xml(m);
        if (!r.ok) CHECK_FALSE(r.error.empty());
    }
}
