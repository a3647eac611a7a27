#include "bench/hsload/engine.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

namespace atsgate::bench {

const char* outcome_name(outcome o) noexcept {
    switch (o) {
    case outcome::ok: return "ok";
    case outcome::connect: return "connect";
    case outcome::handshake: return "handshake";
    case outcome::http_status: return "http_status";
    case outcome::timeout: return "timeout";
    case outcome::io: return "io";
    case outcome::stopped: return "stopped";
    }
    return "?";
}

// One client connection (a slot that is reconnected for every operation, or an idle connection).
struct engine::conn {
    explicit conn(asio::io_context& io) : sock(io), pace(io) {}
    socket_t sock;
    timer_t pace;                    // --rate: waits for the next operation's scheduled start
    ossl::ptr<SSL> ssl;
    ossl::ptr<SSL_SESSION> session;  // resumed*: the newest session the server gave this slot
    clock_type::time_point deadline = clock_type::time_point::max();
    bool timed_out = false;          // set by the watchdog; the current operation fails as timeout
    bool keep_sessions = false;      // resumed*: store sessions from the new-session callback
    unsigned tickets = 0;            // new-session callbacks on the current connection
};

namespace {

void log_exception(std::exception_ptr p, const char* what) {
    if (!p) return;
    try {
        std::rethrow_exception(p);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hsload: %s: unexpected exception: %s\n", what, e.what());
    } catch (...) {
        std::fprintf(stderr, "hsload: %s: unexpected exception\n", what);
    }
}

// The check-in a managed device sends after an MDM push (Apple's MDM protocol: a PUT of an "Idle"
// status plist to the server URL), its plist body padded to exactly `body_size` bytes.
std::string checkin_request(const options& o) {
    const std::string head_of_body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
        "<plist version=\"1.0\">\n<dict>\n"
        "\t<key>Status</key>\n\t<string>Idle</string>\n"
        "\t<key>UDID</key>\n\t<string>00008030-001A2B3C4D5E6F70</string>\n"
        "\t<key>EnrollmentID</key>\n\t<string>5A4F1C2E-9B7D-4E3A-8C61-0F2B7D9E4A13</string>\n"
        "\t<key>CommandUUID</key>\n\t<string>";
    const std::string tail_of_body = "</string>\n</dict>\n</plist>\n";
    std::string body = head_of_body;
    const std::size_t fixed = head_of_body.size() + tail_of_body.size();
    // Padding inside the last string (a long command UUID list, as far as framing is concerned).
    static constexpr char hex[] = "0123456789ABCDEF";
    for (std::size_t i = 0; fixed + i < o.body_size; ++i) body += hex[i % 16];
    body += tail_of_body;
    return "PUT " + o.path + " HTTP/1.1\r\nHost: " + o.host +
           "\r\nUser-Agent: MDM/1.0\r\nAccept: */*\r\nAccept-Language: en-US\r\nAccept-Encoding: gzip, deflate"
           "\r\nContent-Type: application/x-apple-aspen-mdm\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: keep-alive\r\n\r\n" + body;
}

double process_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

engine::engine(asio::io_context& io, const options& o, SSL_CTX& ctx, tcp::endpoint target)
    : io_(io),
      o_(o),
      ctx_(ctx),
      target_(target),
      watchdog_timer_(io),
      done_event_(io),
      start_event_(io),
      hold_timer_(io),
      signals_(io, SIGINT, SIGTERM, SIGUSR1) {
    if (o.what == scenario::checkin || o.what == scenario::checkin_full)
        request_ = checkin_request(o);
    else
        request_ = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + "\r\nUser-Agent: hsload\r\nAccept: */*\r\n\r\n";
    boost::system::error_code ec;
    asio::ip::make_address(o.host, ec);
    sni_ = static_cast<bool>(ec);  // not an IP literal
    const std::size_t n = o.what == scenario::idle ? o.count : o.concurrency;
    conns_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        conns_.push_back(std::make_unique<conn>(io));
        conns_.back()->keep_sessions = resumes(o.what);
    }
    if (uses_requests(o.what))
        for (unsigned i = 0; i < o.concurrency; ++i) readers_.push_back(std::make_unique<response_reader>());
    // Successful operations each store one latency; reserve so the measured phase never reallocates
    // (capped: a longer run reallocates a few times, which is harmless).
    r_.latency_ns.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(o.count, 10'000'000)));
}

engine::~engine() = default;

int engine::on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* c = static_cast<conn*>(SSL_get_app_data(ssl));
    if (c == nullptr) return 0;
    ++c->tickets;
    if (!c->keep_sessions) return 0;  // OpenSSL keeps ownership
    c->session = ossl::own(session);  // returning 1 hands us the reference
    return 1;
}

void engine::arm(conn& c, clock_type::time_point now) noexcept {
    c.timed_out = false;
    c.deadline = now + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o_.timeout_s));
}

void engine::drop(conn& c) noexcept {
    c.ssl.reset();
    boost::system::error_code ec;
    c.sock.close(ec);
}

outcome engine::fail(conn& c, outcome kind, const io_status& st, const char* phase) {
    outcome o = kind;
    if (st.err == err_timeout || c.timed_out) o = outcome::timeout;
    else if (st.err == err_stopped || stopping_) o = outcome::stopped;
    std::string errors = ossl::drain_errors();  // never leave errors queued for the next operation
    if (r_.first_error.empty() && o != outcome::stopped) {
        std::string text = std::string(phase) + (o == outcome::timeout ? " timed out" : " failed");
        if (st.err == SSL_ERROR_SYSCALL)
            text += st.sys_errno != 0 ? std::string(" (") + std::strerror(st.sys_errno) + ")" : " (connection closed)";
        else if (st.err == SSL_ERROR_ZERO_RETURN)
            text += " (close_notify received)";
        if (!errors.empty()) text += ": " + errors;
        r_.first_error = std::move(text);
    }
    return o;
}

template <typename Call>
asio::awaitable<engine::io_status> engine::ssl_io(conn& c, Call call) {
    for (;;) {
        if (c.timed_out) co_return io_status{0, err_timeout, 0};
        if (stopping_) co_return io_status{0, err_stopped, 0};
        ERR_clear_error();
        errno = 0;
        const int r = call();
        if (r > 0) co_return io_status{r, 0, 0};
        const int err = SSL_get_error(c.ssl.get(), r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            auto [ec] = co_await c.sock.async_wait(err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read
                                                                               : tcp::socket::wait_write);
            if (ec && ec != asio::error::operation_aborted) co_return io_status{0, SSL_ERROR_SYSCALL, ec.value()};
            continue;  // aborted: the loop head tells timeout from stop
        }
        co_return io_status{0, err, err == SSL_ERROR_SYSCALL ? errno : 0};
    }
}

asio::awaitable<outcome> engine::open(conn& c) {
    drop(c);
    c.tickets = 0;
    {
        auto [ec] = co_await c.sock.async_connect(target_);
        if (ec) co_return fail(c, outcome::connect, io_status{0, SSL_ERROR_SYSCALL, ec.value()}, "connect");
    }
    boost::system::error_code ec;
    c.sock.set_option(tcp::no_delay(true), ec);  // the GET right after Finished must not wait for an ACK
    c.sock.native_non_blocking(true, ec);        // OpenSSL does the reads and writes itself
    c.ssl = ossl::own(SSL_new(&ctx_));
    if (!c.ssl || SSL_set_fd(c.ssl.get(), c.sock.native_handle()) != 1) {
        co_return fail(c, outcome::handshake, io_status{0, SSL_ERROR_SSL, 0}, "SSL_new");
    }
    SSL_set_app_data(c.ssl.get(), &c);
    if (sni_) SSL_set_tlsext_host_name(c.ssl.get(), o_.host.c_str());
    if (!o_.ca.empty()) SSL_set1_host(c.ssl.get(), o_.host.c_str());
    if (c.keep_sessions && c.session) SSL_set_session(c.ssl.get(), c.session.get());
    const auto st = co_await ssl_io(c, [&c] { return SSL_connect(c.ssl.get()); });
    if (st.n <= 0) co_return fail(c, outcome::handshake, st, "handshake");
    co_return outcome::ok;
}

asio::awaitable<outcome> engine::exchange(conn& c, response_reader& reader) {
    SSL* s = c.ssl.get();
    const auto wr = co_await ssl_io(c, [this, s] { return SSL_write(s, request_.data(), static_cast<int>(request_.size())); });
    if (wr.n <= 0) co_return fail(c, outcome::io, wr, "write request");
    reader.reset();
    for (;;) {
        const auto p = reader.parse();
        if (p == response_reader::progress::done) break;
        if (p == response_reader::progress::error) {
            co_return fail(c, outcome::io, io_status{}, "malformed response");
        }
        const auto space = reader.space();
        const auto rd = co_await ssl_io(c, [s, space] { return SSL_read(s, space.data(), static_cast<int>(space.size())); });
        if (rd.n > 0) {
            reader.commit(static_cast<std::size_t>(rd.n));
            continue;
        }
        // SSL_OP_IGNORE_UNEXPECTED_EOF: a TCP EOF is a ZERO_RETURN too.
        if (rd.err == SSL_ERROR_ZERO_RETURN && reader.eof() == response_reader::progress::done) break;
        co_return fail(c, outcome::io, rd, "read response");
    }
    if (reader.status() < 200 || reader.status() > 299) {
        if (r_.first_error.empty()) r_.first_error = "response: HTTP status " + std::to_string(reader.status());
        co_return outcome::http_status;
    }
    co_return outcome::ok;
}

asio::awaitable<void> engine::close_gracefully(conn& c) {
    SSL* s = c.ssl.get();
    if (s != nullptr && (SSL_get_shutdown(s) & SSL_SENT_SHUTDOWN) == 0) {
        // SSL_shutdown: 0 = close_notify sent, 1 = also received, < 0 = retry or error.
        const auto st = co_await ssl_io(c, [s] {
            const int r = SSL_shutdown(s);
            return r >= 0 ? 1 : r;
        });
        if (st.n > 0 && (SSL_get_shutdown(s) & SSL_RECEIVED_SHUTDOWN) == 0) {
            // Wait for the server's close (close_notify or EOF), so its work for this connection is
            // done before the next operation; TLS 1.3 tickets still in flight are processed here.
            for (;;) {
                const auto rd = co_await ssl_io(c, [this, s] { return SSL_read(s, scratch_.data(), static_cast<int>(scratch_.size())); });
                if (rd.n > 0) continue;
                if (rd.err == err_timeout) ++r_.close_timeouts;
                break;
            }
        }
        ERR_clear_error();
        // Mark the close as clean before SSL_free. OpenSSL 3.0 handles an EOF under
        // SSL_OP_IGNORE_UNEXPECTED_EOF with SSL_set_shutdown(s, SSL_RECEIVED_SHUTDOWN), which clears
        // SSL_SENT_SHUTDOWN; SSL_free then treats the session as "bad" and makes it non-resumable
        // (servers that close without a close_notify, like nginx, would never be resumed).
        SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    if (measuring_) {
        ++r_.connections_closed;
        r_.tickets += c.tickets;
    }
    drop(c);
}

void engine::note_handshake(conn& c) {
    SSL* s = c.ssl.get();
    if (!measuring_) return;
    ++r_.handshakes;
    if (SSL_session_reused(s) == 1) ++r_.resumed;
    if (r_.neg.captured) return;
    auto& n = r_.neg;
    n.captured = true;
    n.version = SSL_get_version(s);
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(s)) n.cipher = SSL_CIPHER_get_name(cipher);
    EVP_PKEY* raw = nullptr;
    if (SSL_get_peer_tmp_key(s, &raw) == 1) {
        auto key = ossl::own(raw);
        char name[80] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key.get(), name, sizeof name, &len) == 1) n.group = name;
        else if (const char* t = EVP_PKEY_get0_type_name(key.get())) n.group = t;
    }
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(s, &alpn, &alpn_len);
    n.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    n.ems = SSL_version(s) == TLS1_2_VERSION ? (SSL_get_extms_support(s) == 1 ? 1 : 0) : -1;
}

void engine::record(outcome o, clock_type::time_point t0) {
    switch (o) {
    case outcome::ok:
        ++r_.ok;
        r_.latency_ns.push_back(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count()));
        break;
    case outcome::stopped: ++r_.stopped; break;
    default: ++r_.failures[static_cast<std::size_t>(o) - 1]; break;
    }
}

asio::awaitable<void> engine::worker(std::size_t index) {
    conn& c = *conns_[index];
    response_reader* reader = uses_requests(o_.what) ? readers_[index].get() : nullptr;
    while (may_start()) {
        const std::uint64_t number = r_.started++;
        auto t0 = clock_type::now();
        if (o_.rate > 0) {
            // Open loop: operation `number` is due at rate_start_ + number / rate; its latency counts
            // from then, so time spent waiting for a free slot (the server falling behind) shows.
            const auto due = rate_start_ + std::chrono::duration_cast<clock_type::duration>(
                                               std::chrono::duration<double>(static_cast<double>(number) / o_.rate));
            if (due > t0) {
                c.pace.expires_at(due);
                co_await c.pace.async_wait();
                if (stopping_) {
                    ++r_.stopped;
                    break;
                }
            }
            t0 = due;
        }
        arm(c, clock_type::now());
        outcome o = co_await open(c);
        if (o != outcome::ok) {
            record(o, t0);
            drop(c);
            continue;
        }
        note_handshake(c);
        switch (o_.what) {
        case scenario::request:
        case scenario::checkin:
        case scenario::checkin_full:
            o = co_await exchange(c, *reader);
            record(o, t0);
            break;
        case scenario::keepalive:
            // The first request is the operation started above; its latency starts at its write,
            // like the others (the handshake is amortised in the server's CPU per request, not here).
            for (unsigned k = 1;; ++k) {
                t0 = clock_type::now();
                o = co_await exchange(c, *reader);
                record(o, t0);
                if (o != outcome::ok || !reader->keep_alive() || k >= o_.requests_per_conn || !may_start()) break;
                ++r_.started;
                arm(c, clock_type::now());
            }
            break;
        default:  // handshake scenarios: the operation is the handshake
            record(outcome::ok, t0);
            break;
        }
        if (o == outcome::ok || o == outcome::http_status) co_await close_gracefully(c);
        else drop(c);
        c.deadline = clock_type::time_point::max();
    }
    if (--active_ == 0) done_event_.cancel();
}

asio::awaitable<void> engine::idle_worker() {
    while (may_start()) {
        conn& c = *conns_[r_.started++];
        const auto t0 = clock_type::now();
        arm(c, t0);
        const outcome o = co_await open(c);
        c.deadline = clock_type::time_point::max();
        if (o == outcome::ok) {
            note_handshake(c);
            ++r_.held;
        } else {
            drop(c);
        }
        record(o, t0);
    }
    if (--active_ == 0) done_event_.cancel();
}

asio::awaitable<void> engine::watchdog() {
    while (!finished_) {
        watchdog_timer_.expires_after(std::chrono::milliseconds(100));
        co_await watchdog_timer_.async_wait();
        if (finished_) break;
        const auto now = clock_type::now();
        if (!stopping_ && now >= hard_deadline_) {
            r_.duration_limit_hit = true;
            stop();
        }
        for (auto& c : conns_) {
            if (!c->timed_out && c->deadline <= now) {
                c->timed_out = true;
                boost::system::error_code ec;
                c->sock.cancel(ec);
            }
        }
    }
}

asio::awaitable<void> engine::signals() {
    while (!finished_) {
        auto [ec, sig] = co_await signals_.async_wait();
        if (ec) break;
        if (sig == SIGUSR1) {
            release();
        } else {
            r_.interrupted = true;
            stop();
        }
    }
}

void engine::stop() noexcept {
    stopping_ = true;
    boost::system::error_code ec;
    for (auto& c : conns_) {
        c->sock.cancel(ec);
        c->pace.cancel();
    }
    start_event_.cancel();
    hold_timer_.cancel();
}

void engine::release() noexcept {
    released_ = true;
    start_event_.cancel();
    hold_timer_.cancel();
}

void engine::finished() noexcept {
    finished_ = true;
    watchdog_timer_.cancel();
    boost::system::error_code ec;
    signals_.cancel(ec);
}

asio::awaitable<void> engine::run() {
    const auto t_begin = clock_type::now();
    hard_deadline_ = t_begin + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o_.duration_limit_s));
    asio::co_spawn(io_, watchdog(), [](std::exception_ptr p) { log_exception(p, "watchdog"); });
    asio::co_spawn(io_, signals(), [](std::exception_ptr p) { log_exception(p, "signals"); });

    if (resumes(o_.what)) {
        // Priming: one full handshake per slot, unmeasured, to obtain the session to resume.
        for (auto& cp : conns_) {
            if (stopping_) break;
            conn& c = *cp;
            arm(c, clock_type::now());
            if (co_await open(c) == outcome::ok) {
                co_await close_gracefully(c);
                ++r_.primed;
            } else {
                drop(c);
            }
            if (!c.session) ++r_.prime_failures;
            c.deadline = clock_type::time_point::max();
        }
        r_.first_error.clear();  // a priming failure shows in prime_failures
    }
    if (o_.wait_signal && !stopping_) {
        std::fputs("hsload: ready\n", stderr);
        std::fflush(stderr);
        start_event_.expires_at(clock_type::time_point::max());
        while (!released_ && !stopping_) co_await start_event_.async_wait();
        released_ = false;
    }

    measuring_ = true;
    const auto t0 = clock_type::now();
    rate_start_ = t0;
    const double cpu0 = process_cpu_s();
    const std::size_t workers = std::min<std::uint64_t>(o_.concurrency, o_.count);
    active_ = workers;
    done_event_.expires_at(clock_type::time_point::max());
    for (std::size_t i = 0; i < workers; ++i) {
        if (o_.what == scenario::idle)
            asio::co_spawn(io_, idle_worker(), [](std::exception_ptr p) { log_exception(p, "worker"); });
        else
            asio::co_spawn(io_, worker(i), [](std::exception_ptr p) { log_exception(p, "worker"); });
    }
    while (active_ > 0) co_await done_event_.async_wait();
    r_.wall_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    r_.client_cpu_s = process_cpu_s() - cpu0;
    measuring_ = false;

    if (o_.what == scenario::idle) {
        if (!stopping_) {
            std::fprintf(stderr, "hsload: holding %llu\n", static_cast<unsigned long long>(r_.held));
            std::fflush(stderr);
            hold_timer_.expires_after(std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o_.hold_s)));
            co_await hold_timer_.async_wait();  // expiry, SIGUSR1 or SIGINT
        }
        for (auto& cp : conns_) {
            if (cp->ssl) {
                ERR_clear_error();
                SSL_shutdown(cp->ssl.get());  // one non-blocking close_notify, no wait
                ERR_clear_error();
            }
            drop(*cp);
        }
    }
    finished();
}

}  // namespace atsgate::bench

