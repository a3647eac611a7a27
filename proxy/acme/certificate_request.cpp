#include "proxy/acme/certificate_request.hpp"

#include "proxy/acme/base64url.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace atsgate::acme {
namespace {

std::string fail(std::string& err, std::string what) {
    err = ossl::failure(std::move(what));
    return {};
}

}  // namespace

std::string make_csr_der(EVP_PKEY& key, const std::vector<std::string>& names, std::string& err) {
    if (names.empty()) return fail(err, "a CSR needs at least one name");
    auto req = ossl::own(X509_REQ_new());
    if (!req || X509_REQ_set_version(req.get(), 0) != 1) return fail(err, "cannot create a CSR");
    auto subject = ossl::own(X509_NAME_new());
    if (!subject) return fail(err, "cannot create a CSR subject");
    if (names.front().size() <= 64 &&
        X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1, 0) != 1)
        return fail(err, "cannot set the CSR subject");
    if (X509_REQ_set_subject_name(req.get(), subject.get()) != 1 || X509_REQ_set_pubkey(req.get(), &key) != 1)
        return fail(err, "cannot fill the CSR");

    auto sans = ossl::own(GENERAL_NAMES_new());
    if (!sans) return fail(err, "out of memory");
    for (const auto& n : names) {
        auto g = ossl::own(GENERAL_NAME_new());
        auto ia5 = ossl::own(ASN1_IA5STRING_new());
        if (!g || !ia5 || ASN1_STRING_set(ia5.get(), n.data(), static_cast<int>(n.size())) != 1)
            return fail(err, "cannot build the subjectAltName");
        GENERAL_NAME_set0_value(g.get(), GEN_DNS, ia5.release());
        if (sk_GENERAL_NAME_push(sans.get(), g.get()) == 0) return fail(err, "cannot build the subjectAltName");
        g.release();  // owned by the stack now
    }
    auto exts = ossl::own(sk_X509_EXTENSION_new_null());
    auto san_ext = ossl::own(X509V3_EXT_i2d(NID_subject_alt_name, 0, sans.get()));
    if (!exts || !san_ext || sk_X509_EXTENSION_push(exts.get(), san_ext.get()) == 0)
        return fail(err, "cannot build the CSR extensions");
    san_ext.release();  // owned by the stack now
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) return fail(err, "cannot add the CSR extensions");
    if (X509_REQ_sign(req.get(), &key, EVP_sha256()) <= 0) return fail(err, "cannot sign the CSR");

    const int len = i2d_X509_REQ(req.get(), nullptr);
    if (len <= 0) return fail(err, "cannot encode the CSR");
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_X509_REQ(req.get(), &p) != len) return fail(err, "cannot encode the CSR");
    return der;
}

std::vector<ossl::ptr<X509>> parse_pem_chain(std::string_view pem, std::string& err) {
    std::vector<ossl::ptr<X509>> out;
    auto bio = ossl::own(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        fail(err, "out of memory");
        return out;
    }
    while (true) {
        auto c = ossl::own(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!c) break;
        out.push_back(std::move(c));
    }
    // The loop ends on "no start line" at the end of the text; anything else is a malformed block.
    const unsigned long e = ERR_peek_last_error();
    const bool clean_end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    if (e != 0 && !clean_end) {
        fail(err, "malformed PEM certificate");
        out.clear();
        return out;
    }
    ossl::drain_errors();
    if (out.empty()) err = "no certificate in the PEM text";
    return out;
}

std::string verify_issued_chain(std::string_view pem, const std::vector<std::string>& names, EVP_PKEY& key,
                                std::string& err) {
    constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
    constexpr std::string_view end = "-----END CERTIFICATE-----";
    constexpr std::size_t max_certificates = 10;
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    std::vector<ossl::ptr<X509>> chain;
    std::size_t i = 0;
    while (true) {
        while (i < pem.size() && is_space(pem[i])) ++i;
        if (i == pem.size()) break;
        if (pem.substr(i, begin.size()) != begin) {
            err = "the chain has text outside CERTIFICATE blocks (at byte " + std::to_string(i) + ")";
            return {};
        }
        const std::size_t stop = pem.find(end, i + begin.size());
        if (stop == std::string_view::npos) {
            err = "the chain ends inside a CERTIFICATE block";
            return {};
        }
        if (chain.size() == max_certificates) {
            err = "the chain has more than " + std::to_string(max_certificates) + " certificates";
            return {};
        }
        const std::string_view block = pem.substr(i, stop + end.size() - i);
        i = stop + end.size();
        auto bio = ossl::own(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
        char* name = nullptr;
        char* header = nullptr;
        unsigned char* data = nullptr;
        long len = 0;
        const int read = bio ? PEM_read_bio(bio.get(), &name, &header, &data, &len) : 0;
        const ossl::string_ptr name_owner(name), header_owner(header), data_owner(reinterpret_cast<char*>(data));
        if (read != 1 || name == nullptr || std::string_view(name) != "CERTIFICATE" || header == nullptr ||
            *header != '\0' || len <= 0) {
            ossl::drain_errors();
            err = "certificate " + std::to_string(chain.size() + 1) + " of the chain is not a plain PEM CERTIFICATE block";
            return {};
        }
        const unsigned char* p = data;
        auto cert = ossl::own(d2i_X509(nullptr, &p, len));
        if (!cert || p != data + len) {
            ossl::drain_errors();
            err = "certificate " + std::to_string(chain.size() + 1) + " of the chain is not one DER certificate";
            return {};
        }
        chain.push_back(std::move(cert));
    }
    if (chain.empty()) {
        err = "the answer holds no certificate";
        return {};
    }

    X509& leaf = *chain.front();
    EVP_PKEY* leaf_key = X509_get0_pubkey(&leaf);
    if (leaf_key == nullptr || EVP_PKEY_eq(leaf_key, &key) != 1) {
        ossl::drain_errors();
        err = "the certificate is not for the key atsgate generated for this order";
        return {};
    }
    auto lower = [](std::string n) {
        std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return n;
    };
    std::vector<std::string> want;
    for (const auto& n : names) want.push_back(lower(n));
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    auto sans = ossl::own(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(&leaf, NID_subject_alt_name, nullptr, nullptr)));
    ossl::drain_errors();
    std::vector<std::string> got;
    const int count = sans ? sk_GENERAL_NAME_num(sans.get()) : 0;
    for (int k = 0; k < count; ++k) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), k);
        if (g->type != GEN_DNS) {
            err = "the certificate names more than the ordered DNS names (a subjectAltName of another type)";
            return {};
        }
        got.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                                        static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName)))));
    }
    std::sort(got.begin(), got.end());
    got.erase(std::unique(got.begin(), got.end()), got.end());
    if (got != want) {
        std::string listed;
        for (const auto& n : got) listed += (listed.empty() ? "" : ", ") + util::log_safe(n, 100);
        err = "the certificate is for " + (listed.empty() ? std::string("no DNS name") : listed) +
              ", not exactly the ordered names";
        return {};
    }

    auto out = ossl::own(BIO_new(BIO_s_mem()));
    if (!out) return fail(err, "out of memory");
    for (const auto& c : chain)
        if (PEM_write_bio_X509(out.get(), c.get()) != 1) return fail(err, "cannot encode the chain");
    char* text = nullptr;
    const long n = BIO_get_mem_data(out.get(), &text);
    if (n <= 0 || text == nullptr) return fail(err, "cannot encode the chain");
    return std::string(text, static_cast<std::size_t>(n));
}

std::optional<std::string> ari_cert_id(X509& cert) {
    const ASN1_OCTET_STRING* keyid = X509_get0_authority_key_id(&cert);
    if (keyid == nullptr || ASN1_STRING_length(keyid) <= 0) {
        ossl::drain_errors();
        return std::nullopt;
    }
    // The serial's DER content octets: i2d gives tag, length, content; keep the content (with a
    // leading 0x00 when the high bit is set, exactly as encoded).
    const ASN1_INTEGER* serial = X509_get0_serialNumber(&cert);
    const int len = i2d_ASN1_INTEGER(serial, nullptr);
    if (len <= 2) return std::nullopt;
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_ASN1_INTEGER(serial, &p);
    // Skip the tag and the (short or long form) length.
    std::size_t off = 2;
    const auto l0 = static_cast<unsigned char>(der[1]);
    if (l0 & 0x80) off += l0 & 0x7F;
    if (off >= der.size()) return std::nullopt;
    const std::string_view aki(reinterpret_cast<const char*>(ASN1_STRING_get0_data(keyid)),
                               static_cast<std::size_t>(ASN1_STRING_length(keyid)));
    return base64url(aki) + "." + base64url(std::string_view(der).substr(off));
}

std::optional<std::pair<std::int64_t, std::int64_t>> validity_of(X509& cert) {
    auto nb = ossl::unix_time(X509_get0_notBefore(&cert));
    auto na = ossl::unix_time(X509_get0_notAfter(&cert));
    if (!nb || !na) return std::nullopt;
    return std::pair{*nb, *na};
}

std::vector<std::string> dns_names_of(X509& cert) {
    std::vector<std::string> out;
    auto names = ossl::own(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!names) {
        ossl::drain_errors();
        return out;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
        if (g->type != GEN_DNS) continue;
        std::string n(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                      static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName)));
        std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        out.push_back(std::move(n));
    }
    return out;
}

}  // namespace atsgate::acme
