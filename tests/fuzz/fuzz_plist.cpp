// Fuzz target: probe::plist readers (XML and bplist00) and probe::extract_urls. Profiles come from
// anywhere (`atsgate probe` reads them from files and servers), so both readers are hostile-input
// parsers.
//
// Input: a property list (XML or binary; parse() picks by the "bplist" magic). Each input is read
// - by parse() with the default limits, and by the reader parse() did not pick (both must cope
//   with anything);
// - with tight limits derived from the last byte (depth 1..8, 1..64 nodes, 0..255 text bytes).
// Checks: ok <=> no error text; a failed parse leaves a default root; a parsed tree respects the
// limits it was parsed with (depth, node count, and for binary plists the text budget); tight
// limits never turn a failure into success; value::find() returns the first entry of a dict;
// extract_urls() on every tree returns only http(s) URL strings with consistent flags.

#include "fuzz_check.hpp"

#include "proxy/probe/plist.hpp"
#include "proxy/probe/profile.hpp"

#include <string>

namespace plist = atsgate::probe::plist;

namespace {

struct shape {
    int depth = 0;          // container nesting (a scalar root: 0)
    std::size_t nodes = 0;  // values, keys of dicts not counted
    std::size_t text = 0;   // bytes of strings, data and keys
};

void measure(const plist::value& v, int depth, shape& s) {
    ++s.nodes;
    if (v.type == plist::kind::dict || v.type == plist::kind::array) {
        if (depth + 1 > s.depth) s.depth = depth + 1;
    } else {
        FUZZ_CHECK(v.array.empty() && v.dict.empty(), "scalar with children");
    }
    if (v.type == plist::kind::string || v.type == plist::kind::data) s.text += v.text.size();
    for (const auto& e : v.array) measure(e, depth + 1, s);
    for (const auto& e : v.dict) {
        s.text += e.key.size();
        measure(e.val, depth + 1, s);
    }
    if (v.type == plist::kind::dict) {
        FUZZ_CHECK(v.array.empty(), "dict with array elements");
        // Quadratic: only on small dicts (expanded binary DAGs can hold huge ones).
        if (v.dict.size() <= 64)
        for (const auto& e : v.dict) {
            const plist::value* f = v.find(e.key);
            FUZZ_CHECK(f != nullptr, "find() misses a key");
            // The first entry with that key.
            for (const auto& g : v.dict)
                if (g.key == e.key) {
                    FUZZ_CHECK(f == &g.val, "find() is not the first entry");
                    break;
                }
        }
    } else {
        FUZZ_CHECK(v.find("") == nullptr, "find() on a non-dict");
    }
}

bool istarts(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        if (c != p[i]) return false;
    }
    return true;
}

void check_urls(const plist::value& root) {
    for (const auto& u : atsgate::probe::extract_urls(root)) {
        FUZZ_CHECK(u.https == istarts(u.url, "https://"), "https flag for %s", u.url.c_str());
        FUZZ_CHECK(u.https || istarts(u.url, "http://"), "not a URL: %s", u.url.c_str());
        FUZZ_CHECK(!(u.https && u.scep_exempt), "https URL marked SCEP-exempt");
        FUZZ_CHECK(u.https || u.invalid.empty(), "http URL with an invalid reason");
    }
}

// Parses with `l` and checks the result against `l`; returns ok.
bool check(const plist::parse_result& r, const plist::limits& l, bool binary) {
    FUZZ_CHECK(r.ok == r.error.empty(), "ok=%d with error \"%s\"", r.ok, r.error.c_str());
    if (!r.ok) {
        FUZZ_CHECK(r.root.type == plist::kind::string && r.root.text.empty() && r.root.array.empty() &&
                       r.root.dict.empty(),
                   "failed parse left a root behind");
        return false;
    }
    shape s;
    measure(r.root, 0, s);
    FUZZ_CHECK(s.depth <= l.max_depth, "depth %d over %d", s.depth, l.max_depth);
    FUZZ_CHECK(s.nodes <= l.max_nodes, "%zu nodes over %zu", s.nodes, l.max_nodes);
    if (binary) FUZZ_CHECK(s.text <= l.max_text_bytes, "%zu text bytes over %zu", s.text, l.max_text_bytes);
    check_urls(r.root);
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const bool binary = in.substr(0, 6) == "bplist";
    FUZZ_CHECK(plist::format_name(in) == (binary ? "binary plist" : "XML plist"), "format_name");

    const plist::limits defaults;
    const bool ok = check(plist::parse(in, defaults), defaults, binary);
    check(binary ? plist::parse_xml(in, defaults) : plist::parse_binary(in, defaults), defaults, !binary);

    const std::uint8_t t = size > 0 ? data[size - 1] : 0;
    plist::limits tight;
    tight.max_depth = 1 + (t & 7);
    tight.max_nodes = 1 + ((t >> 3) & 63u);
    tight.max_text_bytes = t;
    const bool tight_ok = check(plist::parse(in, tight), tight, binary);
    FUZZ_CHECK(ok || !tight_ok, "tight limits accepted what the defaults refused");
    return 0;
}
