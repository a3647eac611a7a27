#pragma once
// hsload's client engine: C coroutines on one io_context, each running operations back to back
// until --count operations were started or the run was stopped.
//
// TLS I/O: OpenSSL reads and writes the non-blocking socket itself (socket BIO, read-ahead); Asio
// only reports readiness (async_wait). One client SSL_CTX for the whole run; per connection only
// OpenSSL's own objects are allocated (SSL, and its session for resumption). Connection objects,
// response buffers and the latency array are allocated once, before the measured phase.
//
// Deadlines: each operation arms its connection's deadline; a 100 ms watchdog cancels the socket of
// any connection past it (the operation then fails as `timeout`) and stops the run at the
// --duration-limit. Thread affinity: everything runs on the io_context's single thread.

#include "bench/hsload/options.hpp"
#include "bench/hsload/response_reader.hpp"
#include "tls/ossl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace atsgate::bench {

namespace asio = boost::asio;
using token_t = asio::as_tuple_t<asio::use_awaitable_t<>>;
using tcp = asio::ip::tcp;
using socket_t = token_t::as_default_on_t<tcp::socket>;
using timer_t = token_t::as_default_on_t<asio::steady_timer>;
using signals_t = token_t::as_default_on_t<asio::signal_set>;
using clock_type = std::chrono::steady_clock;

// How an operation ended.
enum class outcome {
    ok,
    connect,      // TCP connect failed
    handshake,    // the TLS handshake failed (alert, reset, EOF)
    http_status,  // a response with a status outside 200..299
    timeout,      // the operation's deadline passed
    io,           // a read/write failed or the response was malformed after the handshake
    stopped,      // the run was stopped (duration limit, SIGINT) while it was in flight; not a failure
};
inline constexpr std::size_t failure_kinds = 5;  // connect .. io
const char* outcome_name(outcome o) noexcept;

// What the server negotiated on the first measured handshake.
struct negotiated {
    bool captured = false;
    std::string version, cipher, group, alpn;
    int ems = -1;  // TLS 1.2: 1 / 0; TLS 1.3: -1 (not applicable)
};

// Everything the report prints.
struct results {
    std::uint64_t started = 0, ok = 0, stopped = 0;
    std::array<std::uint64_t, failure_kinds> failures{};
    std::uint64_t handshakes = 0, resumed = 0;     // measured handshakes, of which resumptions
    std::uint64_t connections_closed = 0, tickets = 0;  // tickets: new-session callbacks over closed connections
    std::uint64_t close_timeouts = 0;              // server did not close within the deadline after close_notify
    std::uint64_t primed = 0, prime_failures = 0;  // resumed*: unmeasured priming handshakes
    std::uint64_t held = 0;                        // idle: connections held
    bool duration_limit_hit = false, interrupted = false;
    double wall_s = 0, client_cpu_s = 0;
    std::vector<std::uint64_t> latency_ns;  // one per successful operation
    negotiated neg;
    std::string first_error;  // text of the first failure
    std::uint64_t failed() const noexcept {
        std::uint64_t n = 0;
        for (auto f : failures) n += f;
        return n;
    }
};

class engine {
public:
    // `ctx` is borrowed and outlives the engine. Connections and buffers are allocated here.
    engine(asio::io_context& io, const options& o, SSL_CTX& ctx, tcp::endpoint target);
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;
    ~engine();

    // The whole run: priming, optional wait for SIGUSR1, measured phase, idle hold, close.
    asio::awaitable<void> run();
    results& result() noexcept { return r_; }

    // Installed on the client SSL_CTX (SSL_CTX_sess_set_new_cb); finds the connection via app data.
    static int on_new_session(SSL* ssl, SSL_SESSION* session);

private:
    struct conn;
    struct io_status {
        int n = 0;    // > 0: the OpenSSL call succeeded with this value
        int err = 0;  // SSL_ERROR_* when n <= 0, or err_timeout / err_stopped
        int sys_errno = 0;
    };
    static constexpr int err_timeout = 1000;
    static constexpr int err_stopped = 1001;

    asio::awaitable<void> worker(std::size_t index);
    asio::awaitable<void> idle_worker();
    asio::awaitable<void> watchdog();
    asio::awaitable<void> signals();
    // TCP connect + TLS handshake on `c` (its previous connection, if any, is dropped first).
    asio::awaitable<outcome> open(conn& c);
    // One GET on the established connection `c`, response read into `reader`.
    asio::awaitable<outcome> exchange(conn& c, response_reader& reader);
    // close_notify, then read until the server closes (bounded by the deadline); closes the socket.
    asio::awaitable<void> close_gracefully(conn& c);
    // Repeats `call` (an SSL_* function on c) while OpenSSL wants the socket readable/writable.
    template <typename Call>
    asio::awaitable<io_status> ssl_io(conn& c, Call call);

    void drop(conn& c) noexcept;  // after a failure: free the SSL, close the socket, no close_notify
    outcome fail(conn& c, outcome kind, const io_status& st, const char* phase);
    void note_handshake(conn& c);
    void record(outcome o, clock_type::time_point t0);
    bool may_start() const noexcept { return !stopping_ && r_.started < o_.count; }
    void arm(conn& c, clock_type::time_point now) noexcept;
    void stop() noexcept;
    void release() noexcept;
    void finished() noexcept;

    asio::io_context& io_;
    const options& o_;
    SSL_CTX& ctx_;
    tcp::endpoint target_;
    std::string request_;  // the GET (or the check-in PUT with its body), built once
    bool sni_ = true;      // false when --host is an IP literal (RFC 6066: no IP addresses in SNI)
    std::vector<std::unique_ptr<conn>> conns_;
    std::vector<std::unique_ptr<response_reader>> readers_;
    std::array<char, 4096> scratch_{};  // discarded bytes while waiting for the server's close

    results r_;
    bool measuring_ = false;  // handshakes count towards the results (not priming)
    bool stopping_ = false;
    bool released_ = false;   // SIGUSR1 received while waiting
    bool finished_ = false;
    std::size_t active_ = 0;  // running workers
    clock_type::time_point hard_deadline_;
    clock_type::time_point rate_start_;  // --rate: when operation 0 is scheduled
    timer_t watchdog_timer_;
    timer_t done_event_;   // cancelled when the last worker ends
    timer_t start_event_;  // --wait-signal: cancelled by SIGUSR1
    timer_t hold_timer_;   // idle: hold period, cancelled by SIGUSR1
    signals_t signals_;
};

}  // namespace atsgate::bench
