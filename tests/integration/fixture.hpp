#pragma once
// Integration-test fixture: drives the REAL atsgate binary against the REAL demo backend
// (deploy/demo/legacy_mdm.py) with real clients (openssl s_client, curl, Python's ssl module) and a
// small in-process OpenSSL client for what the command-line tools cannot do precisely.
//
// Typical test:
//
//     ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");   // a ctest skip when a tool is missing (a failure in CI)
//     itest::test_env env;                             // temp dir + certificates made now
//     itest::backend be(env);                          // python3 legacy_mdm.py on a free port
//     itest::proxy px(env, env.default_config(be));    // atsgate run, waits until its ports accept
//     auto r = itest::curl(env, {px.url("/echo")});    // run a command with a deadline
//     CHECK(px.counter("atsgate_requests_total") == 1);
//
// Rules the fixture follows (and tests using it should too):
// - Only 127.0.0.1. Ports come from binding port 0; a start that loses the race for a port
//   (EADDRINUSE) is retried on fresh ports.
// - Every wait has a deadline, scaled by ATSGATE_TEST_TIMEOUT_SCALE (default 1): no sleeps as
//   synchronisation, polling with a bound on both count and time.
// - Processes are spawned with posix_spawn, their stdout/stderr go to files in the test's temp
//   dir; on scope exit they get SIGTERM, then SIGKILL after a deadline. Only processes we started
//   are signalled, by PID.
// - Setup failures (a process that exits before its port accepts, a file that cannot be written)
//   throw std::runtime_error with the process's stderr, which Catch reports as the test's failure.
//
// Thread-safety: none of these objects are shared between threads, except that free functions may
// be called from several threads at once.

#include "tests/support/cert_factory.hpp"
#include "tls/ossl.hpp"

#include <openssl/ssl.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atsgate::itest {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

// ---- deadlines ---------------------------------------------------------------------------------

// ATSGATE_TEST_TIMEOUT_SCALE as a factor (default 1; clamped to 0.1 .. 1000).
double timeout_scale();
// `base` multiplied by timeout_scale().
milliseconds scaled(milliseconds base);
// now + scaled(base).
clock::time_point deadline_after(milliseconds base);
// Time left until `deadline`, never negative.
milliseconds remaining(clock::time_point deadline);
// Calls `done` every `every` until it returns true or scaled(within) has passed (bounded in count
// too); returns its last result. For conditions nothing can be waited on for (a counter, a log
// line, a port being refused).
bool poll_until(const std::function<bool()>& done, milliseconds within, milliseconds every = milliseconds(10));

// ---- tools and paths ---------------------------------------------------------------------------

// The names in `tools` that are not executable files on $PATH (empty: all there).
std::vector<std::string> missing_tools(std::initializer_list<std::string_view> tools);
// Whether a missing tool must fail a test instead of skipping it: $ATSGATE_REQUIRE_TOOLS when set
// and not empty (anything but "0" requires), otherwise whether $CI is "true".
bool tools_required();
// What a skipped test prints ("ATSGATE-SKIPPED:", from CMake's ATSGATE_SKIP_MARKER).
std::string_view skip_marker();
// Records `reason` for the running test case; when the test case ends without a failed assertion,
// "<skip_marker()> reasons" is printed on stdout (a Catch2 listener in fixture.cpp). A test case
// with a failure prints no skip line, so ctest reports the failure. See ATSGATE_SKIP_BECAUSE.
void report_skip(const std::string& reason);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// The atsgate binary under test: $ATSGATE_TEST_BINARY if set (another build, an installed
// package), else the build's $<TARGET_FILE:atsgate>.
fs::path atsgate_binary();
// deploy/demo/legacy_mdm.py in the source tree.
fs::path backend_script();

// Reads a whole file ("" if it does not exist).
std::string read_text(const fs::path& p);

// ---- child processes ---------------------------------------------------------------------------

struct spawn_options {
    std::vector<std::pair<std::string, std::string>> env;  // set in the child (added or replaced)
    fs::path stdin_path;   // empty: /dev/null
    fs::path stdout_path;  // empty: /dev/null
    fs::path stderr_path;  // empty: /dev/null
};

// A child process started with posix_spawnp. Move-only. The destructor stops it (stop()).
class process {
public:
    process() = default;
    // Starts argv[0] (looked up on $PATH unless it contains a '/'). Throws std::runtime_error.
    process(const std::vector<std::string>& argv, const spawn_options& opts);
    ~process();
    process(process&& other) noexcept;
    process& operator=(process&& other) noexcept;
    process(const process&) = delete;
    process& operator=(const process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    // True until the child has exited (reaps it when it has).
    bool running();
    // Exit code, or 128 + signal number if it was killed; nullopt while it runs.
    std::optional<int> status() const noexcept { return status_; }
    // Waits until the child exits or `deadline` passes; returns status().
    std::optional<int> wait(clock::time_point deadline);
    // Sends `sig` to the child if it has not been reaped. Returns false if it had already exited.
    bool signal(int sig);
    // SIGTERM, wait up to scaled(grace), then SIGKILL and wait. Returns the final status
    // (-1 if there was no child).
    int stop(milliseconds grace = milliseconds(5000));

    const fs::path& stdout_path() const noexcept { return out_; }
    const fs::path& stderr_path() const noexcept { return err_; }
    std::string stdout_text() const { return out_.empty() ? std::string{} : read_text(out_); }
    std::string stderr_text() const { return err_.empty() ? std::string{} : read_text(err_); }

private:
    friend struct process_access;  // run_command() adopts a child it spawned with pipes
    void reap(int wstatus) noexcept;
    void release() noexcept;

    pid_t pid_ = -1;
    int pidfd_ = -1;  // pidfd_open() of the child, -1 if unavailable (then waits poll waitpid)
    std::optional<int> status_;
    fs::path out_, err_;
};

struct command_result {
    int exit_code = -1;      // exit code, or 128 + signal; -1 if it timed out
    bool timed_out = false;  // killed at the deadline
    std::string out;         // stdout (unless command_options::on_stdout took it)
    std::string err;         // stderr
    // "exit 3" / "timed out", then stderr: for assertion messages.
    std::string describe() const;
};

struct command_options {
    std::vector<std::pair<std::string, std::string>> env;  // set in the child
    fs::path stdin_path;                                   // empty: /dev/null
    milliseconds timeout{60000};                           // scaled; then SIGKILL
    // When set, stdout is streamed here piece by piece instead of collected in `out` (for
    // hundreds of MiB of download).
    std::function<void(std::string_view)> on_stdout;
};

// Runs argv to completion (or the deadline) capturing stdout and stderr. Throws only if the
// process cannot be started.
command_result run_command(const std::vector<std::string>& argv, const command_options& opts = {});

// ---- ports -------------------------------------------------------------------------------------

// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close).
std::uint16_t free_port();
// True if a TCP connect to 127.0.0.1:port succeeds now.
bool port_accepts(std::uint16_t port);
// True if 127.0.0.1:port can be bound now (nothing listens there).
bool port_is_free(std::uint16_t port);
// Polls connect until 127.0.0.1:port accepts. Throws std::runtime_error (with the child's stderr)
// if `owner` exits first or the deadline passes.
void wait_for_port(std::uint16_t port, clock::time_point deadline, process& owner, std::string_view what);

// ---- the configuration file --------------------------------------------------------------------

struct listener_spec {
    std::string name = "mdm";
    std::string kind = "https";  // "scep": plaintext; cert, key, trust and server_name are not written
    std::uint16_t port = 0;  // 0: a free port is chosen when the proxy starts
    fs::path cert, key, trust;
    std::string server_name = "localhost";
    std::string upstream = "legacy";  // the listener's default upstream; "" = none (routes only)
    // More TOML lines inside this [[listener]] (e.g. tls12_ciphers = [...]); may end with
    // [[listener.certificate]] / [[listener.route]] tables, which belong to this listener.
    std::string extra;
};

struct config_spec {
    unsigned workers = 2;
    std::string drain_timeout = "10s";
    std::string log_level = "info";
    std::string server_extra;  // more lines inside [server] (e.g. watch = true)
    std::string timeouts;  // body of [timeouts] ("" = section omitted)
    std::string limits;    // body of [limits]
    std::vector<listener_spec> listeners;
    std::string upstream_url;    // "http://127.0.0.1:PORT"
    std::string upstream_extra;  // more TOML lines inside [[upstream]] (e.g. response_timeout = "1s")
    std::uint16_t admin_port = 0;  // 0 with admin = true: chosen at start
    bool admin = true;
    std::string admin_token;  // [admin] token; proxy::scrape() and proxy::admin() send it
    // TOML appended after everything else, e.g. more [[upstream]] tables for routes and splits
    // (the "legacy" upstream at upstream_url is always written).
    std::string extra;
    // Environment variables set for the atsgate process (not part of the TOML), e.g. NOTIFY_SOCKET.
    std::vector<std::pair<std::string, std::string>> process_env;
};

// The TOML text of `c` (ports as they are: choose them first).
std::string to_toml(const config_spec& c);

// ---- certificates and the per-test directory ---------------------------------------------------

struct cert_files {
    fs::path cert;  // PEM chain, leaf first
    fs::path key;   // PEM private key
};

// One test's world: a private temp dir (removed on scope exit) and a PKI generated at test time:
// an ECDSA P-256 root and two compliant leaves for localhost / 127.0.0.1 it signed directly
// (ECDSA P-256 and RSA-2048), valid from now-1h for 90 days.
class test_env {
public:
    test_env();  // throws std::runtime_error

    const fs::path& dir() const noexcept { return dir_.path(); }
    fs::path path(const std::string& name) const { return dir_.file(name); }
    // Writes `text` to dir()/name and returns the path.
    fs::path write(const std::string& name, const std::string& text) const { return dir_.write_text(name, text); }

    const test::cert_factory& factory() const noexcept { return factory_; }
    const test::test_cert& root() const noexcept { return root_; }
    const fs::path& root_pem() const noexcept { return root_pem_; }
    const cert_files& ecdsa() const noexcept { return ecdsa_; }
    const cert_files& rsa() const noexcept { return rsa_; }

    // A compliant leaf spec for localhost + 127.0.0.1 with key type `k`; tweak one field to make
    // a non-compliant one and sign it with issue().
    static test::cert_spec leaf_spec(test::key_type k = test::key_type::ec_p256);
    // Builds `spec` signed by `issuer`, or self-signed when `issuer` is null.
    test::test_cert make(const test::cert_spec& spec, const test::test_cert* issuer) const;
    // Writes `chain` (leaf first) to NAME.pem and key_owner's private key to NAME.key.
    cert_files write_cert(const std::string& name, const std::vector<const test::test_cert*>& chain,
                          const test::test_cert& key_owner) const;
    // make() signed by the root (or self-signed), then write_cert() of the leaf alone (the root is
    // not served).
    cert_files issue(const std::string& name, const test::cert_spec& spec, bool self_signed = false) const;

    // A config for one ECDSA listener "mdm" in front of `upstream_url` (ports chosen at start).
    config_spec default_config(const std::string& upstream_url) const;

private:
    test::temp_dir dir_;
    test::cert_factory factory_;
    test::test_cert root_;
    fs::path root_pem_;
    cert_files ecdsa_, rsa_;
};

// ---- the demo backend ----------------------------------------------------------------------------

// python3 deploy/demo/legacy_mdm.py on a free loopback port, logging every request line it
// receives to a file in the test's dir. Stopped on scope exit. Move-only.
//
// Several backends: construct one per name. `name` also names its files (NAME-requests.log,
// NAME.out, NAME.err) and is sent back in an "X-Backend: NAME" header on every response, so a test
// can tell which backend answered (header_value(response, "x-backend")) as well as read each
// one's request log. With `tls`, the backend serves HTTPS with that certificate (an https://
// upstream member) and url() says https.
class backend {
public:
    explicit backend(const test_env& env, const std::string& name = "backend",
                     const std::optional<cert_files>& tls = std::nullopt);

    const std::string& name() const noexcept { return name_; }
    std::uint16_t port() const noexcept { return port_; }
    std::string url() const { return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_); }
    // A plain-HTTP GET straight to the backend (not through the proxy), e.g. "/health/down".
    // Only for plain-HTTP backends. Returns the whole response. Throws std::runtime_error.
    std::string get(std::string_view target) const;
    // Every request line received so far, in order.
    std::vector<std::string> request_lines() const;
    // True if some received request line contains `needle`.
    bool received(std::string_view needle) const;
    process& proc() noexcept { return proc_; }
    // Stops the backend (TERM, then KILL): its port refuses connections until start().
    void stop();
    // Starts it again on the same port (a restart); returns once the port accepts. Throws
    // std::runtime_error if it cannot (e.g. the port was taken meanwhile).
    void start();

private:
    void spawn(const test_env& env);

    std::string name_;
    std::optional<cert_files> tls_files_;
    const test_env* env_ = nullptr;
    bool tls_ = false;
    fs::path log_;
    std::uint16_t port_ = 0;
    process proc_;
};

// ---- the proxy -----------------------------------------------------------------------------------

// Prometheus text from the admin endpoint, by full series name including labels, e.g.
// `atsgate_handshake_refused_total{reason="no_ems"}`.
struct metrics {
    std::map<std::string, std::uint64_t, std::less<>> values;
    // The value of `series`; throws std::runtime_error if absent (a renamed metric must fail).
    std::uint64_t get(std::string_view series) const;
};
// `atsgate_handshake_refused_total{reason="REASON"}`.
std::string refused_series(std::string_view reason);

// `atsgate run -c CONFIG` with `spec`: free ports are filled in (admin always enabled), the config
// is written to the test's dir, and the constructor returns once every listener and the admin port
// accept connections (each readiness probe is a TCP connect without a handshake: it shows up as
// one atsgate_handshakes_aborted_total per listener, a moment later). Stopped (TERM, then KILL) on
// scope exit.
class proxy {
public:
    proxy(const test_env& env, config_spec spec, const std::string& name = "atsgate");

    std::uint16_t port(std::size_t listener = 0) const { return spec_.listeners.at(listener).port; }
    std::uint16_t admin_port() const noexcept { return spec_.admin_port; }
    // "https://127.0.0.1:PORT" + path.
    std::string url(std::string_view path, std::size_t listener = 0) const;
    const config_spec& spec() const noexcept { return spec_; }
    const fs::path& config_path() const noexcept { return config_; }
    process& proc() noexcept { return proc_; }

    // GET /metrics (with the admin token, if configured). Throws std::runtime_error on failure.
    metrics scrape() const;
    // One request to the admin endpoint: `method target`, with "Authorization: Bearer <token>"
    // when the config has an admin token and `with_token`. Returns the whole response.
    std::string admin(std::string_view method, std::string_view target, bool with_token = true) const;
    std::uint64_t counter(std::string_view series) const { return scrape().get(series); }
    // Polls until `series` >= at_least or the deadline (scaled `within`); returns the last value.
    // Counters are bumped by the proxy after the client saw the outcome, hence the polling.
    std::uint64_t wait_for_counter(std::string_view series, std::uint64_t at_least,
                                   milliseconds within = milliseconds(5000)) const;

private:
    config_spec spec_;
    fs::path config_;
    process proc_;
};

// A plain HTTP/1.1 GET to 127.0.0.1:port (used for the admin endpoint). Returns the whole
// response (head and body) read until the server closes. Throws std::runtime_error.
std::string http_get(std::uint16_t port, std::string_view target, milliseconds timeout = milliseconds(5000));
// The same with any method and extra header lines ("Name: value\r\n" each), sent with
// "Content-Length: 0" and "Connection: close".
std::string http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         std::string_view extra_headers = {}, milliseconds timeout = milliseconds(5000));
// Sends `request` exactly as given (head and body) and reads until the server closes.
std::string http_exchange(std::uint16_t port, std::string_view request, milliseconds timeout = milliseconds(5000));

// A plain TCP connection to 127.0.0.1:port for what no real client does on purpose: stay silent,
// stop after a ClientHello, send garbage. Sends nothing unless asked. Closed on scope exit.
class raw_tcp {
public:
    // Connects (within scaled 5 s). Throws std::runtime_error.
    explicit raw_tcp(std::uint16_t port);
    ~raw_tcp();
    raw_tcp(const raw_tcp&) = delete;
    raw_tcp& operator=(const raw_tcp&) = delete;

    // Sends all of `bytes`. Throws std::runtime_error.
    void send(std::string_view bytes);
    void close() noexcept;
    // True once at least one byte arrived within scaled(within) (e.g. the server's answer to a ClientHello).
    bool received_some(milliseconds within = milliseconds(5000));
    // Reads (and discards) until the server closes (EOF or reset): true, or false if the
    // connection is still open after scaled(within).
    bool closed_by_server(milliseconds within = milliseconds(5000));

private:
    int fd_ = -1;
};

// ---- command-line clients ----------------------------------------------------------------------

// curl -sS --cacert ROOT --max-time T ARGS... (T from `opts.timeout`).
command_result curl(const test_env& env, const std::vector<std::string>& args, command_options opts = {});

// openssl s_client -connect 127.0.0.1:PORT ARGS..., with OPENSSL_CONF pointing at a file holding
// `openssl_conf` (default: an empty config, so the system's policy does not interfere) and
// `stdin_text` as its input (an HTTP request, usually; "" = none). -ign_eof is added so that it
// waits for the server to close after the input ends.
command_result s_client(const test_env& env, std::uint16_t port, const std::vector<std::string>& args,
                        const std::string& stdin_text = "", const std::string& openssl_conf = "");

// The TLS alert number s_client reports having received ("SSL alert number N"), or -1.
int s_client_alert(const command_result& r);

// ---- the in-process TLS client -----------------------------------------------------------------

struct tls_client_options {
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string cipher_list;   // TLS 1.2 suites (OpenSSL syntax); "" = OpenSSL's default
    std::string ciphersuites;  // TLS 1.3 suites; "" = default
    std::string groups;        // e.g. "X448"; "" = default
    bool no_ems = false;       // SSL_OP_NO_EXTENDED_MASTER_SECRET: offer no EMS extension
    std::string sni;           // server_name; "" = none
    fs::path ca_file;          // verify the server against it (for `sni`, else for 127.0.0.1); empty = none
    std::string sigalgs;       // signature algorithms offered (e.g. "rsa_pss_rsae_sha256"); "" = default
    fs::path cert_file, key_file;  // client certificate (PEM chain) and key; empty = none
    SSL_SESSION* session = nullptr;  // borrowed: offered for resumption (from tls_client::session())
    // The client's last handshake flight leaves in one segment with the first write, as devices
    // send their first request (TCP_CORK from the server's Finished until write() returns).
    bool finished_with_request = false;
    milliseconds timeout{10000};  // scaled; bounds connect + handshake and each read/write call
};

// A blocking OpenSSL client over one TCP connection to 127.0.0.1 with deadlines (SO_RCVTIMEO /
// SO_SNDTIMEO). Sends arbitrary bytes and reads the raw reply, for smuggling tests; records the
// TLS alert the server sent.
class tls_client {
public:
    explicit tls_client(tls_client_options opts = {});
    ~tls_client();
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    struct handshake_result {
        bool ok = false;
        int alert = -1;      // description of the alert received from the server, -1 = none
        std::string error;   // OpenSSL error text when !ok
        std::string version;  // "TLSv1.2" / "TLSv1.3" when ok
        std::string cipher;   // OpenSSL suite name when ok
        bool ems = false;     // TLS 1.2: extended master secret negotiated
        std::string group;    // key exchange group negotiated ("X25519", "prime256v1"), "" if unknown
        std::string peer_sigalg;  // the signature algorithm the server signed its handshake with
    };
    handshake_result connect(std::uint16_t port);

    // Writes all of `bytes`; false on error or timeout.
    bool write(std::string_view bytes);

    struct read_result {
        std::string data;
        bool closed = false;     // the server closed (close_notify, EOF or reset)
        bool timed_out = false;  // the deadline passed first
    };
    // Reads until the server closes or the deadline (scaled `within`).
    read_result read_until_close(milliseconds within = milliseconds(5000));
    // Reads exactly one HTTP/1.1 response (Content-Length, chunked or, failing both, up to close);
    // the response to a HEAD request (`head_request`) ends with its head. Bytes after it are kept
    // for the next read.
    read_result read_response(milliseconds within = milliseconds(5000), bool head_request = false);

    // One request on the open connection: write(request), then read_response(within).
    read_result request(std::string_view request, milliseconds within = milliseconds(5000));

    // The session to resume later (TLS 1.3: read a response first, so its ticket has arrived);
    // null before a handshake.
    ossl::ptr<SSL_SESSION> session() const;
    // Whether the handshake resumed tls_client_options::session.
    bool reused() const;
    // The server's leaf certificate (borrowed; valid while this client lives), null if none.
    X509* peer_certificate() const;

    SSL* native() noexcept { return ssl_.get(); }

private:
    // One SSL_read into `out`; returns false on close/error/timeout (flags set in `r`).
    bool read_some(std::string& out, clock::time_point deadline, read_result& r);

    tls_client_options opts_;
    ossl::ptr<SSL_CTX> ctx_;
    ossl::ptr<SSL> ssl_;
    int fd_ = -1;
    int alert_ = -1;
    std::string pending_;  // bytes read past the end of the last response
};

// The first line of an HTTP response ("HTTP/1.1 400 Bad Request"), or "".
std::string status_line(std::string_view response);
// The numeric status of an HTTP response, 0 if it does not parse.
int status_of(std::string_view response);
// The value of the first header field `name` (case-insensitive) in the head of `response`,
// without surrounding whitespace; "" if absent.
std::string header_value(std::string_view response, std::string_view name);
// The body of `response` (what follows the head; de-chunked when the head says chunked).
std::string body_of(std::string_view response);
// The request headers the demo backend received, from the JSON its /headers endpoint answers
// ({"headers": [[name, value], ...]}): lower-case name -> value, in order. Throws
// std::runtime_error if `json` has no such list.
std::multimap<std::string, std::string> echoed_headers(std::string_view json);

// ---- certificates --------------------------------------------------------------------------------

// The subject commonName of `cert` ("" if none).
std::string common_name(X509* cert);
// The serial number of `cert` as hex.
std::string serial_hex(X509* cert);

// ---- hashing -------------------------------------------------------------------------------------

// Incremental SHA-256, hex output.
class sha256 {
public:
    sha256();
    void update(std::string_view data);
    std::string hex();  // finishes; call once

private:
    ossl::ptr<EVP_MD_CTX> ctx_;
};

// SHA-256 of the backend's /bytes/N body: byte i is (i mod 256).
std::string pattern_sha256(std::uint64_t n);
// Writes `n` bytes of a deterministic, non-repeating pseudo-random pattern to `path` (streamed,
// 1 MiB at a time) and returns their SHA-256.
std::string write_pattern_file(const fs::path& path, std::uint64_t n, std::uint64_t seed = 1);

}  // namespace atsgate::itest

// Skips the current test -- or the current SECTION, when used inside one -- for `reason` (a
// string expression) and returns; at the end of the test case "ATSGATE-SKIPPED: reason" is printed
// (every integration test has that line as ctest's SKIP_REGULAR_EXPRESSION, so ctest reports the
// test as skipped, not passed) unless something else in it failed. With ATSGATE_REQUIRE_TOOLS=1
// (scripts/test and CI, which install every tool) it fails instead.
// Use it before the first SECTION, or in the last one: Catch2 finds a SECTION only when a run of the
// test case reaches it, so the sections after a skipping one are never run (nor reported).
#define ATSGATE_SKIP_BECAUSE(reason)                                                          \
    do {                                                                                      \
        const std::string atsgate_skip_reason_ = (reason);                                    \
        if (::atsgate::itest::tools_required())                                               \
            FAIL("ATSGATE_REQUIRE_TOOLS=1 and " << atsgate_skip_reason_);                     \
        ::atsgate::itest::report_skip(atsgate_skip_reason_);                                  \
        return;                                                                               \
    } while (false)

// Skips (ATSGATE_SKIP_BECAUSE) when a command-line tool is not on $PATH.
#define ATSGATE_SKIP_UNLESS_TOOLS(...)                                                                     \
    do {                                                                                                   \
        const auto atsgate_missing_tools_ = ::atsgate::itest::missing_tools({__VA_ARGS__});                \
        if (!atsgate_missing_tools_.empty())                                                               \
            ATSGATE_SKIP_BECAUSE(::atsgate::itest::join(atsgate_missing_tools_, ", ") + " not on PATH");  \
    } while (false)
