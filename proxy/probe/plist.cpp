#include "proxy/probe/plist.hpp"

#include "tls/civil_time.hpp"
#include "util/hex.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace atsgate::probe::plist {

const value* value::find(std::string_view key) const noexcept {
    if (type != kind::dict) return nullptr;
    for (const auto& e : dict)
        if (e.key == key) return &e.val;
    return nullptr;
}

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Signed decimal (optionally "0x" hex, as CFPropertyList accepts) into int64; false on overflow/junk.
bool parse_integer(std::string_view s, std::int64_t& out) {
    s = trim(s);
    bool neg = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        neg = s.front() == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    if (s.empty()) return false;
    std::uint64_t mag = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), mag, base);
    if (ec != std::errc{} || p != s.data() + s.size()) return false;
    if (neg) {
        if (mag > static_cast<std::uint64_t>(INT64_MAX) + 1) return false;
        out = mag == static_cast<std::uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<std::int64_t>(mag);
    } else {
        if (mag > static_cast<std::uint64_t>(INT64_MAX)) return false;
        out = static_cast<std::int64_t>(mag);
    }
    return true;
}

bool parse_real(std::string_view s, double& out) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

// Standard base64 with whitespace ignored (plist <data> is wrapped); padding optional at the end.
bool decode_base64(std::string_view s, std::string& out) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::uint32_t acc = 0;
    int bits = 0;
    bool padding = false;
    for (char c : s) {
        if (is_space(c)) continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        if (padding) return false;  // data after padding
        int v = val(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return true;
}

// ---- XML ---------------------------------------------------------------------------------------

class xml_reader {
public:
    xml_reader(std::string_view in, const limits& l) : s_(in), l_(l) {}

    parse_result run() {
        parse_result r;
        if (s_.size() > l_.max_bytes) {
            r.error = "input is " + std::to_string(s_.size()) + " bytes (limit " + std::to_string(l_.max_bytes) + ")";
            return r;
        }
        if (s_.size() >= 2 && ((s_[0] == '\xFE' && s_[1] == '\xFF') || (s_[0] == '\xFF' && s_[1] == '\xFE'))) {
            r.error = "line 1, column 1: UTF-16 XML is not supported (convert the profile to UTF-8)";
            return r;
        }
        if (s_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;
        if (document(r.root)) {
            r.ok = true;
        } else {
            r.error = where() + error_;
            r.root = value{};
        }
        return r;
    }

private:
    std::string where() const {
        std::size_t line = 1, col = 1;
        for (std::size_t k = 0; k < err_at_ && k < s_.size(); ++k) {
            if (s_[k] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        return "line " + std::to_string(line) + ", column " + std::to_string(col) + ": ";
    }

    bool fail(std::string msg) {
        if (error_.empty()) {
            error_ = std::move(msg);
            err_at_ = i_;
        }
        return false;
    }

    bool at_end() const { return i_ >= s_.size(); }
    bool starts(std::string_view p) const { return s_.substr(i_, p.size()) == p; }
    void skip_space() {
        while (!at_end() && is_space(s_[i_])) ++i_;
    }

    // Skips up to and including `terminator`; error if it never comes.
    bool skip_past(std::string_view terminator, std::string_view what) {
        std::size_t at = s_.find(terminator, i_);
        if (at == std::string_view::npos) return fail("unterminated " + std::string(what));
        i_ = at + terminator.size();
        return true;
    }

    bool comment() {
        i_ += 4;  // "<!--"
        return skip_past("-->", "comment");
    }

    // <!DOCTYPE plist PUBLIC "..." "..."> is accepted and ignored; its identifiers are never
    // resolved. An internal subset ([...]) could declare entities: refused outright.
    bool doctype() {
        i_ += 9;  // "<!DOCTYPE"
        while (!at_end()) {
            char c = s_[i_];
            if (c == '>') {
                ++i_;
                return true;
            }
            if (c == '[') return fail("DOCTYPE with an internal subset is not allowed (entity declarations are refused)");
            if (c == '"' || c == '\'') {
                std::size_t end = s_.find(c, i_ + 1);
                if (end == std::string_view::npos) return fail("unterminated DOCTYPE");
                i_ = end + 1;
                continue;
            }
            ++i_;
        }
        return fail("unterminated DOCTYPE");
    }

    // Whitespace, comments and processing instructions (the XML declaration included).
    bool misc(bool allow_doctype, bool& seen_doctype) {
        for (;;) {
            skip_space();
            if (starts("<?")) {
                if (!skip_past("?>", "processing instruction")) return false;
            } else if (starts("<!--")) {
                if (!comment()) return false;
            } else if (starts("<!DOCTYPE")) {
                if (!allow_doctype || seen_doctype) return fail("unexpected DOCTYPE");
                seen_doctype = true;
                if (!doctype()) return false;
            } else if (starts("<!ENTITY") || starts("<!ELEMENT") || starts("<!ATTLIST")) {
                return fail("markup declarations are not allowed");
            } else {
                return true;
            }
        }
    }

    bool document(value& root) {
        bool seen_doctype = false;
        if (!misc(true, seen_doctype)) return false;
        std::string name;
        bool empty = false;
        if (!start_tag(name, empty)) return false;
        if (name != "plist") return fail("root element is <" + name + ">, expected <plist>");
        if (empty) return fail("empty <plist/>");
        if (!misc(false, seen_doctype)) return false;
        if (!element_value(root, 0)) return false;
        if (!misc(false, seen_doctype)) return false;
        if (!end_tag("plist")) return false;
        if (!misc(false, seen_doctype)) return false;
        if (!at_end()) return fail("content after </plist>");
        return true;
    }

    static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.' || c == ':';
    }

    // "<name attr='v' ...>" or "<name .../>". Attributes are syntax-checked and ignored.
    bool start_tag(std::string& name, bool& empty) {
        if (at_end() || s_[i_] != '<') return fail(at_end() ? "unexpected end of input" : "expected an element");
        ++i_;
        std::size_t b = i_;
        while (!at_end() && name_char(s_[i_])) ++i_;
        if (i_ == b) return fail("expected an element name");
        name.assign(s_.substr(b, i_ - b));
        for (;;) {
            bool had_space = !at_end() && is_space(s_[i_]);
            skip_space();
            if (at_end()) return fail("unterminated <" + name + ">");
            if (s_[i_] == '>') {
                ++i_;
                empty = false;
                return true;
            }
            if (starts("/>")) {
                i_ += 2;
                empty = true;
                return true;
            }
            if (!had_space) return fail("malformed tag <" + name + ">");
            std::size_t a = i_;
            while (!at_end() && name_char(s_[i_])) ++i_;
            if (i_ == a) return fail("malformed attribute in <" + name + ">");
            skip_space();
            if (at_end() || s_[i_] != '=') return fail("attribute without value in <" + name + ">");
            ++i_;
            skip_space();
            if (at_end() || (s_[i_] != '"' && s_[i_] != '\'')) return fail("unquoted attribute in <" + name + ">");
            char q = s_[i_];
            std::size_t end = s_.find(q, i_ + 1);
            if (end == std::string_view::npos) return fail("unterminated attribute in <" + name + ">");
            if (s_.substr(i_ + 1, end - i_ - 1).find('<') != std::string_view::npos)
                return fail("'<' in an attribute value");
            i_ = end + 1;
        }
    }

    bool end_tag(std::string_view name) {
        if (!starts("</")) return fail("expected </" + std::string(name) + ">");
        i_ += 2;
        if (s_.substr(i_, name.size()) != name) return fail("expected </" + std::string(name) + ">");
        i_ += name.size();
        skip_space();
        if (at_end() || s_[i_] != '>') return fail("malformed </" + std::string(name) + ">");
        ++i_;
        return true;
    }

    // "&amp;" etc. at i_ (pointing at '&'); appends the character.
    bool entity(std::string& out) {
        std::size_t semi = s_.find(';', i_);
        if (semi == std::string_view::npos || semi - i_ > 12) return fail("malformed entity reference");
        std::string_view ref = s_.substr(i_ + 1, semi - i_ - 1);
        if (ref == "amp") out += '&';
        else if (ref == "lt") out += '<';
        else if (ref == "gt") out += '>';
        else if (ref == "quot") out += '"';
        else if (ref == "apos") out += '\'';
        else if (!ref.empty() && ref[0] == '#') {
            std::string_view digits = ref.substr(1);
            int base = 10;
            if (!digits.empty() && digits[0] == 'x') {
                base = 16;
                digits.remove_prefix(1);
            }
            std::uint32_t cp = 0;
            auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, base);
            if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size())
                return fail("malformed character reference &" + std::string(ref) + ";");
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
                return fail("invalid character reference &" + std::string(ref) + ";");
            append_utf8(out, cp);
        } else {
            return fail("unknown entity &" + std::string(ref) + "; (entity declarations are not supported)");
        }
        i_ = semi + 1;
        return true;
    }

    // Character data up to "</name>" (consumed): entities decoded, CDATA copied, comments skipped,
    // any other markup refused.
    bool text(std::string_view name, std::string& out) {
        for (;;) {
            if (at_end()) return fail("unterminated <" + std::string(name) + ">");
            char c = s_[i_];
            if (c == '<') {
                if (starts("</")) return end_tag(name);
                if (starts("<![CDATA[")) {
                    std::size_t end = s_.find("]]>", i_ + 9);
                    if (end == std::string_view::npos) return fail("unterminated CDATA section");
                    out.append(s_.substr(i_ + 9, end - i_ - 9));
                    i_ = end + 3;
                    continue;
                }
                if (starts("<!--")) {
                    if (!comment()) return false;
                    continue;
                }
                return fail("unexpected markup inside <" + std::string(name) + ">");
            }
            if (c == '&') {
                if (!entity(out)) return false;
                continue;
            }
            if (c == '\0') return fail("NUL character");
            out += c;
            ++i_;
        }
    }

    bool count_node() {
        if (++nodes_ > l_.max_nodes) return fail("more than " + std::to_string(l_.max_nodes) + " values");
        return true;
    }

    bool element_value(value& v, int depth) {
        if (!count_node()) return false;
        std::string name;
        bool empty = false;
        if (!start_tag(name, empty)) return false;
        if (name == "dict" || name == "array") {
            if (depth >= l_.max_depth) return fail("nesting deeper than " + std::to_string(l_.max_depth));
            v.type = name == "dict" ? kind::dict : kind::array;
            if (empty) return true;
            bool unused = false;
            for (;;) {
                if (!misc(false, unused)) return false;
                if (starts("</")) return end_tag(name);
                if (v.type == kind::array) {
                    v.array.emplace_back();
                    if (!element_value(v.array.back(), depth + 1)) return false;
                    continue;
                }
                std::string kname;
                bool kempty = false;
                if (!start_tag(kname, kempty)) return false;
                if (kname != "key") return fail("expected <key> in <dict>, found <" + kname + ">");
                dict_entry e;
                if (!kempty && !text("key", e.key)) return false;
                if (!misc(false, unused)) return false;
                if (starts("</")) return fail("<key>" + e.key + "</key> without a value");
                if (!element_value(e.val, depth + 1)) return false;
                v.dict.push_back(std::move(e));
            }
        }
        if (name == "true" || name == "false") {
            v.type = kind::boolean;
            v.boolean = name == "true";
            return empty || end_tag(name);
        }
        std::string body;
        if (!empty && !text(name, body)) return false;
        if (name == "string") {
            v.type = kind::string;
            v.text = std::move(body);
        } else if (name == "integer") {
            v.type = kind::integer;
            if (!parse_integer(body, v.integer)) return fail("invalid <integer> \"" + body.substr(0, 40) + "\"");
        } else if (name == "real") {
            v.type = kind::real;
            if (!parse_real(body, v.real)) return fail("invalid <real> \"" + body.substr(0, 40) + "\"");
        } else if (name == "date") {
            v.type = kind::date;
            v.text = std::string(trim(body));
        } else if (name == "data") {
            v.type = kind::data;
            if (!decode_base64(body, v.text)) return fail("invalid base64 in <data>");
        } else if (name == "key") {
            return fail("<key> outside a <dict>");
        } else {
            return fail("unknown element <" + name + ">");
        }
        return true;
    }

    std::string_view s_;
    const limits& l_;
    std::size_t i_ = 0;
    std::size_t nodes_ = 0;
    std::string error_;
    std::size_t err_at_ = 0;
};

// ---- binary ------------------------------------------------------------------------------------

// "2001-01-01T00:00:00Z" + seconds, as ISO 8601 UTC.
std::string apple_date(double seconds_since_2001) {
    if (!std::isfinite(seconds_since_2001) || std::fabs(seconds_since_2001) > 1e13) return "invalid date";
    std::int64_t unix_s = static_cast<std::int64_t>(std::floor(seconds_since_2001)) + 978307200;
    std::int64_t days = unix_s >= 0 ? unix_s / 86400 : (unix_s - 86399) / 86400;
    std::int64_t secs = unix_s - days * 86400;
    const tls::civil_date c = tls::civil_from_days(days);
    char buf[160];  // sized for any long long values (the compiler cannot see the real ranges)
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", static_cast<long long>(c.year),
                  static_cast<long long>(c.month), static_cast<long long>(c.day), static_cast<long long>(secs / 3600),
                  static_cast<long long>((secs / 60) % 60), static_cast<long long>(secs % 60));
    return buf;
}

class binary_reader {
public:
    binary_reader(std::string_view in, const limits& l) : s_(in), l_(l) {}

    parse_result run() {
        parse_result r;
        if (s_.size() > l_.max_bytes) {
            r.error = "input is " + std::to_string(s_.size()) + " bytes (limit " + std::to_string(l_.max_bytes) + ")";
            return r;
        }
        if (!trailer() || !object(top_, r.root, 0)) {
            r.error = error_;
            r.root = value{};
            return r;
        }
        r.ok = true;
        return r;
    }

private:
    static constexpr std::size_t header_size = 8;
    static constexpr std::size_t trailer_size = 32;

    bool fail(std::string msg) {
        if (error_.empty()) error_ = std::move(msg);
        return false;
    }
    bool fail_at(std::uint64_t obj, const std::string& msg) { return fail("object " + std::to_string(obj) + ": " + msg); }

    // Big-endian unsigned of n (1..8) bytes at off, within [0, end).
    bool be(std::uint64_t off, std::size_t n, std::uint64_t end, std::uint64_t& out) const {
        if (n == 0 || n > 8 || off > end || end - off < n) return false;
        out = 0;
        for (std::size_t k = 0; k < n; ++k) out = (out << 8) | static_cast<unsigned char>(s_[off + k]);
        return true;
    }

    bool trailer() {
        if (s_.size() < header_size + trailer_size + 1) return fail("too short for a binary plist");
        if (s_.substr(0, 8) != "bplist00") return fail("not a bplist00 file");
        const std::uint64_t t = s_.size() - trailer_size;
        offset_size_ = static_cast<unsigned char>(s_[t + 6]);
        ref_size_ = static_cast<unsigned char>(s_[t + 7]);
        std::uint64_t n = 0, top = 0, table = 0;
        be(t + 8, 8, s_.size(), n);
        be(t + 16, 8, s_.size(), top);
        be(t + 24, 8, s_.size(), table);
        if (offset_size_ < 1 || offset_size_ > 8) return fail("trailer: offset size " + std::to_string(offset_size_));
        if (ref_size_ < 1 || ref_size_ > 8) return fail("trailer: reference size " + std::to_string(ref_size_));
        if (n == 0) return fail("trailer: no objects");
        if (table < header_size || table >= t) return fail("trailer: offset table outside the file");
        if (n > (t - table) / offset_size_) return fail("trailer: offset table runs past the trailer");
        if (top >= n) return fail("trailer: top object " + std::to_string(top) + " of " + std::to_string(n));
        num_objects_ = n;
        top_ = top;
        table_ = table;
        in_progress_.assign(static_cast<std::size_t>(n), false);
        return true;
    }

    bool offset_of(std::uint64_t obj, std::uint64_t& off) {
        if (!be(table_ + obj * offset_size_, offset_size_, s_.size() - trailer_size, off))
            return fail_at(obj, "offset unreadable");
        if (off < header_size || off >= table_) return fail_at(obj, "offset outside the object area");
        return true;
    }

    // Count for a marker whose low nibble is `low` at `off`; `pos` advances past it.
    bool count(std::uint64_t obj, unsigned low, std::uint64_t& pos, std::uint64_t& out) {
        if (low != 0xF) {
            out = low;
            return true;
        }
        if (pos >= table_) return fail_at(obj, "truncated count");
        unsigned char m = static_cast<unsigned char>(s_[pos]);
        if ((m >> 4) != 0x1 || (m & 0xF) > 3) return fail_at(obj, "malformed count");
        std::size_t n = std::size_t{1} << (m & 0xF);
        if (!be(pos + 1, n, table_, out)) return fail_at(obj, "truncated count");
        pos += 1 + n;
        return true;
    }

    // `count` elements of `size` bytes at pos must fit before the offset table.
    bool fits(std::uint64_t obj, std::uint64_t pos, std::uint64_t n, std::uint64_t size) {
        if (pos > table_ || (size != 0 && n > (table_ - pos) / size)) return fail_at(obj, "runs past the object area");
        return true;
    }

    // Shared references copy strings and data each time they are expanded: bound the total.
    bool spend(std::uint64_t bytes) {
        if (bytes > l_.max_text_bytes - text_bytes_) {
            return fail("more than " + std::to_string(l_.max_text_bytes) + " bytes of strings and data");
        }
        text_bytes_ += bytes;
        return true;
    }

    bool ref(std::uint64_t obj, std::uint64_t at, std::uint64_t& out) {
        if (!be(at, ref_size_, table_, out)) return fail_at(obj, "truncated reference");
        if (out >= num_objects_) return fail_at(obj, "reference to object " + std::to_string(out) + " of " +
                                                         std::to_string(num_objects_));
        return true;
    }

    bool object(std::uint64_t obj, value& v, int depth) {
        if (++nodes_ > l_.max_nodes) return fail("more than " + std::to_string(l_.max_nodes) + " values");
        if (in_progress_[obj]) return fail_at(obj, "reference cycle");
        std::uint64_t off = 0;
        if (!offset_of(obj, off)) return false;
        in_progress_[obj] = true;
        bool ok = decode(obj, off, v, depth);
        in_progress_[obj] = false;
        return ok;
    }

    bool decode(std::uint64_t obj, std::uint64_t off, value& v, int depth) {
        const unsigned char marker = static_cast<unsigned char>(s_[off]);
        const unsigned hi = marker >> 4, lo = marker & 0xF;
        std::uint64_t pos = off + 1;
        switch (hi) {
            case 0x0:
                if (marker == 0x08 || marker == 0x09) {
                    v.type = kind::boolean;
                    v.boolean = marker == 0x09;
                    return true;
                }
                return fail_at(obj, "unsupported marker 0x" + hex(marker));
            case 0x1: {
                if (lo > 3) return fail_at(obj, "integers wider than 64 bits are not supported");
                std::size_t n = std::size_t{1} << lo;
                std::uint64_t u = 0;
                if (!be(pos, n, table_, u)) return fail_at(obj, "truncated integer");
                v.type = kind::integer;
                // 1-, 2- and 4-byte integers are unsigned; 8-byte ones are two's complement.
                v.integer = static_cast<std::int64_t>(u);
                return true;
            }
            case 0x2: {
                std::uint64_t u = 0;
                v.type = kind::real;
                if (lo == 2) {
                    if (!be(pos, 4, table_, u)) return fail_at(obj, "truncated real");
                    float f;
                    std::uint32_t u32 = static_cast<std::uint32_t>(u);
                    std::memcpy(&f, &u32, 4);
                    v.real = f;
                } else if (lo == 3) {
                    if (!be(pos, 8, table_, u)) return fail_at(obj, "truncated real");
                    std::memcpy(&v.real, &u, 8);
                } else {
                    return fail_at(obj, "unsupported real size");
                }
                return true;
            }
            case 0x3: {
                std::uint64_t u = 0;
                if (lo != 3 || !be(pos, 8, table_, u)) return fail_at(obj, "malformed date");
                double d;
                std::memcpy(&d, &u, 8);
                v.type = kind::date;
                v.text = apple_date(d);
                return true;
            }
            case 0x4:
            case 0x5: {
                std::uint64_t n = 0;
                if (!count(obj, lo, pos, n) || !fits(obj, pos, n, 1)) return false;
                if (!spend(n)) return false;
                v.type = hi == 0x4 ? kind::data : kind::string;
                v.text.assign(s_.substr(pos, n));
                return true;
            }
            case 0x6: {
                std::uint64_t n = 0;
                if (!count(obj, lo, pos, n) || !fits(obj, pos, n, 2)) return false;
                if (!spend(3 * n)) return false;
                v.type = kind::string;
                utf16be(pos, n, v.text);
                return true;
            }
            case 0x8: {
                std::uint64_t u = 0;
                if (!be(pos, lo + 1, table_, u)) return fail_at(obj, "malformed UID");
                v.type = kind::integer;
                v.integer = static_cast<std::int64_t>(u);
                return true;
            }
            case 0xA:
            case 0xC:
            case 0xD: {
                if (depth >= l_.max_depth) return fail_at(obj, "nesting deeper than " + std::to_string(l_.max_depth));
                std::uint64_t n = 0;
                if (!count(obj, lo, pos, n)) return false;
                const bool is_dict = hi == 0xD;
                if (!fits(obj, pos, is_dict ? n : 0, 2ull * ref_size_) || !fits(obj, pos, n, ref_size_)) return false;
                // Elements are appended one by one (never resized to the declared count), so memory
                // grows only with values actually decoded, which the node budget bounds.
                if (!is_dict) {
                    v.type = kind::array;
                    for (std::uint64_t k = 0; k < n; ++k) {
                        std::uint64_t r = 0;
                        if (!ref(obj, pos + k * ref_size_, r)) return false;
                        v.array.emplace_back();
                        if (!object(r, v.array.back(), depth + 1)) return false;
                    }
                    return true;
                }
                v.type = kind::dict;
                for (std::uint64_t k = 0; k < n; ++k) {
                    std::uint64_t kr = 0, vr = 0;
                    if (!ref(obj, pos + k * ref_size_, kr) || !ref(obj, pos + (n + k) * ref_size_, vr)) return false;
                    value key;
                    if (!object(kr, key, depth + 1)) return false;
                    if (key.type != kind::string) return fail_at(obj, "dictionary key is not a string");
                    v.dict.emplace_back();
                    v.dict.back().key = std::move(key.text);
                    if (!object(vr, v.dict.back().val, depth + 1)) return false;
                }
                return true;
            }
            default:
                return fail_at(obj, "unsupported marker 0x" + hex(marker));
        }
    }

    // UTF-16BE code units -> UTF-8; unpaired surrogates become U+FFFD.
    void utf16be(std::uint64_t pos, std::uint64_t n, std::string& out) const {
        auto unit = [&](std::uint64_t k) {
            return static_cast<std::uint32_t>((static_cast<unsigned char>(s_[pos + 2 * k]) << 8) |
                                              static_cast<unsigned char>(s_[pos + 2 * k + 1]));
        };
        for (std::uint64_t k = 0; k < n; ++k) {
            std::uint32_t u = unit(k);
            if (u >= 0xD800 && u <= 0xDBFF && k + 1 < n) {
                std::uint32_t low = unit(k + 1);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
                    ++k;
                    continue;
                }
            }
            if (u >= 0xD800 && u <= 0xDFFF) u = 0xFFFD;
            append_utf8(out, u);
        }
    }

    static std::string hex(unsigned v) {
        std::string out;
        util::append_hex(out, static_cast<std::uint8_t>(v & 0xFFu), util::hex_case::upper);
        return out;
    }

    std::string_view s_;
    const limits& l_;
    unsigned offset_size_ = 0, ref_size_ = 0;
    std::uint64_t num_objects_ = 0, top_ = 0, table_ = 0;
    std::vector<bool> in_progress_;
    std::size_t nodes_ = 0;
    std::uint64_t text_bytes_ = 0;
    std::string error_;
};

}  // namespace

parse_result parse_xml(std::string_view input, const limits& l) { return xml_reader(input, l).run(); }

parse_result parse_binary(std::string_view input, const limits& l) { return binary_reader(input, l).run(); }

std::string_view format_name(std::string_view input) noexcept {
    return input.substr(0, 6) == "bplist" ? "binary plist" : "XML plist";
}

parse_result parse(std::string_view input, const limits& l) {
    return input.substr(0, 6) == "bplist" ? parse_binary(input, l) : parse_xml(input, l);
}

}  // namespace atsgate::probe::plist
