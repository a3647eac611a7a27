#pragma once
// Shared fixtures for the probe unit tests: a fixed clock and test PKI, builders for handshake and
// target facts (a compliant baseline that rows mutate one aspect of), and a binary-plist builder
// able to write well-formed and deliberately hostile bplist00 files.

#include "proxy/probe/facts.hpp"
#include "proxy/probe/plist.hpp"
#include "tests/support/cert_factory.hpp"
#include "tls/cert_facts.hpp"

#include <openssl/tls1.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace atsgate::probe::testing {

// 2026-01-01T00:00:00Z: certificates are made relative to it and judged against it.
inline constexpr std::int64_t fixed_now = 1767225600;
inline constexpr std::int64_t day = 86400;
inline const std::string host = "mdm.example.test";

struct pki {
    test::cert_factory factory{fixed_now};
    test::test_cert root = factory.root_ca();
    test::test_cert inter = factory.intermediate(root);
    static const pki& get() {
        static const pki instance;
        return instance;
    }
};

// Chain facts as gather() records them: served chain verified against `roots`, no key.
inline tls::endpoint_facts endpoint_for(const std::vector<const test::test_cert*>& served,
                                        const std::vector<const test::test_cert*>& roots,
                                        const std::string& hostname = host) {
    auto store = test::store_of(roots);
    tls::verify_inputs in;
    in.trust = store.get();
    in.hostname = hostname;
    in.check_public_trust = false;
    tls::endpoint_facts ep;
    ep.name = "https://" + hostname + "/";
    ep.kind = "probe";
    ep.address = "192.0.2.10:443";
    ep.server_name = hostname;
    ep.cert_path = hostname + ":443";
    ep.trust_path = "/etc/ca.pem";
    ep.chain = tls::inspect_chain(test::chain_of(served), in);
    return ep;
}

// A compliant leaf spec for `host`, to tweak one property.
inline test::cert_spec leaf_spec() { return test::cert_factory::leaf_spec(host); }

inline tls::endpoint_facts endpoint_with_leaf(const test::cert_spec& spec) {
    const auto& p = pki::get();
    auto leaf = p.factory.make(spec, &p.inter);
    return endpoint_for({&leaf, &p.inter}, {&p.root});
}

inline handshake_facts ok_hs(int version, std::string cipher, bool ems = true, std::string group = "X25519") {
    handshake_facts h;
    h.attempted = true;
    h.ok = true;
    h.version = version;
    h.cipher = std::move(cipher);
    h.group = std::move(group);
    h.ems = version < TLS1_3_VERSION && ems;
    return h;
}

inline handshake_facts refused(int alert = 70) {
    handshake_facts h;
    h.attempted = true;
    h.alert = alert;
    h.error = alert == 70 ? "server sent alert \"protocol version\"" : "server sent alert \"handshake failure\"";
    return h;
}

inline handshake_facts timed_out() {
    handshake_facts h;
    h.attempted = true;
    h.timed_out = true;
    h.error = "timed out waiting for the server's handshake messages";
    return h;
}

inline handshake_facts skipped(std::string why = "skipped after an earlier handshake timed out") {
    handshake_facts h;
    h.skipped = std::move(why);
    return h;
}

// The facts of a compliant ECDSA server: TLS 1.2 + 1.3, the AES-GCM ECDSA suites, EMS, no
// static-RSA suites, a valid chain, port 80 closed, no redirect.
inline target_facts compliant() {
    target_facts f;
    std::string err;
    f.tgt = *parse_target("https://" + host + "/mdm", err);
    f.input = f.tgt.url();
    f.source = "command line";
    f.sni = host;
    f.hostname = host;
    f.resolved = {"192.0.2.10"};
    f.address = "192.0.2.10:443";
    f.connect_ms = 3;
    f.tls10 = refused();
    f.tls11 = refused();
    f.tls12 = ok_hs(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384");
    f.tls13 = ok_hs(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384");
    f.ats_default = ok_hs(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256");
    f.ats_default.alpn = "http/1.1";
    f.ats_tls13 = ok_hs(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256");
    f.ats_tls12 = ok_hs(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
    f.tls12_no_pfs = ok_hs(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
    for (const char* n : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"})
        f.suites.push_back({n, true, ok_hs(TLS1_3_VERSION, n)});
    for (const char* n : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"})
        f.suites.push_back({n, false, ok_hs(TLS1_2_VERSION, n)});
    for (const char* n : {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
                          "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256",
                          "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                          "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA"})
        f.suites.push_back({n, false, refused(40)});
    f.non_pfs_checked = true;
    const auto& p = pki::get();
    static const test::test_cert leaf = p.factory.leaf(p.inter, host);
    f.endpoint = endpoint_for({&leaf, &p.inter}, {&p.root});
    f.plaintext.checked = true;
    f.plaintext.port = 80;
    f.plaintext.connect_error = "Connection refused";
    f.redirect.checked = true;
    f.redirect.hops.push_back({f.tgt.url(), 200, "", ""});
    return f;
}

// Marks suite `name` accepted (or refused) in f.suites.
inline void set_suite(target_facts& f, const std::string& name, bool accepted) {
    for (auto& s : f.suites) {
        if (s.name != name) continue;
        s.hs = accepted ? ok_hs(s.tls13 ? TLS1_3_VERSION : TLS1_2_VERSION, name) : refused(40);
    }
}

// ---- binary plists ---------------------------------------------------------------------------

// Trailer fields to write instead of the correct ones (-1 = correct value).
struct trailer_override {
    int offset_size = -1, ref_size = -1;
    std::int64_t num_objects = -1, top = -1, table_offset = -1;
};

// Builds bplist00 files object by object. Objects are numbered in the order added; references use
// ref_size bytes, offsets offset_size bytes. build() lets a test override every trailer field.
class bplist_builder {
public:
    unsigned ref_size = 1;
    unsigned offset_size = 2;

    std::size_t raw(std::string bytes) {
        objs_.push_back(std::move(bytes));
        return objs_.size() - 1;
    }
    // Replaces object `i` (to build cycles: reserve, then refer to it, then set it).
    void set(std::size_t i, std::string bytes) { objs_.at(i) = std::move(bytes); }
    std::size_t reserve() { return raw(std::string(1, '\x00')); }

    // marker nibble + count (inline, or 0xF then an int object).
    static std::string head(unsigned hi, std::uint64_t n) {
        std::string out;
        if (n < 15) {
            out += static_cast<char>((hi << 4) | n);
        } else {
            out += static_cast<char>((hi << 4) | 0xF);
            out += '\x13';  // 8-byte int
            for (int k = 7; k >= 0; --k) out += static_cast<char>((n >> (8 * k)) & 0xFF);
        }
        return out;
    }
    std::string ref(std::uint64_t r) const {
        std::string out;
        for (int k = static_cast<int>(ref_size) - 1; k >= 0; --k) out += static_cast<char>((r >> (8 * k)) & 0xFF);
        return out;
    }

    std::size_t str(std::string_view ascii) { return raw(head(0x5, ascii.size()) + std::string(ascii)); }
    std::size_t utf16(const std::vector<std::uint16_t>& units) {
        std::string out = head(0x6, units.size());
        for (auto u : units) {
            out += static_cast<char>(u >> 8);
            out += static_cast<char>(u & 0xFF);
        }
        return raw(out);
    }
    std::size_t integer(std::int64_t v) {
        std::string out = "\x13";
        for (int k = 7; k >= 0; --k) out += static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * k)) & 0xFF);
        return raw(out);
    }
    std::size_t boolean(bool b) { return raw(std::string(1, b ? '\x09' : '\x08')); }
    std::size_t real(double d) {
        std::uint64_t u;
        std::memcpy(&u, &d, 8);
        std::string out = "\x23";
        for (int k = 7; k >= 0; --k) out += static_cast<char>((u >> (8 * k)) & 0xFF);
        return raw(out);
    }
    std::string array_bytes(const std::vector<std::size_t>& refs) const {
        std::string out = head(0xA, refs.size());
        for (auto r : refs) out += ref(r);
        return out;
    }
    std::size_t array(const std::vector<std::size_t>& refs) { return raw(array_bytes(refs)); }
    std::string dict_bytes(const std::vector<std::pair<std::size_t, std::size_t>>& kv) const {
        std::string out = head(0xD, kv.size());
        for (const auto& e : kv) out += ref(e.first);
        for (const auto& e : kv) out += ref(e.second);
        return out;
    }
    std::size_t dict(const std::vector<std::pair<std::size_t, std::size_t>>& kv) { return raw(dict_bytes(kv)); }

    // Adds `v` (children first) and returns its index.
    std::size_t encode(const plist::value& v) {
        switch (v.type) {
            case plist::kind::string: return str(v.text);
            case plist::kind::integer: return integer(v.integer);
            case plist::kind::boolean: return boolean(v.boolean);
            case plist::kind::real: return real(v.real);
            case plist::kind::data: return raw(head(0x4, v.text.size()) + v.text);
            case plist::kind::date: return str(v.text);
            case plist::kind::array: {
                std::vector<std::size_t> refs;
                for (const auto& e : v.array) refs.push_back(encode(e));
                return array(refs);
            }
            case plist::kind::dict: {
                std::vector<std::pair<std::size_t, std::size_t>> kv;
                for (const auto& e : v.dict) {
                    std::size_t k = str(e.key);
                    kv.push_back({k, encode(e.val)});
                }
                return dict(kv);
            }
        }
        return 0;
    }

    std::string build(std::size_t top, trailer_override o = {}) const {
        std::string out = "bplist00";
        std::vector<std::uint64_t> offsets;
        for (const auto& b : objs_) {
            offsets.push_back(out.size());
            out += b;
        }
        const std::uint64_t table = out.size();
        for (auto off : offsets)
            for (int k = static_cast<int>(offset_size) - 1; k >= 0; --k) out += static_cast<char>((off >> (8 * k)) & 0xFF);
        auto be8 = [&](std::uint64_t v) {
            for (int k = 7; k >= 0; --k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
        };
        out += std::string(6, '\0');
        out += static_cast<char>(o.offset_size >= 0 ? o.offset_size : static_cast<int>(offset_size));
        out += static_cast<char>(o.ref_size >= 0 ? o.ref_size : static_cast<int>(ref_size));
        be8(o.num_objects >= 0 ? static_cast<std::uint64_t>(o.num_objects) : objs_.size());
        be8(o.top >= 0 ? static_cast<std::uint64_t>(o.top) : top);
        be8(o.table_offset >= 0 ? static_cast<std::uint64_t>(o.table_offset) : table);
        return out;
    }

private:
    std::vector<std::string> objs_;
};

}  // namespace atsgate::probe::testing
