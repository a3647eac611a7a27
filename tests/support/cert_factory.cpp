#include "tests/support/cert_factory.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <arpa/inet.h>
#include <sys/stat.h>

namespace atsgate::test {
namespace {

[[noreturn]] void fail(const std::string& step) {
    std::string errors = ossl::drain_errors();
    throw std::runtime_error("cert_factory: " + step + (errors.empty() ? "" : ": " + errors));
}

ossl::ptr<EVP_PKEY> generate_dsa(int bits) {
    auto pctx = ossl::own(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr));
    if (!pctx || EVP_PKEY_paramgen_init(pctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx.get(), bits) <= 0)
        fail("DSA parameter generation setup");
    EVP_PKEY* params_raw = nullptr;
    if (EVP_PKEY_paramgen(pctx.get(), &params_raw) <= 0) fail("DSA parameter generation");
    auto params = ossl::own(params_raw);
    auto kctx = ossl::own(EVP_PKEY_CTX_new_from_pkey(nullptr, params.get(), nullptr));
    if (!kctx || EVP_PKEY_keygen_init(kctx.get()) <= 0) fail("DSA key generation setup");
    EVP_PKEY* key_raw = nullptr;
    if (EVP_PKEY_keygen(kctx.get(), &key_raw) <= 0) fail("DSA key generation");
    return ossl::own(key_raw);
}

const EVP_MD* md_for(digest d) {
    switch (d) {
        case digest::sha1: return EVP_sha1();
        case digest::sha256: return EVP_sha256();
        case digest::sha384: return EVP_sha384();
        case digest::sha512: return EVP_sha512();
    }
    return EVP_sha256();
}

bool is_rsa(EVP_PKEY& k) {
    int id = EVP_PKEY_get_base_id(&k);
    return id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS;
}

bool is_ip_literal(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

void add_ext(X509& cert, X509V3_CTX& ctx, int nid, const std::string& value) {
    auto ext = ossl::own(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext) fail(std::string("building extension ") + OBJ_nid2sn(nid) + "=" + value);
    if (X509_add_ext(&cert, ext.get(), -1) != 1) fail(std::string("adding extension ") + OBJ_nid2sn(nid));
}

void add_name_entry(X509_NAME& name, const char* field, const std::string& value) {
    if (value.empty()) return;
    if (X509_NAME_add_entry_by_txt(&name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1)
        fail(std::string("setting subject ") + field);
}

void set_random_serial(X509& cert) {
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof bytes) != 1) fail("RAND_bytes");
    bytes[0] &= 0x7F;  // positive
    bytes[0] |= 0x01;  // and never zero, never a leading-zero encoding
    auto bn = ossl::own(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(&cert)) == nullptr) fail("setting serial");
}

std::string to_pem(auto&& write) {
    auto bio = ossl::own(BIO_new(BIO_s_mem()));
    if (!bio || write(bio.get()) != 1) fail("writing PEM");
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

std::string to_string(key_type t) {
    switch (t) {
        case key_type::ec_p224: return "EC P-224";
        case key_type::ec_p256: return "EC P-256";
        case key_type::ec_p384: return "EC P-384";
        case key_type::rsa_1024: return "RSA 1024";
        case key_type::rsa_2048: return "RSA 2048";
        case key_type::rsa_3072: return "RSA 3072";
        case key_type::ed25519: return "Ed25519";
        case key_type::dsa_2048: return "DSA 2048";
    }
    return "?";
}

ossl::ptr<EVP_PKEY> generate_key(key_type t) {
    ossl::ptr<EVP_PKEY> k;
    switch (t) {
        case key_type::ec_p224: k = ossl::own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-224")); break;
        case key_type::ec_p256: k = ossl::own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); break;
        case key_type::ec_p384: k = ossl::own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")); break;
        case key_type::rsa_1024: k = ossl::own(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024})); break;
        case key_type::rsa_2048: k = ossl::own(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})); break;
        case key_type::rsa_3072: k = ossl::own(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{3072})); break;
        case key_type::ed25519: k = ossl::own(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); break;
        case key_type::dsa_2048: return generate_dsa(2048);
    }
    if (!k) fail("generating " + to_string(t) + " key");
    return k;
}

ossl::ptr<EVP_PKEY> cached_key(key_type t, int slot) {
    // Test-only process-wide cache: RSA-3072 and DSA generation are slow enough to matter.
    static std::mutex mutex;
    static std::map<std::pair<key_type, int>, ossl::ptr<EVP_PKEY>> cache;
    std::lock_guard lock(mutex);
    auto& entry = cache[{t, slot}];
    if (!entry) entry = generate_key(t);
    return ossl::up_ref(entry.get());
}

std::string test_cert::cert_pem() const {
    return to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
}

std::string test_cert::key_pem() const {
    return to_pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
}

test_cert cert_factory::make(const cert_spec& spec, const test_cert* issuer) const {
    test_cert out;
    if (spec.subject_key != nullptr)
        out.key = ossl::up_ref(spec.subject_key);
    else
        out.key = spec.fresh_key ? generate_key(spec.key) : cached_key(spec.key, spec.key_slot);

    out.cert = ossl::own(X509_new());
    if (!out.cert) fail("X509_new");
    X509& c = *out.cert;
    if (X509_set_version(&c, X509_VERSION_3) != 1) fail("X509_set_version");
    set_random_serial(c);

    X509_NAME* subject = X509_get_subject_name(&c);  // borrowed, owned by c
    add_name_entry(*subject, "O", spec.organization);
    add_name_entry(*subject, "CN", spec.common_name);
    X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer->cert.get()) : subject;
    if (X509_set_issuer_name(&c, issuer_name) != 1) fail("X509_set_issuer_name");

    if (ASN1_TIME_set(X509_getm_notBefore(&c), static_cast<time_t>(now_ + spec.not_before)) == nullptr ||
        ASN1_TIME_set(X509_getm_notAfter(&c), static_cast<time_t>(now_ + spec.not_after)) == nullptr)
        fail("setting validity");
    if (X509_set_pubkey(&c, out.key.get()) != 1) fail("X509_set_pubkey");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->cert.get() : &c, &c, nullptr, nullptr, 0);
    if (spec.basic_constraints) {
        std::string bc = spec.is_ca ? "critical,CA:TRUE" : "CA:FALSE";
        if (spec.is_ca && spec.path_length) bc += ",pathlen:" + std::to_string(*spec.path_length);
        add_ext(c, ctx, NID_basic_constraints, bc);
    }
    if (spec.key_usage) {
        std::string ku = spec.is_ca ? "critical,keyCertSign,cRLSign"
                         : is_rsa(*out.key) ? "critical,digitalSignature,keyEncipherment"
                                            : "critical,digitalSignature";
        add_ext(c, ctx, NID_key_usage, ku);
    }
    add_ext(c, ctx, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) add_ext(c, ctx, NID_authority_key_identifier, "keyid:always");

    // The v3 config syntax splits on commas, so names must not contain one (test input only).
    std::string san;
    for (const auto& d : spec.san_dns) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& ip : spec.san_ip) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
    if (!san.empty()) add_ext(c, ctx, NID_subject_alt_name, san);

    switch (spec.usage) {
        case eku::none: break;
        case eku::server_auth: add_ext(c, ctx, NID_ext_key_usage, "serverAuth"); break;
        case eku::client_auth: add_ext(c, ctx, NID_ext_key_usage, "clientAuth"); break;
        case eku::server_and_client: add_ext(c, ctx, NID_ext_key_usage, "serverAuth,clientAuth"); break;
        case eku::any: add_ext(c, ctx, NID_ext_key_usage, "anyExtendedKeyUsage"); break;
    }

    EVP_PKEY& signer = issuer != nullptr ? *issuer->key : *out.key;
    int signer_id = EVP_PKEY_get_base_id(&signer);
    // Ed25519 / Ed448 sign the message directly: no separate digest may be given.
    const EVP_MD* md = (signer_id == EVP_PKEY_ED25519 || signer_id == EVP_PKEY_ED448) ? nullptr : md_for(spec.sig);
    if (X509_sign(&c, &signer, md) <= 0) fail("signing certificate CN=" + spec.common_name);
    return out;
}

cert_spec cert_factory::ca_spec(const std::string& cn, key_type k, std::int64_t lifetime_seconds) {
    cert_spec s;
    s.common_name = cn;
    s.usage = eku::none;
    s.is_ca = true;
    s.key = k;
    s.not_before = -3600;
    s.not_after = lifetime_seconds - 3600;
    return s;
}

cert_spec cert_factory::leaf_spec(const std::string& host, key_type k) {
    cert_spec s;
    s.common_name = host;
    if (is_ip_literal(host))
        s.san_ip = {host};
    else
        s.san_dns = {host};
    s.usage = eku::server_auth;
    s.key = k;
    s.key_slot = 1;  // distinct from the CAs' cached keys of the same type
    s.not_before = -3600;
    s.not_after = 90 * 86400 - 3600;
    return s;
}

test_cert cert_factory::root_ca(const std::string& cn, key_type k) const {
    return make(ca_spec(cn, k, 10 * 365 * 86400LL));
}

test_cert cert_factory::intermediate(const test_cert& issuer, const std::string& cn, key_type k) const {
    auto s = ca_spec(cn, k, 5 * 365 * 86400LL);
    s.key_slot = 2;
    s.path_length = 0;
    return make(s, &issuer);
}

test_cert cert_factory::leaf(const test_cert& issuer, const std::string& host, key_type k) const {
    return make(leaf_spec(host, k), &issuer);
}

std::vector<ossl::ptr<X509>> chain_of(const std::vector<const test_cert*>& certs) {
    std::vector<ossl::ptr<X509>> out;
    for (const auto* c : certs) out.push_back(c->ref());
    return out;
}

ossl::ptr<X509_STORE> store_of(const std::vector<const test_cert*>& roots) {
    auto store = ossl::own(X509_STORE_new());
    if (!store) fail("X509_STORE_new");
    for (const auto* r : roots)
        if (X509_STORE_add_cert(store.get(), r->cert.get()) != 1) fail("X509_STORE_add_cert");
    return store;
}

std::string chain_pem(const std::vector<const test_cert*>& certs) {
    std::string out;
    for (const auto* c : certs) out += c->cert_pem();
    return out;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        if (!f) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
        f << text;
        if (!f.flush()) throw std::runtime_error("cannot write " + path.string());
    }
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
    if (ec) throw std::runtime_error("cannot chmod " + path.string() + ": " + ec.message());
}

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/atsgate-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr)
        throw std::runtime_error("cannot create temp dir " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    if (path_.empty()) return;
    std::error_code ec;  // best effort: a destructor must not throw
    std::filesystem::remove_all(path_, ec);
}

temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
    if (this != &other) {
        temp_dir old(std::move(*this));
        path_ = std::exchange(other.path_, {});
    }
    return *this;
}

std::filesystem::path temp_dir::write_chain(const std::string& name,
                                            const std::vector<const test_cert*>& certs) const {
    return write_text(name, chain_pem(certs));
}

std::filesystem::path temp_dir::write_key(const std::string& name, const test_cert& c) const {
    return write_text(name, c.key_pem());
}

std::filesystem::path temp_dir::write_text(const std::string& name, const std::string& text) const {
    auto p = file(name);
    write_file(p, text);
    return p;
}

}  // namespace atsgate::test
