#include "proxy/probe/tls_client.hpp"

#include "tls/policy.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>

namespace atsgate::probe::blocking {

namespace {

std::string join_names(tls::protocol p) {
    std::string out;
    for (const auto& s : tls::suites)
        if (s.proto == p) out += (out.empty() ? "" : ":") + std::string(s.openssl);
    return out;
}

std::string ats_groups() {
    std::string out;
    for (const auto& g : tls::groups) out += (out.empty() ? "" : ":") + std::string(g.name);
    return out;
}

const std::string all_tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:"
    "TLS_AES_128_CCM_8_SHA256";

void on_info(const SSL* ssl, int where, int ret) {
    if ((where & SSL_CB_READ_ALERT) != 0) {
        if (auto* alert = static_cast<int*>(SSL_get_app_data(ssl)); alert != nullptr && *alert < 0) *alert = ret & 0xFF;
    }
}

std::string group_name(int nid) {
    if (nid <= 0 || (nid & TLSEXT_nid_unknown) != 0) return {};  // none (RSA key exchange) or unknown
    switch (nid) {
        case NID_X25519: return "X25519";
        case NID_X448: return "X448";
        case NID_X9_62_prime256v1: return "P-256";
        case NID_secp384r1: return "P-384";
        case NID_secp521r1: return "P-521";
        default: break;
    }
    const char* sn = OBJ_nid2sn(nid);
    return sn != nullptr ? sn : "";
}

}  // namespace

client_config ats_config(int min_v, int max_v) {
    client_config c;
    c.label = "ATS";
    c.min_version = min_v;
    c.max_version = max_v;
    c.cipher_list = join_names(tls::protocol::tls12);
    c.ciphersuites = join_names(tls::protocol::tls13);
    c.groups = ats_groups();
    c.sigalgs = std::string(tls::sigalgs);
    c.alpn = true;
    return c;
}

client_config permissive_config(int version) {
    client_config c;
    c.label = "permissive";
    c.min_version = version;
    c.max_version = version;
    c.cipher_list = "ALL:@SECLEVEL=0";
    c.ciphersuites = all_tls13_suites;
    c.legacy_server = true;
    return c;
}

bool tls_connection::open(const address& a, const std::string& sni, const client_config& c, clock::time_point deadline,
          handshake_facts& out, std::vector<ossl::ptr<X509>>* chain) {
    out.attempted = true;
    if (!build(sni, c, out.error)) {
        out.attempted = false;
        out.skipped = "client configuration refused: " + out.error;
        out.error.clear();
        return false;
    }
    bool timed_out = false;
    fd_ = connect_to(a, deadline, out.error, timed_out);
    if (fd_.get() < 0) {
        out.timed_out = timed_out;
        out.error = "TCP connect: " + out.error;
        return false;
    }
    if (!handshake(deadline, out)) return false;
    out.ok = true;
    out.version = SSL_version(ssl_.get());
    out.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_.get()));
    out.group = group_name(SSL_get_negotiated_group(ssl_.get()));
    out.ems = out.version < TLS1_3_VERSION && SSL_get_extms_support(ssl_.get()) == 1;
    const unsigned char* proto = nullptr;
    unsigned int proto_len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &proto, &proto_len);
    if (proto != nullptr) out.alpn.assign(reinterpret_cast<const char*>(proto), proto_len);
    if (chain != nullptr) {
        chain->clear();
        if (STACK_OF(X509)* peer = SSL_get_peer_cert_chain(ssl_.get()))  // client side: leaf included
            for (int i = 0; i < sk_X509_num(peer); ++i) chain->push_back(ossl::up_ref(sk_X509_value(peer, i)));
    }
    ossl::drain_errors();
    return true;
}

io tls_connection::write_all(std::string_view data, clock::time_point deadline, std::string& error) {
    while (!data.empty()) {
        ERR_clear_error();
        int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
        if (n <= 0) {
            error = "TLS write: " + ossl::drain_reason();
            return io::error;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
        if (io r = flush(deadline, error); r != io::ok) return r;
    }
    return io::ok;
}

io tls_connection::read_some(std::string& out, clock::time_point deadline, std::string& error) {
    char buf[16384];
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            return io::ok;
        }
        int e = SSL_get_error(ssl_.get(), n);
        if (io r = flush(deadline, error); r != io::ok) return r;
        if (e == SSL_ERROR_ZERO_RETURN) return io::closed;
        if (e == SSL_ERROR_WANT_READ) {
            if (eof_) {
                error = "the server closed the connection without close_notify";
                ossl::drain_errors();
                return io::closed;
            }
            if (io r = fill(deadline, error); r != io::ok) return r;
            continue;
        }
        error = "TLS read: " + ossl::drain_reason();
        return eof_ ? io::closed : io::error;
    }
}

tls_connection::~tls_connection() {
    // Best effort close_notify: one non-blocking send, never a wait.
    if (ssl_ && fd_.get() >= 0 && SSL_is_init_finished(ssl_.get()) == 1) {
        SSL_shutdown(ssl_.get());
        char buf[512];
        int n = BIO_read(wbio_, buf, sizeof buf);
        if (n > 0) (void)::send(fd_.get(), buf, static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ossl::drain_errors();
}

bool tls_connection::build(const std::string& sni, const client_config& c, std::string& error) {
    ERR_clear_error();
    auto ctx = ossl::own(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        error = ossl::drain_reason();
        return false;
    }
    // Security level 0: the client must complete handshakes with weak servers (RSA-1024,
    // SHA-1, TLS 1.0) so that the certificate rules can say *why* a device would refuse them,
    // rather than OpenSSL refusing first. Versions, suites, groups and signature algorithms
    // are set explicitly per attempt, so the level relaxes nothing a device would offer.
    if (SSL_CTX_set_min_proto_version(ctx.get(), c.min_version) != 1 ||
        SSL_CTX_set_max_proto_version(ctx.get(), c.max_version) != 1 ||
        SSL_CTX_set_cipher_list(ctx.get(), c.cipher_list.c_str()) != 1 ||
        SSL_CTX_set_ciphersuites(ctx.get(), c.ciphersuites.c_str()) != 1 ||
        (!c.groups.empty() && SSL_CTX_set1_groups_list(ctx.get(), c.groups.c_str()) != 1) ||
        (!c.sigalgs.empty() && SSL_CTX_set1_sigalgs_list(ctx.get(), c.sigalgs.c_str()) != 1)) {
        error = ossl::drain_reason();
        return false;
    }
    SSL_CTX_set_security_level(ctx.get(), 0);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // the chain is judged by tls::audit
    SSL_CTX_clear_options(ctx.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);  // devices always offer EMS
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    if (c.legacy_server) SSL_CTX_set_options(ctx.get(), SSL_OP_LEGACY_SERVER_CONNECT);
    static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    if (c.alpn && SSL_CTX_set_alpn_protos(ctx.get(), alpn, sizeof alpn) != 0) {  // 0 = success here
        error = ossl::drain_reason();
        return false;
    }
    ssl_ = ossl::own(SSL_new(ctx.get()));  // holds its own reference to ctx
    if (!ssl_) {
        error = ossl::drain_reason();
        return false;
    }
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    if (rbio == nullptr || wbio == nullptr) {
        // Not yet owned by the SSL: wrap them so they are freed.
        ossl::own(rbio);
        ossl::own(wbio);
        error = ossl::drain_reason();
        return false;
    }
    BIO_set_mem_eof_return(rbio, -1);  // empty: "retry", until the socket says EOF
    SSL_set_bio(ssl_.get(), rbio, wbio);  // the SSL owns both from here
    rbio_ = rbio;
    wbio_ = wbio;
    SSL_set_connect_state(ssl_.get());
    SSL_set_app_data(ssl_.get(), &alert_);
    SSL_set_info_callback(ssl_.get(), on_info);
    if (!sni.empty() && SSL_set_tlsext_host_name(ssl_.get(), sni.c_str()) != 1) {
        error = "SNI \"" + sni + "\": " + ossl::drain_reason();
        return false;
    }
    return true;
}

io tls_connection::flush(clock::time_point deadline, std::string& error) {
    char buf[16384];
    while (BIO_ctrl_pending(wbio_) > 0) {
        int n = BIO_read(wbio_, buf, sizeof buf);
        if (n <= 0) break;
        if (io r = send_all(fd_.get(), std::string_view(buf, static_cast<std::size_t>(n)), deadline, error);
            r != io::ok)
            return r;
    }
    return io::ok;
}

io tls_connection::fill(clock::time_point deadline, std::string& error) {
    std::string data;
    io r = recv_some(fd_.get(), data, deadline, error);
    if (r == io::ok) {
        BIO_write(rbio_, data.data(), static_cast<int>(data.size()));
    } else if (r == io::closed) {
        eof_ = true;
        BIO_set_mem_eof_return(rbio_, 0);
        return io::ok;  // let OpenSSL see the EOF (and any alert before it)
    }
    return r;
}

bool tls_connection::handshake(clock::time_point deadline, handshake_facts& out) {
    for (;;) {
        ERR_clear_error();
        const int rc = SSL_do_handshake(ssl_.get());
        const int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rc);
        std::string send_error;
        const io sent = flush(deadline, send_error);  // the ClientHello, or our alert
        if (rc == 1) {
            if (sent == io::ok) return true;
            out.error = "sending the Finished message: " + send_error;
            out.timed_out = sent == io::timeout;
            return false;
        }
        if (e == SSL_ERROR_WANT_READ && sent == io::ok && !eof_) {
            std::string read_error;
            io r = fill(deadline, read_error);
            if (r == io::ok) continue;
            out.timed_out = r == io::timeout;
            out.error = r == io::timeout ? "timed out waiting for the server's handshake messages" : read_error;
            ossl::drain_errors();
            return false;
        }
        std::string reason = ossl::drain_reason();
        out.alert = alert_;
        if (alert_ >= 0)
            out.error = std::string("server sent alert \"") + SSL_alert_desc_string_long(alert_) + "\"";
        else if (eof_)
            out.error = "the server closed the connection during the handshake";
        else if (sent != io::ok) {
            out.error = "sending: " + send_error;
            out.timed_out = sent == io::timeout;
        } else
            out.error = reason.empty() ? std::string("handshake failed") : reason;
        return false;
    }
}

}  // namespace atsgate::probe::blocking
