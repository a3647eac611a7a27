#include "tests/support/mem_tls.hpp"

namespace atsgate::test {

namespace {

int alert_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

void info_cb(const SSL* ssl, int where, int ret) {
    if ((where & SSL_CB_READ_ALERT) != 0) {
        auto* out = static_cast<int*>(SSL_get_ex_data(ssl, alert_index()));
        if (out != nullptr && *out < 0) *out = ret & 0xff;
    }
}

enum class step { done, again, failed };

step drive(SSL* ssl, bool& finished, std::string& error) {
    if (finished) return step::done;
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl);
    if (r == 1) {
        finished = true;
        return step::done;
    }
    const int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return step::again;
    error = ossl::drain_errors();
    if (error.empty()) error = "SSL_get_error " + std::to_string(e);
    return step::failed;
}

}  // namespace

handshake_outcome run_handshake(SSL_CTX& client_ctx, SSL_CTX& server_ctx, SSL_SESSION* session,
                                ossl::ptr<SSL_SESSION>* out_session, const char* sni,
                                const std::function<void(SSL& server)>& prepare_server,
                                const std::function<void(SSL& server)>& inspect_server) {
    handshake_outcome out;
    auto client = ossl::own(SSL_new(&client_ctx));
    auto server = ossl::own(SSL_new(&server_ctx));
    if (!client || !server) {
        out.client_error = "SSL_new: " + ossl::drain_errors();
        return out;
    }
    BIO* cbio = nullptr;
    BIO* sbio = nullptr;
    if (BIO_new_bio_pair(&cbio, 0, &sbio, 0) != 1) {
        out.client_error = "BIO_new_bio_pair: " + ossl::drain_errors();
        return out;
    }
    SSL_set_bio(client.get(), cbio, cbio);  // each SSL owns its end
    SSL_set_bio(server.get(), sbio, sbio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    if (sni != nullptr) SSL_set_tlsext_host_name(client.get(), sni);
    if (session != nullptr) SSL_set_session(client.get(), session);
    if (prepare_server) prepare_server(*server);
    SSL_set_ex_data(client.get(), alert_index(), &out.alert_received_by_client);
    SSL_set_info_callback(client.get(), info_cb);

    bool cdone = false, sdone = false;
    for (int i = 0; i < 64 && !(cdone && sdone); ++i) {
        const step c = drive(client.get(), cdone, out.client_error);
        const step s = drive(server.get(), sdone, out.server_error);
        if (c == step::failed || s == step::failed) {
            // Let the client read the alert the server sent.
            if (c != step::failed) drive(client.get(), cdone, out.client_error);
            break;
        }
    }
    out.client_ok = cdone && out.client_error.empty();
    out.server_ok = sdone && out.server_error.empty();
    if (out.client_ok && out.server_ok) {
        out.version = SSL_get_version(server.get());
        out.cipher = SSL_get_cipher_name(server.get());
        out.ems = SSL_get_extms_support(server.get()) == 1;
        out.resumed = SSL_session_reused(server.get()) == 1;
        if (inspect_server) inspect_server(*server);
        // One byte each way so the client processes TLS 1.3 NewSessionTicket messages.
        char byte = 'x';
        std::size_t n = 0;
        SSL_write_ex(server.get(), &byte, 1, &n);
        SSL_read_ex(client.get(), &byte, 1, &n);
        ERR_clear_error();
        // A clean close: OpenSSL marks sessions of connections freed without close_notify as not resumable.
        SSL_shutdown(client.get());
        SSL_shutdown(server.get());
        ERR_clear_error();
        if (out_session != nullptr) *out_session = ossl::own(SSL_get1_session(client.get()));
    }
    SSL_set_ex_data(client.get(), alert_index(), nullptr);
    ERR_clear_error();
    return out;
}

std::string client_hello(SSL_CTX& client_ctx, const char* sni) {
    ERR_clear_error();
    auto ssl = ossl::own(SSL_new(&client_ctx));
    if (!ssl) throw std::runtime_error("SSL_new: " + ossl::drain_errors());
    auto in = ossl::own(BIO_new(BIO_s_mem()));
    auto out = ossl::own(BIO_new(BIO_s_mem()));
    if (!in || !out) throw std::runtime_error("BIO_new: " + ossl::drain_errors());
    BIO* const written = out.get();
    SSL_set_bio(ssl.get(), in.release(), out.release());  // takes both
    if (sni != nullptr && SSL_set_tlsext_host_name(ssl.get(), sni) != 1)
        throw std::runtime_error("SSL_set_tlsext_host_name: " + ossl::drain_errors());
    const int r = SSL_connect(ssl.get());
    if (r != -1 || SSL_get_error(ssl.get(), r) != SSL_ERROR_WANT_READ)  // it waits for the ServerHello
        throw std::runtime_error("SSL_connect did not stop for the ServerHello: " + ossl::drain_errors());
    char* data = nullptr;
    const long len = BIO_get_mem_data(written, &data);
    if (len <= 0) throw std::runtime_error("the client wrote no ClientHello");
    ERR_clear_error();
    return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace atsgate::test
