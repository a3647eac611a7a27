#pragma once
// Property lists as found in configuration profiles (.mobileconfig): a minimal reader for the XML
// form and for the binary form (bplist00). Pure: bytes in, a value tree or an error out; no I/O.
//
// Both readers treat their input as hostile (a profile may come from anywhere):
// - XML: only the plist subset (plist, dict, key, array, string, integer, real, true, false, date,
//   data), the five predefined entities and numeric character references, CDATA and comments.
//   A DOCTYPE is allowed only without an internal subset, and its external identifiers are never
//   fetched; entity declarations and unknown entities are errors (no XXE, no "billion laughs").
// - binary: every offset, count and reference is bounds-checked against the object area, the
//   offset table and the trailer; a reference cycle is an error; shared references (a DAG) are
//   expanded under a node budget, so a small file cannot expand exponentially.
// - both: input size, nesting depth and node count are bounded (limits below), and the recursion
//   depth of the readers and of the resulting tree is at most limits::max_depth.
// Format references: Apple's PropertyList-1.0.dtd; CFBinaryPList.c (bplist00 layout).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::probe::plist {

enum class kind {
    dict,     // dict: ordered (key, value) entries
    array,    // array (a binary plist's set is read as an array)
    string,   // text: UTF-8
    integer,  // integer (a binary plist's UID is read as an integer too)
    real,     // real
    boolean,  // boolean
    date,     // text: ISO 8601 as written (XML) or rendered "YYYY-MM-DDTHH:MM:SSZ" (binary)
    data,     // text: the decoded bytes
};

struct dict_entry;

struct value {
    kind type = kind::string;
    std::string text;          // string, date, data
    std::int64_t integer = 0;  // integer
    double real = 0;           // real
    bool boolean = false;      // boolean
    std::vector<value> array;  // array
    std::vector<dict_entry> dict;  // dict, in file order (duplicate keys are kept)

    // The first entry of a dict with this key, or null (also null when this is not a dict).
    const value* find(std::string_view key) const noexcept;
};

struct dict_entry {
    std::string key;
    value val;
};

struct limits {
    std::size_t max_bytes = 16u << 20;  // input size
    int max_depth = 64;                 // nesting of dict/array
    std::size_t max_nodes = 1u << 18;   // values in the tree (after expanding shared references)
    std::size_t max_text_bytes = 64u << 20;  // binary: string and data bytes after expanding shared references
};

struct parse_result {
    bool ok = false;
    value root;         // valid when ok
    std::string error;  // when !ok: "line 3, column 7: ..." (XML) or "object 12: ..." (binary)
};

// Parses an XML property list (UTF-8, optional BOM). The root element must be <plist>.
parse_result parse_xml(std::string_view input, const limits& l = {});
// Parses a binary property list ("bplist00").
parse_result parse_binary(std::string_view input, const limits& l = {});
// Binary when the input starts with "bplist", XML otherwise.
parse_result parse(std::string_view input, const limits& l = {});

// "XML plist" / "binary plist" for the format parse() would pick.
std::string_view format_name(std::string_view input) noexcept;

}  // namespace atsgate::probe::plist
