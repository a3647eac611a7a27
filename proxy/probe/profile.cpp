#include "proxy/probe/profile.hpp"

#include "proxy/http/message.hpp"
#include "tls/cert_facts.hpp"
#include "tls/ossl.hpp"

#include <openssl/cms.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace atsgate::probe {
namespace {

constexpr std::string_view scep_payload = "com.apple.security.scep";

std::string_view trim(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// key_path and payload_type are copied into every URL below them, and a binary plist may share
// one long key or PayloadType object among up to limits::max_nodes URLs: the reader charges its
// text budget once per expansion, these copies were not charged at all (a 120 kB file made 2.5 GB).
// Both are capped; real ones are a few dozen bytes. Found while writing tests/fuzz/fuzz_profile.
constexpr std::size_t max_label = 256;

std::string capped(std::string_view s) {
    if (s.size() <= max_label) return std::string(s);
    std::size_t n = max_label - 3;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // whole UTF-8 characters
    return std::string(s.substr(0, n)) + "...";
}

// Depth is bounded by the plist reader (limits::max_depth), so this recursion is too.
void walk(const plist::value& v, const std::string& path, const std::string& key, const std::string& payload_type,
          std::vector<profile_url>& out) {
    switch (v.type) {
        case plist::kind::dict: {
            std::string type = payload_type;
            if (const plist::value* t = v.find("PayloadType"); t != nullptr && t->type == plist::kind::string)
                type = capped(t->text);
            for (const auto& e : v.dict)
                walk(e.val, capped(path.empty() ? e.key : path + "." + e.key), e.key, type, out);
            return;
        }
        case plist::kind::array:
            for (std::size_t i = 0; i < v.array.size(); ++i)
                walk(v.array[i], capped(path + "[" + std::to_string(i) + "]"), key, payload_type, out);
            return;
        case plist::kind::string: {
            std::string_view s = trim(v.text);
            const bool https = http::starts_with_ci(s, "https://");
            if (!https && !http::starts_with_ci(s, "http://")) return;
            profile_url u;
            u.key_path = path;
            u.url = std::string(s);
            u.https = https;
            u.payload_type = payload_type;
            // Apple: "SCEP" is exempt from ATS (the CSR is signed and the response encrypted).
            u.scep_exempt = !https && payload_type == scep_payload && key == "URL";
            if (https) {
                std::string why;
                if (!parse_target(u.url, why)) u.invalid = why;  // e.g. an unexpanded "https://$SERVER/mdm"
            }
            out.push_back(std::move(u));
            return;
        }
        default:
            return;
    }
}

std::string subject_of(X509& cert) {
    return tls::inspect_certificate(cert).subject;
}

}  // namespace

std::vector<profile_url> extract_urls(const plist::value& root) {
    std::vector<profile_url> out;
    walk(root, "", "", "", out);
    return out;
}

bool looks_like_cms(std::string_view bytes) noexcept {
    std::string_view t = trim(bytes);
    return (!bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x30) || t.substr(0, 11) == "-----BEGIN ";
}

std::optional<cms_content> unwrap_cms(std::string_view bytes, std::string& error) {
    ERR_clear_error();
    auto bio = ossl::own(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    if (!bio) {
        error = "CMS: cannot create a memory BIO: " + ossl::drain_reason();
        return std::nullopt;
    }
    const bool pem = trim(bytes).substr(0, 11) == "-----BEGIN ";
    // PEM_read_bio_CMS accepts both "-----BEGIN CMS-----" and "-----BEGIN PKCS7-----".
    auto cms = ossl::own(pem ? PEM_read_bio_CMS(bio.get(), nullptr, nullptr, nullptr) : d2i_CMS_bio(bio.get(), nullptr));
    if (!cms) {
        error = "CMS: not a readable CMS/PKCS#7 structure: " + ossl::drain_reason();
        return std::nullopt;
    }
    if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
        error = "CMS: not SignedData (only signed profiles can be unwrapped)";
        ossl::drain_errors();
        return std::nullopt;
    }
    ASN1_OCTET_STRING** content = CMS_get0_content(cms.get());
    if (content == nullptr || *content == nullptr) {
        error = "CMS: detached signature, the profile content is not embedded";
        ossl::drain_errors();
        return std::nullopt;
    }
    cms_content out;
    out.content.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*content)),
                       static_cast<std::size_t>(ASN1_STRING_length(*content)));

    // Signer subjects: match each SignerInfo against the embedded certificates (no trust needed).
    auto certs = ossl::own(CMS_get1_certs(cms.get()));
    STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
    for (int i = 0; infos != nullptr && i < sk_CMS_SignerInfo_num(infos); ++i) {
        CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, i);
        for (int k = 0; certs && k < sk_X509_num(certs.get()); ++k) {
            X509* c = sk_X509_value(certs.get(), k);
            if (CMS_SignerInfo_cert_cmp(si, c) == 0) {
                out.signers.push_back(subject_of(*c));
                break;
            }
        }
    }
    ossl::drain_errors();

    // The signature with the embedded signer certificate; the certificate itself is not verified
    // (CMS_NO_SIGNER_CERT_VERIFY): devices decide whom they trust, probe only reports.
    if (!out.signers.empty()) {
        auto sink = ossl::own(BIO_new(BIO_s_mem()));
        const int ok = sink ? CMS_verify(cms.get(), nullptr, nullptr, nullptr, sink.get(),
                                         CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY)
                            : 0;
        out.signature_valid = ok == 1;
        if (ok != 1) out.signature_error = ossl::drain_reason();
        ossl::drain_errors();
    }
    return out;
}

std::optional<profile_facts> parse_profile(std::string_view bytes, const std::string& name, std::string& error,
                                           const plist::limits& limits) {
    profile_facts f;
    f.path = name;
    std::string unwrapped;
    std::string_view plist_bytes = bytes;
    if (plist_bytes.substr(0, 6) != "bplist" && looks_like_cms(bytes)) {
        auto cms = unwrap_cms(bytes, error);
        if (!cms) return std::nullopt;
        f.signed_cms = true;
        f.signers = std::move(cms->signers);
        f.signature_valid = cms->signature_valid;
        f.signature_error = std::move(cms->signature_error);
        unwrapped = std::move(cms->content);
        plist_bytes = unwrapped;
    }
    f.format = std::string(plist::format_name(plist_bytes));
    plist::parse_result r = plist::parse(plist_bytes, limits);
    if (!r.ok) {
        error = f.format + ": " + r.error;
        return std::nullopt;
    }
    if (r.root.type != plist::kind::dict) {
        error = f.format + ": the top-level value is not a dictionary (not a configuration profile)";
        return std::nullopt;
    }
    f.urls = extract_urls(r.root);
    return f;
}

std::optional<profile_facts> load_profile(const std::string& path, std::string& error, const plist::limits& limits) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int e = errno;
        error = path + ": cannot read: " + std::error_code(e, std::generic_category()).message();
        return std::nullopt;
    }
    // A CMS wrapper adds signatures and certificates around the plist: allow some room for it.
    const std::size_t max = limits.max_bytes + (1u << 20);
    std::string bytes;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        bytes.append(buf, static_cast<std::size_t>(in.gcount()));
        if (bytes.size() > max) {
            error = path + ": larger than " + std::to_string(max) + " bytes";
            return std::nullopt;
        }
    }
    if (in.bad()) {
        error = path + ": read error";
        return std::nullopt;
    }
    if (bytes.empty()) {
        error = path + ": empty file";
        return std::nullopt;
    }
    std::string why;
    auto f = parse_profile(bytes, path, why, limits);
    if (!f) error = path + ": " + why;
    return f;
}

}  // namespace atsgate::probe
