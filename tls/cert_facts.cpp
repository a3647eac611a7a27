#include "tls/cert_facts.hpp"

#include "util/hex.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <system_error>

namespace atsgate::tls {
namespace {

// RFC 2253 one-line form, but with UTF-8 kept as UTF-8 rather than "\C3\A9" escapes so operators
// can read it. Control characters and RFC 2253 specials stay escaped.
constexpr unsigned long name_flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;

std::string name_to_string(const X509_NAME* name) {
    if (name == nullptr) return {};
    auto bio = ossl::own(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, name_flags) < 0) {
        ossl::drain_errors();
        return {};
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string{};
}

std::string asn1_string_utf8(const ASN1_STRING* s) {
    if (s == nullptr) return {};
    unsigned char* raw = nullptr;
    int len = ASN1_STRING_to_UTF8(&raw, s);
    ossl::string_ptr owned(reinterpret_cast<char*>(raw));
    if (len < 0) {
        ossl::drain_errors();
        return {};
    }
    return std::string(owned.get(), static_cast<std::size_t>(len));
}

std::string first_common_name(const X509_NAME* name) {
    if (name == nullptr) return {};
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return {};
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, idx);
    return asn1_string_utf8(X509_NAME_ENTRY_get_data(e));
}

std::string hex_colon(const unsigned char* p, unsigned int n) {
    return util::hex({p, n}, util::hex_case::upper, ':');
}

std::string serial_hex(const X509& cert) {
    auto bn = ossl::own(ASN1_INTEGER_to_BN(X509_get0_serialNumber(&cert), nullptr));
    if (!bn) {
        ossl::drain_errors();
        return {};
    }
    ossl::string_ptr hex(BN_bn2hex(bn.get()));
    if (!hex) {
        ossl::drain_errors();
        return {};
    }
    return hex.get();
}

// Digest size in bits for a digest NID; the weak ones are listed explicitly because the default
// provider may not offer them any more (MD2, MD4).
int digest_bits(int md_nid) {
    switch (md_nid) {
        case NID_md2:
        case NID_md4:
        case NID_md5: return 128;
        case NID_sha1: return 160;
        case NID_sha224: return 224;
        case NID_sha256: return 256;
        case NID_sha384: return 384;
        case NID_sha512: return 512;
        default: break;
    }
    const EVP_MD* md = EVP_get_digestbynid(md_nid);
    return md != nullptr ? EVP_MD_get_size(md) * 8 : 0;
}

// Hash strength of the certificate's signature (RSA-PSS included: X509_get_signature_info reads the
// PSS parameters). EdDSA hashes internally: Ed25519 uses SHA-512, Ed448 SHAKE256 with 912 bits.
int signature_hash_bits(X509& cert) {
    int md_nid = NID_undef, pk_nid = NID_undef, secbits = 0;
    std::uint32_t flags = 0;
    if (X509_get_signature_info(&cert, &md_nid, &pk_nid, &secbits, &flags) != 1) {
        ossl::drain_errors();
        md_nid = pk_nid = NID_undef;
        if (OBJ_find_sigid_algs(X509_get_signature_nid(&cert), &md_nid, &pk_nid) != 1) {
            ossl::drain_errors();
            return 0;
        }
    }
    if (md_nid != NID_undef) return digest_bits(md_nid);
    if (pk_nid == NID_ED25519) return 512;
    if (pk_nid == NID_ED448) return 912;
    return 0;
}

void fill_key(EVP_PKEY* pkey, cert_facts& f) {
    if (pkey == nullptr) {
        ossl::drain_errors();
        f.key_description = "unreadable public key";
        return;
    }
    int bits = EVP_PKEY_get_bits(pkey);
    f.key_bits = bits > 0 ? bits : 0;
    switch (EVP_PKEY_get_base_id(pkey)) {
        case EVP_PKEY_RSA:
            f.key = key_kind::rsa;
            f.key_description = "RSA " + std::to_string(f.key_bits);
            break;
        case EVP_PKEY_RSA_PSS:
            f.key = key_kind::rsa;
            f.key_description = "RSA-PSS " + std::to_string(f.key_bits);
            break;
        case EVP_PKEY_EC: {
            f.key = key_kind::ec;
            char group[80] = {};
            std::size_t len = 0;
            std::string curve;
            if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) == 1) {
                const char* nist = EC_curve_nid2nist(OBJ_sn2nid(group));
                curve = nist != nullptr ? nist : group;
            } else {
                ossl::drain_errors();  // explicit curve parameters have no name
                curve = std::to_string(f.key_bits) + "-bit explicit curve";
            }
            f.key_description = "EC " + curve;
            break;
        }
        case EVP_PKEY_ED25519:
            f.key = key_kind::ed25519;
            f.key_description = "Ed25519";
            break;
        case EVP_PKEY_ED448:
            f.key = key_kind::ed448;
            f.key_description = "Ed448";
            break;
        case EVP_PKEY_DSA:
            f.key = key_kind::dsa;
            f.key_description = "DSA " + std::to_string(f.key_bits);
            break;
        default: {
            f.key = key_kind::other;
            const char* name = OBJ_nid2sn(EVP_PKEY_get_base_id(pkey));
            f.key_description = name != nullptr && EVP_PKEY_get_base_id(pkey) != NID_undef
                                    ? name
                                    : "unknown key type";
            break;
        }
    }
}

void fill_san(X509& cert, cert_facts& f) {
    int crit = 0;
    auto names = ossl::own(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(&cert, NID_subject_alt_name, &crit, nullptr)));
    if (!names) {
        ossl::drain_errors();  // absent (crit == -1) or unparsable
        return;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING* s = g->d.dNSName;
            f.san_dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                   static_cast<std::size_t>(ASN1_STRING_length(s)));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* s = g->d.iPAddress;
            const unsigned char* p = ASN1_STRING_get0_data(s);
            char buf[INET6_ADDRSTRLEN] = {};
            int n = ASN1_STRING_length(s);
            if (n == 4 && inet_ntop(AF_INET, p, buf, sizeof buf) != nullptr)
                f.san_ip.emplace_back(buf);
            else if (n == 16 && inet_ntop(AF_INET6, p, buf, sizeof buf) != nullptr)
                f.san_ip.emplace_back(buf);
            else
                f.san_ip.push_back("invalid(" + hex_colon(p, static_cast<unsigned int>(n > 0 ? n : 0)) + ")");
        }
    }
}

void fill_eku(X509& cert, cert_facts& f) {
    f.has_eku = X509_get_ext_by_NID(&cert, NID_ext_key_usage, -1) >= 0;
    if (!f.has_eku) return;
    auto usages = ossl::own(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(&cert, NID_ext_key_usage, nullptr, nullptr)));
    if (!usages) {
        ossl::drain_errors();  // present but unparsable: no serverAuth
        f.eku.push_back("unparsable");
        return;
    }
    for (int i = 0; i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
        const ASN1_OBJECT* obj = sk_ASN1_OBJECT_value(usages.get(), i);
        int nid = OBJ_obj2nid(obj);
        // Only id-kp-serverAuth itself counts; anyExtendedKeyUsage is not accepted by Apple clients.
        if (nid == NID_server_auth) f.eku_server_auth = true;
        if (nid != NID_undef) {
            f.eku.emplace_back(OBJ_nid2sn(nid));
        } else {
            char buf[128] = {};
            OBJ_obj2txt(buf, sizeof buf, obj, 1);
            f.eku.emplace_back(buf);
        }
    }
}

bool is_ip_literal(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// One X509_verify_cert run.
struct verify_result {
    std::optional<bool> ok;      // nullopt: could not run
    std::string error;           // verify error text, or why it could not run
    int error_code = X509_V_OK;
    int depth = -1;
    std::string error_subject;
    bool missing_intermediate = false;
    std::string missing_issuer;
    std::optional<cert_facts> anchor;
};

verify_result verify(X509_STORE& store, const std::vector<ossl::ptr<X509>>& chain) {
    verify_result r;
    auto untrusted = ossl::own(sk_X509_new_null());
    auto ctx = ossl::own(X509_STORE_CTX_new());
    if (!untrusted || !ctx) {
        r.error = "out of memory: " + ossl::drain_reason();
        return r;
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
        auto ref = ossl::up_ref(chain[i].get());
        if (sk_X509_push(untrusted.get(), ref.get()) <= 0) {
            r.error = "out of memory: " + ossl::drain_reason();
            return r;
        }
        (void)ref.release();  // now owned by the stack
    }
    if (X509_STORE_CTX_init(ctx.get(), &store, chain.front().get(), untrusted.get()) != 1) {
        r.error = "cannot initialise verification: " + ossl::drain_reason();
        return r;
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());  // borrowed
    // Time is judged by the audit against its own `now`; a device never accepts a partial chain.
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
    X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) != 1) {
        r.error = "cannot set purpose sslserver: " + ossl::drain_reason();
        return r;
    }
    int rc = X509_verify_cert(ctx.get());
    if (rc < 0) {
        r.error = "verification could not run: " + ossl::drain_reason();
        return r;
    }
    ossl::drain_errors();  // a failed verification may queue errors; the verify error says it all
    if (rc == 1) {
        r.ok = true;
        STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());  // borrowed
        int n = built != nullptr ? sk_X509_num(built) : 0;
        if (n > 0) r.anchor = inspect_certificate(*sk_X509_value(built, n - 1));
        return r;
    }
    r.ok = false;
    r.error_code = X509_STORE_CTX_get_error(ctx.get());
    r.error = X509_verify_cert_error_string(r.error_code);
    r.depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* failing = X509_STORE_CTX_get_current_cert(ctx.get());  // borrowed
    if (failing != nullptr) {
        r.error_subject = name_to_string(X509_get_subject_name(failing));
        bool self_issued = X509_NAME_cmp(X509_get_subject_name(failing), X509_get_issuer_name(failing)) == 0;
        if ((r.error_code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
             r.error_code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) &&
            !self_issued) {
            r.missing_intermediate = true;
            r.missing_issuer = name_to_string(X509_get_issuer_name(failing));
        }
    }
    return r;
}

ossl::ptr<X509_STORE> system_store(std::string& error) {
    auto store = ossl::own(X509_STORE_new());
    if (!store || X509_STORE_set_default_paths(store.get()) != 1) {
        error = "cannot load the system trust store: " + ossl::drain_reason();
        return nullptr;
    }
    ossl::drain_errors();  // set_default_paths may queue "no such file" for absent optional paths
    return store;
}

// Opens `path` for reading; on failure fills err with "cannot read <path>: <reason>".
ossl::ptr<BIO> open_file(const std::string& path, load_error& err) {
    errno = 0;
    auto bio = ossl::own(BIO_new_file(path.c_str(), "r"));
    if (!bio) {
        int e = errno;
        std::string reason = ossl::drain_reason();
        err.message = "cannot read " + path + ": " +
                      (e != 0 ? std::error_code(e, std::generic_category()).message() : reason);
    }
    return bio;
}

// PEM readers end with "no start line" at end of input; anything else is a real error.
bool clean_pem_eof() {
    unsigned long e = ERR_peek_last_error();
    return e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
}

// Passphrase callback that refuses: an encrypted key must fail, never prompt on the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

cert_facts inspect_certificate(X509& cert) {
    cert_facts f;
    const X509_NAME* subject = X509_get_subject_name(&cert);
    const X509_NAME* issuer = X509_get_issuer_name(&cert);
    f.subject = name_to_string(subject);
    f.issuer = name_to_string(issuer);
    f.common_name = first_common_name(subject);
    f.serial_hex = serial_hex(cert);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_digest(&cert, EVP_sha256(), md, &md_len) == 1)
        f.sha256_fingerprint = hex_colon(md, md_len);
    else
        ossl::drain_errors();

    fill_key(X509_get0_pubkey(&cert), f);

    int sig_nid = X509_get_signature_nid(&cert);
    const char* sig_name = sig_nid != NID_undef ? OBJ_nid2ln(sig_nid) : nullptr;
    f.signature_algorithm = sig_name != nullptr ? sig_name : "unknown";
    f.signature_hash_bits = signature_hash_bits(cert);

    if (auto t = ossl::unix_time(X509_get0_notBefore(&cert))) f.not_before = *t;
    if (auto t = ossl::unix_time(X509_get0_notAfter(&cert))) f.not_after = *t;

    f.self_issued = X509_NAME_cmp(subject, issuer) == 0;
    // X509_self_signed rather than X509_check_issued(c, c): the latter also demands keyCertSign,
    // which a self-signed *leaf* lacks, and that leaf is exactly what cert.self_signed must catch.
    int self = f.self_issued ? X509_self_signed(&cert, 1) : 0;
    if (self < 0) ossl::drain_errors();
    f.self_signed = self == 1;
    ossl::drain_errors();  // a failed self-signature check queues errors

    std::uint32_t xflags = X509_get_extension_flags(&cert);
    f.is_ca = (xflags & EXFLAG_BCONS) != 0 && (xflags & EXFLAG_CA) != 0;

    fill_san(cert, f);
    fill_eku(cert, f);
    ossl::drain_errors();
    return f;
}

chain_facts inspect_chain(const std::vector<ossl::ptr<X509>>& chain, const verify_inputs& in) {
    chain_facts facts;
    for (const auto& c : chain)
        if (c) facts.served.push_back(inspect_certificate(*c));
    if (chain.empty() || facts.served.size() != chain.size()) {
        facts.verify_error = "no certificate to verify";
        return facts;
    }
    X509& leaf = *chain.front();

    // Private trust (or the system store when none is configured).
    ossl::ptr<X509_STORE> system;
    std::string system_error;
    X509_STORE* trust = in.trust;
    if (trust == nullptr) {
        system = system_store(system_error);
        trust = system.get();
    }
    if (trust == nullptr) {
        facts.verify_error = system_error;
    } else {
        verify_result r = verify(*trust, chain);
        facts.verified = r.ok;
        facts.verify_error = r.error;
        facts.verify_error_depth = r.depth;
        facts.verify_error_subject = r.error_subject;
        facts.missing_intermediate = r.missing_intermediate;
        facts.missing_issuer = r.missing_issuer;
        facts.anchor = std::move(r.anchor);
    }

    // Public trust: the same verification against the system store.
    if (in.check_public_trust) {
        if (in.trust == nullptr) {
            facts.publicly_trusted = facts.verified;  // the private check already used the system store
        } else {
            if (!system) system = system_store(system_error);
            if (system) facts.publicly_trusted = verify(*system, chain).ok;
        }
    }

    if (!in.hostname.empty()) {
        facts.hostname = in.hostname;
        std::string host = in.hostname;
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        int rc;
        if (is_ip_literal(host)) {
            rc = X509_check_ip_asc(&leaf, host.c_str(), 0);
        } else {
            // SAN only (iOS 13+ ignores the CN); no partial-label wildcards such as "f*.example.com".
            rc = X509_check_host(&leaf, host.data(), host.size(),
                                 X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                                 nullptr);
        }
        if (rc == 1)
            facts.hostname_matches = true;
        else if (rc == 0 || rc == -2)  // -2: the name itself is malformed, so it cannot match
            facts.hostname_matches = false;
        ossl::drain_errors();  // rc == -1 (internal error) leaves hostname_matches unknown
    }

    if (in.key != nullptr) {
        facts.key_matches = X509_check_private_key(&leaf, in.key) == 1;
        ossl::drain_errors();  // a mismatch queues "key values mismatch"
    }
    return facts;
}

std::optional<std::vector<ossl::ptr<X509>>> load_cert_chain(const std::string& path, load_error& err) {
    auto bio = open_file(path, err);
    if (!bio) return std::nullopt;
    std::vector<ossl::ptr<X509>> certs;
    ERR_clear_error();  // stale errors would be mistaken for this read's end-of-input marker
    while (auto c = ossl::own(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))) certs.push_back(std::move(c));
    if (!clean_pem_eof()) {
        err.message = path + ": certificate #" + std::to_string(certs.size() + 1) +
                      " is malformed: " + ossl::drain_reason();
        return std::nullopt;
    }
    ossl::drain_errors();
    if (certs.empty()) {
        err.message = path + ": no certificate found";
        return std::nullopt;
    }
    return certs;
}

ossl::ptr<EVP_PKEY> load_private_key(const std::string& path, load_error& err) {
    auto bio = open_file(path, err);
    if (!bio) return nullptr;
    auto key = ossl::own(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key) {
        std::string reason = ossl::drain_reason();
        err.message = path + ": not a PEM private key (unencrypted)" + (reason.empty() ? "" : ": " + reason);
        return nullptr;
    }
    ossl::drain_errors();
    return key;
}

ossl::ptr<X509_STORE> load_trust_store(const std::string& path, load_error& err) {
    auto certs = load_cert_chain(path, err);
    if (!certs) return nullptr;
    auto store = ossl::own(X509_STORE_new());
    if (!store) {
        err.message = path + ": cannot create a trust store: " + ossl::drain_reason();
        return nullptr;
    }
    for (std::size_t i = 0; i < certs->size(); ++i) {
        if (X509_STORE_add_cert(store.get(), (*certs)[i].get()) != 1) {
            err.message = path + ": certificate #" + std::to_string(i + 1) + " cannot be added: " + ossl::drain_reason();
            return nullptr;
        }
    }
    return store;
}

}  // namespace atsgate::tls
