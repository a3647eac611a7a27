#include "proxy/probe/gather.hpp"

#include "proxy/http/response_parser.hpp"
#include "tls/cert_facts.hpp"
#include "tls/policy.hpp"
#include "util/host_port.hpp"
#include "util/text.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

namespace atsgate::probe {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view user_agent = "atsgate-probe";

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

int ms_left(clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return 0;
    return left > 3600000 ? 3600000 : static_cast<int>(left);
}

// Waits until `fd` is ready for `events` or the deadline passes. False on timeout.
bool wait_fd(int fd, short events, clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, ms_left(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return true;  // let the following call report the error
    }
}

class fd_guard {
public:
    fd_guard() = default;
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    ~fd_guard() { reset(); }
    fd_guard(fd_guard&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    fd_guard& operator=(fd_guard&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// ---- addresses ---------------------------------------------------------------------------------

struct address {
    sockaddr_storage sa{};
    socklen_t len = 0;
    std::string host;  // "127.0.0.1", "::1"
    std::string text;  // "127.0.0.1:443", "[::1]:443"

    void set_port(std::uint16_t port) {
        if (sa.ss_family == AF_INET)
            reinterpret_cast<sockaddr_in*>(&sa)->sin_port = htons(port);
        else
            reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port = htons(port);
        text = util::host_port(host, port);  // `host` is a numeric address here: ':' only in IPv6
    }
};

std::vector<address> to_addresses(const addrinfo* res, std::uint16_t port) {
    std::vector<address> out;
    for (const addrinfo* p = res; p != nullptr; p = p->ai_next) {
        if ((p->ai_family != AF_INET && p->ai_family != AF_INET6) || p->ai_addrlen > sizeof(sockaddr_storage)) continue;
        address a;
        std::memcpy(&a.sa, p->ai_addr, p->ai_addrlen);
        a.len = static_cast<socklen_t>(p->ai_addrlen);
        char buf[INET6_ADDRSTRLEN] = {};
        const void* raw = p->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(p->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(p->ai_addr)->sin6_addr);
        inet_ntop(p->ai_family, raw, buf, sizeof buf);
        a.host = buf;
        a.set_port(port);
        if (std::none_of(out.begin(), out.end(), [&](const address& x) { return x.text == a.text; }))
            out.push_back(std::move(a));
    }
    return out;
}

std::string gai_text(int rc, int saved_errno) {
    if (rc == EAI_SYSTEM) return errno_text(saved_errno);
    return gai_strerror(rc);
}

// getaddrinfo has no timeout: it runs on a helper thread that owns its state through a shared_ptr,
// so when the deadline passes we stop waiting and the thread finishes (and frees) on its own.
// Detached on purpose: nothing it touches outlives it except the shared state.
bool resolve(const std::string& host, std::uint16_t port, clock::time_point deadline, std::vector<address>& out,
             std::string& error) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    const std::string service = std::to_string(port);
    {
        // IP literals resolve without DNS.
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        addrinfo* res = nullptr;
        if (getaddrinfo(host.c_str(), service.c_str(), &hints, &res) == 0) {
            out = to_addresses(res, port);
            freeaddrinfo(res);
            return !out.empty();
        }
    }
    struct job_state {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        int rc = 0;
        int saved_errno = 0;
        std::vector<address> result;
    };
    auto job = std::make_shared<job_state>();
    try {
        std::thread([job, host, service, port] {
            addrinfo h{};
            h.ai_socktype = SOCK_STREAM;
            h.ai_family = AF_UNSPEC;
            h.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
            addrinfo* res = nullptr;
            int rc = getaddrinfo(host.c_str(), service.c_str(), &h, &res);
            int e = errno;
            std::vector<address> v;
            if (rc == 0) {
                v = to_addresses(res, port);
                freeaddrinfo(res);
            }
            std::lock_guard lk(job->m);
            job->rc = rc;
            job->saved_errno = e;
            job->result = std::move(v);
            job->done = true;
            job->cv.notify_all();
        }).detach();
    } catch (const std::system_error& e) {
        error = std::string("cannot start the resolver thread: ") + e.what();
        return false;
    }
    std::unique_lock lk(job->m);
    if (!job->cv.wait_until(lk, deadline, [&] { return job->done; })) {
        error = "timed out";
        return false;
    }
    if (job->rc != 0) {
        error = gai_text(job->rc, job->saved_errno);
        return false;
    }
    out = std::move(job->result);
    if (out.empty()) error = "no IPv4 or IPv6 address";
    return !out.empty();
}

// Non-blocking connect with a deadline. On failure sets `error` ("Connection refused", "timed out").
fd_guard connect_to(const address& a, clock::time_point deadline, std::string& error, bool& timed_out) {
    timed_out = false;
    fd_guard fd(::socket(a.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        error = "socket: " + errno_text(errno);
        return {};
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.sa), a.len) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            error = errno_text(errno);
            return {};
        }
        if (!wait_fd(fd.get(), POLLOUT, deadline)) {
            error = "timed out";
            timed_out = true;
            return {};
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
        if (soerr != 0) {
            error = errno_text(soerr);
            return {};
        }
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

enum class io { ok, closed, timeout, error };

// send() everything with MSG_NOSIGNAL (a vanished peer gives EPIPE, never SIGPIPE).
io send_all(int fd, std::string_view data, clock::time_point deadline, std::string& error) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                error = "timed out writing";
                return io::timeout;
            }
            continue;
        }
        error = errno_text(errno);
        return io::error;
    }
    return io::ok;
}

io recv_some(int fd, std::string& out, clock::time_point deadline, std::string& error) {
    char buf[16384];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            return io::ok;
        }
        if (n == 0) return io::closed;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_fd(fd, POLLIN, deadline)) {
                error = "timed out reading";
                return io::timeout;
            }
            continue;
        }
        if (errno == ECONNRESET) {
            error = "connection reset by the server";
            return io::closed;
        }
        error = errno_text(errno);
        return io::error;
    }
}

// ---- TLS client --------------------------------------------------------------------------------

// One attempt's client configuration.
struct client_config {
    std::string label;            // for messages
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string cipher_list;      // TLS 1.2 and below, OpenSSL syntax
    std::string ciphersuites;     // TLS 1.3
    std::string groups;           // "" = OpenSSL's default list
    std::string sigalgs;          // "" = OpenSSL's default list
    bool alpn = false;            // offer ALPN http/1.1
    bool legacy_server = false;   // SSL_OP_LEGACY_SERVER_CONNECT (old servers without RFC 5746)
};

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

// What an Apple device offers by default: TLS 1.2-1.3, the ATS suites, groups X25519/P-256/P-384,
// SHA-256+ signature algorithms, EMS (OpenSSL clients always offer it), SNI and ALPN http/1.1.
client_config ats_config(int min_v = TLS1_2_VERSION, int max_v = TLS1_3_VERSION) {
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

// Anything the client library can do, for "does the server speak version V at all".
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

// A TLS client connection whose records go through memory BIOs; all socket I/O happens here with
// the caller's deadline. Not thread-safe; one per attempt.
class tls_connection {
public:
    // Connects to `a` and handshakes with `c`. Fills `out` (attempted, ok, version, ...).
    // `chain`, when non-null, receives the peer's chain (leaf first) on success.
    bool open(const address& a, const std::string& sni, const client_config& c, clock::time_point deadline,
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

    io write_all(std::string_view data, clock::time_point deadline, std::string& error) {
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

    io read_some(std::string& out, clock::time_point deadline, std::string& error) {
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

    ~tls_connection() {
        // Best effort close_notify: one non-blocking send, never a wait.
        if (ssl_ && fd_.get() >= 0 && SSL_is_init_finished(ssl_.get()) == 1) {
            SSL_shutdown(ssl_.get());
            char buf[512];
            int n = BIO_read(wbio_, buf, sizeof buf);
            if (n > 0) (void)::send(fd_.get(), buf, static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        ossl::drain_errors();
    }

private:
    bool build(const std::string& sni, const client_config& c, std::string& error) {
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

    // Moves whatever OpenSSL produced from the write BIO to the socket.
    io flush(clock::time_point deadline, std::string& error) {
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

    // Moves bytes from the socket into the read BIO (marks EOF there when the server closed).
    io fill(clock::time_point deadline, std::string& error) {
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

    bool handshake(clock::time_point deadline, handshake_facts& out) {
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

    fd_guard fd_;
    ossl::ptr<SSL> ssl_;
    BIO* rbio_ = nullptr;  // owned by ssl_
    BIO* wbio_ = nullptr;  // owned by ssl_
    int alert_ = -1;
    bool eof_ = false;
};

// ---- HTTP --------------------------------------------------------------------------------------

std::string host_header(const target& t) {
    return util::authority(t.scheme, t.host, t.port);
}

std::string request_for(const target& t) {
    return "GET " + t.path + " HTTP/1.1\r\nHost: " + host_header(t) + "\r\nUser-Agent: " + std::string(user_agent) +
           "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

struct http_head {
    int status = 0;        // 0: no response head
    std::string location;
    std::string error;
};

// Reads one response head with the project's strict parser; `read` is recv_some-like.
template <typename Read>
http_head read_head(Read&& read, clock::time_point deadline) {
    http_head h;
    http::limits lim;
    http::response_parser p(lim);
    p.reset("GET");
    for (;;) {
        std::string chunk, error;
        io r = read(chunk, deadline, error);
        if (r == io::timeout) {
            h.error = "timed out waiting for the response";
            return h;
        }
        if (r == io::error) {
            h.error = error;
            return h;
        }
        if (r == io::closed) {
            h.error = p.started() ? "the server closed the connection inside the response head"
                                  : "the server closed the connection without a response";
            return h;
        }
        std::span<const char> in(chunk.data(), chunk.size());
        while (!in.empty()) {
            auto res = p.feed(in);
            in = in.subspan(res.consumed);
            if (res.event == http::parse_event::head_done || res.event == http::parse_event::message_done) {
                const auto& head = p.head();
                if (head.status >= 100 && head.status < 200) {  // interim: the final response follows
                    if (res.event == http::parse_event::head_done) continue;
                    p.next_response();
                    continue;
                }
                h.status = head.status;
                if (auto loc = http::find_header(head.headers, "Location")) h.location = std::string(*loc);
                return h;
            }
            if (res.event == http::parse_event::error) {
                h.error = "invalid HTTP response: " + std::string(p.error_reason());
                return h;
            }
            if (res.event == http::parse_event::need_more) break;
        }
    }
}

// ---- the per-target run ------------------------------------------------------------------------

class target_run {
public:
    target_run(const target& t, const probe_options& o) : o_(o) {
        f_.tgt = t;
        f_.input = t.url();
        f_.sni = !o.sni.empty() ? o.sni : t.host_is_ip ? std::string{} : t.host;
        f_.hostname = !o.sni.empty() ? o.sni : t.host;
        end_ = clock::now() + o.timeout * std::max(1, o.budget_factor);
    }

    target_facts run() {
        if (f_.tgt.scheme != "https") return std::move(f_);  // judged as plain HTTP, never contacted
        if (!reach()) return std::move(f_);

        std::vector<ossl::ptr<X509>> ats_chain;
        attempt(ats_config(), f_.ats_default, &ats_chain);

        // Each version on its own, with a permissive client.
        std::vector<ossl::ptr<X509>> chains[4];
        attempt(permissive_config(TLS1_3_VERSION), f_.tls13, &chains[0]);
        attempt(permissive_config(TLS1_2_VERSION), f_.tls12, &chains[1]);
        attempt(permissive_config(TLS1_1_VERSION), f_.tls11, &chains[2]);
        attempt(permissive_config(TLS1_VERSION), f_.tls10, &chains[3]);

        // The nscurl-style variants.
        std::vector<ossl::ptr<X509>> variant_chains[3];
        attempt(ats_config(TLS1_3_VERSION, TLS1_3_VERSION), f_.ats_tls13, &variant_chains[0]);
        attempt(ats_config(TLS1_2_VERSION, TLS1_2_VERSION), f_.ats_tls12, &variant_chains[1]);
        client_config no_pfs = ats_config(TLS1_2_VERSION, TLS1_2_VERSION);
        no_pfs.label = "ATS without PFS";
        no_pfs.cipher_list += ":kRSA:@SECLEVEL=0";
        attempt(no_pfs, f_.tls12_no_pfs, &variant_chains[2]);

        enumerate_suites();
        enumerate_non_pfs();

        // The certificate chain: from the ATS default connection, else from whatever connected.
        const std::vector<ossl::ptr<X509>>* chain = nullptr;
        if (f_.ats_default.ok) {
            chain = &ats_chain;
        } else {
            const std::pair<const handshake_facts*, const std::vector<ossl::ptr<X509>>*> fallbacks[] = {
                {&f_.ats_tls13, &variant_chains[0]}, {&f_.ats_tls12, &variant_chains[1]},
                {&f_.tls12_no_pfs, &variant_chains[2]}, {&f_.tls13, &chains[0]}, {&f_.tls12, &chains[1]},
                {&f_.tls11, &chains[2]}, {&f_.tls10, &chains[3]}};
            for (const auto& [hs, ch] : fallbacks) {
                if (hs->ok && !ch->empty()) {
                    chain = ch;
                    f_.chain_source = describe(*hs) + " connection";
                    break;
                }
            }
        }
        if (chain != nullptr && !chain->empty()) {
            tls::endpoint_facts ep;
            ep.name = f_.tgt.url();
            ep.kind = "probe";
            ep.address = f_.address;
            ep.server_name = f_.hostname;
            ep.cert_path = f_.tgt.authority();  // remediation text: "(served from host:port)"
            ep.trust_path = o_.trust_path;
            tls::verify_inputs in;
            in.trust = o_.trust;
            in.hostname = f_.hostname;
            in.check_public_trust = true;
            ep.chain = tls::inspect_chain(*chain, in);
            f_.endpoint = std::move(ep);
        }

        follow_redirects();
        plaintext();
        return std::move(f_);
    }

private:
    clock::time_point op_deadline() const { return std::min(clock::now() + o_.timeout, end_); }

    static std::string describe(const handshake_facts& h) {
        switch (h.version) {
            case TLS1_VERSION: return "TLS 1.0";
            case TLS1_1_VERSION: return "TLS 1.1";
            case TLS1_2_VERSION: return "TLS 1.2";
            case TLS1_3_VERSION: return "TLS 1.3";
            default: return "TLS";
        }
    }

    bool reach() {
        if (!resolve(f_.tgt.host, f_.tgt.port, op_deadline(), addrs_, f_.resolve_error)) {
            if (f_.resolve_error.empty()) f_.resolve_error = "no address";
            return false;
        }
        for (const auto& a : addrs_) f_.resolved.push_back(a.host);
        std::vector<std::string> errors;
        for (const auto& a : addrs_) {
            if (clock::now() >= end_) break;
            const auto start = clock::now();
            std::string error;
            bool timed_out = false;
            fd_guard fd = connect_to(a, op_deadline(), error, timed_out);
            if (fd.get() >= 0) {
                f_.address = a.text;
                f_.connect_ms = std::chrono::duration_cast<milliseconds>(clock::now() - start).count();
                chosen_ = a;
                return true;
            }
            errors.push_back(addrs_.size() > 1 ? a.text + ": " + error : error);
        }
        std::string joined = util::join(errors, "; ");
        f_.connect_error = joined.empty() ? "the per-target time budget ran out" : std::move(joined);
        return false;
    }

    // One handshake on a fresh connection, unless an earlier one timed out or the budget is spent.
    bool attempt(const client_config& c, handshake_facts& out, std::vector<ossl::ptr<X509>>* chain = nullptr) {
        out = handshake_facts{};
        if (stalled_) {
            out.skipped = "skipped after an earlier handshake timed out";
            return false;
        }
        if (clock::now() >= end_) {
            out.skipped = "skipped: the per-target time budget ran out";
            return false;
        }
        tls_connection conn;
        bool ok = conn.open(chosen_, f_.sni, c, op_deadline(), out, chain);
        if (out.timed_out) stalled_ = true;
        if (ok && !best_) best_ = c;
        return ok;
    }

    void enumerate_suites() {
        for (const auto& s : tls::suites) {
            suite_result r;
            r.name = std::string(s.openssl);
            r.tls13 = s.proto == tls::protocol::tls13;
            client_config c = r.tls13 ? ats_config(TLS1_3_VERSION, TLS1_3_VERSION) : ats_config(TLS1_2_VERSION, TLS1_2_VERSION);
            c.label = r.name;
            if (r.tls13)
                c.ciphersuites = r.name;
            else
                c.cipher_list = r.name;
            attempt(c, r.hs);
            // Accepted means negotiated exactly this suite.
            if (r.hs.ok && r.hs.cipher != r.name) {
                r.hs.ok = false;
                r.hs.error = "negotiated " + r.hs.cipher + " instead";
            }
            f_.suites.push_back(std::move(r));
        }
    }

    // Static-RSA suites, enumerated by exclusion: offer them all, note the one the server picks,
    // exclude it, repeat until the server refuses (at most one round per kRSA suite).
    void enumerate_non_pfs() {
        std::string list = "kRSA";
        for (int round = 0; round < 40; ++round) {
            client_config c = permissive_config(TLS1_2_VERSION);
            c.label = "non-PFS";
            c.cipher_list = list + ":@SECLEVEL=0";
            handshake_facts h;
            attempt(c, h);
            if (!h.attempted) {
                // The client refuses the list ("no cipher match") once every kRSA suite is
                // excluded: the enumeration is complete. Anything else (a stall, the budget) is not.
                f_.non_pfs_checked = h.skipped.rfind("client configuration", 0) == 0;
                if (!f_.non_pfs_checked) f_.non_pfs_skipped = h.skipped;
                return;
            }
            if (!h.ok) {
                f_.non_pfs_checked = !h.timed_out;
                if (h.timed_out) f_.non_pfs_skipped = h.error;
                return;
            }
            f_.non_pfs_accepted.push_back(h.cipher);
            list += ":!" + h.cipher;
        }
        f_.non_pfs_checked = true;
    }

    // Connects to `t` (the target itself, or a redirect's host) with the best configuration that
    // worked, sends GET and reads the response head.
    redirect_hop fetch(const target& t) {
        redirect_hop hop;
        hop.url = t.url();
        address a = chosen_;
        std::string sni = f_.sni;
        if (t.host != f_.tgt.host || t.port != f_.tgt.port) {
            std::vector<address> found;
            if (!resolve(t.host, t.port, op_deadline(), found, hop.error)) {
                hop.error = "name resolution failed: " + hop.error;
                return hop;
            }
            a = found.front();
            sni = t.host_is_ip ? std::string{} : t.host;
        }
        tls_connection conn;
        handshake_facts hs;
        if (!conn.open(a, sni, *best_, op_deadline(), hs, nullptr)) {
            hop.error = hs.attempted ? "TLS: " + hs.error : hs.skipped;
            return hop;
        }
        std::string error;
        if (conn.write_all(request_for(t), op_deadline(), error) != io::ok) {
            hop.error = error;
            return hop;
        }
        http_head h = read_head(
            [&](std::string& out, clock::time_point d, std::string& e) { return conn.read_some(out, d, e); },
            op_deadline());
        hop.status = h.status;
        hop.error = h.error;
        if (!h.location.empty()) {
            hop.location = resolve_location(t, h.location);
            if (hop.location.empty()) hop.location = h.location;  // another scheme: shown as is
        }
        return hop;
    }

    void follow_redirects() {
        auto& r = f_.redirect;
        if (!best_) {
            r.not_checked = "no TLS connection completed";
            return;
        }
        if (clock::now() >= end_) {
            r.not_checked = "the per-target time budget ran out";
            return;
        }
        r.checked = true;
        target current = f_.tgt;
        for (int hop_no = 0;; ++hop_no) {
            redirect_hop hop = fetch(current);
            const bool redirect = hop.status >= 300 && hop.status < 400 && !hop.location.empty();
            const std::string next = hop.location;
            r.hops.push_back(std::move(hop));
            if (!redirect) return;
            std::string error;
            auto t = parse_target(next, error);
            if (!t || t->scheme != "https") return;  // http:// (judged FAIL) or unusable: stop here
            if (std::any_of(r.hops.begin(), r.hops.end(), [&](const redirect_hop& h) { return h.url == t->url(); })) {
                r.loop = true;
                return;
            }
            if (hop_no + 1 >= o_.max_redirects) {
                r.limit_reached = true;
                return;
            }
            if (clock::now() >= end_) return;
            current = *t;
        }
    }

    void plaintext() {
        auto& p = f_.plaintext;
        p.port = o_.http_port;
        if (clock::now() >= end_) return;  // not checked
        p.checked = true;
        address a = chosen_;
        a.set_port(o_.http_port);
        bool timed_out = false;
        fd_guard fd = connect_to(a, op_deadline(), p.connect_error, timed_out);
        if (fd.get() < 0) return;
        p.open = true;
        target plain = f_.tgt;
        plain.scheme = "http";
        plain.port = o_.http_port;
        std::string error;
        if (send_all(fd.get(), request_for(plain), op_deadline(), error) != io::ok) {
            p.error = error;
            return;
        }
        http_head h = read_head(
            [&](std::string& out, clock::time_point d, std::string& e) { return recv_some(fd.get(), out, d, e); },
            op_deadline());
        p.responded = h.status != 0;
        p.status = h.status;
        p.location = h.location;
        p.error = h.error;
    }

    const probe_options& o_;
    target_facts f_;
    clock::time_point end_;
    std::vector<address> addrs_;
    address chosen_;
    bool stalled_ = false;
    std::optional<client_config> best_;  // first configuration that completed a handshake
};

}  // namespace

target_facts gather(const target& t, const probe_options& o) { return target_run(t, o).run(); }

std::vector<target_facts> gather_all(const std::vector<target>& targets, const probe_options& o, unsigned concurrency) {
    std::vector<target_facts> out(targets.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (;;) {
            const std::size_t i = next.fetch_add(1);
            if (i >= targets.size()) return;
            try {
                out[i] = gather(targets[i], o);
            } catch (const std::exception& e) {
                target_facts f;
                f.tgt = targets[i];
                f.input = targets[i].url();
                f.resolve_error = std::string("internal error while probing: ") + e.what();
                out[i] = std::move(f);
            }
        }
    };
    const unsigned n = std::clamp<unsigned>(concurrency, 1, 256);
    const std::size_t threads = std::min<std::size_t>(n, targets.size());
    if (threads <= 1) {
        worker();
        return out;
    }
    std::vector<std::thread> pool;
    pool.reserve(threads);
    try {
        for (std::size_t k = 0; k < threads; ++k) pool.emplace_back(worker);
    } catch (const std::system_error&) {
        // Fewer threads than asked for (resource limits): the ones started, or this one, do the rest.
        if (pool.empty()) worker();
    }
    for (auto& th : pool) th.join();
    return out;
}

}  // namespace atsgate::probe
