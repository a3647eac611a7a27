#include "tests/integration/fixture.hpp"

// The skip listener below is a Catch2 event listener outside the file with CATCH_CONFIG_MAIN.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#ifndef ATSGATE_BIN
#error "ATSGATE_BIN must name the atsgate binary under test"
#endif
#ifndef ATSGATE_SOURCE_DIR
#error "ATSGATE_SOURCE_DIR must name the source tree"
#endif

extern char** environ;

namespace atsgate::itest {

namespace {

using namespace std::chrono_literals;

std::string errno_text(int e) { return std::strerror(e); }

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

// Drains OpenSSL's error queue into one line.
std::string ssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

// Last `n` characters of `s` (for error messages that quote a log).
std::string tail(const std::string& s, std::size_t n = 4000) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

int poll_ms(milliseconds d) { return static_cast<int>(std::min<milliseconds::rep>(d.count(), 1000 * 60 * 60)); }

// The environment for a child: ours with `overrides` set.
std::vector<std::string> child_env(const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view kv = *e;
        const auto name = kv.substr(0, kv.find('='));
        const bool replaced = std::any_of(overrides.begin(), overrides.end(), [&](const auto& o) { return o.first == name; });
        if (!replaced) env.emplace_back(kv);
    }
    for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// posix_spawnp with fds 0/1/2 taken from in/out/err (which the caller closes afterwards). Signal
// dispositions and mask are reset so that what the test process ignores does not leak into the
// child. Throws on failure.
pid_t spawn_with_fds(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                     int in, int out, int err) {
    if (argv.empty()) fail("spawn: empty argv");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> args = argv;
    std::vector<std::string> envs = child_env(env);
    auto cargs = c_strings(args);
    auto cenv = c_strings(envs);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, cargs[0], &fa, &attr, cargs.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) fail("cannot start " + argv[0] + ": " + errno_text(rc));
    return pid;
}

int open_or_fail(const fs::path& p, int flags) {
    const int fd = ::open(p.empty() ? "/dev/null" : p.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) fail("cannot open " + (p.empty() ? std::string("/dev/null") : p.string()) + ": " + errno_text(errno));
    return fd;
}

struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// A connected TCP socket to 127.0.0.1:port (blocking), or -1 with errno set.
int tcp_connect(std::uint16_t port, clock::time_point deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    const sockaddr_in a = loopback(port);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, poll_ms(remaining(deadline)));
        if (rc == 1) {
            int soerr = 0;
            socklen_t len = sizeof soerr;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
            rc = soerr == 0 ? 0 : -1;
            errno = soerr;
        } else {
            rc = -1;
            errno = ETIMEDOUT;
        }
    }
    if (rc != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

void set_io_timeout(int fd, milliseconds t) {
    if (t < 1ms) t = 1ms;  // 0 would mean "no timeout"
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(t.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string toml_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// If `buf` holds a complete HTTP response, its length. Understands Content-Length, chunked
// (without trailers beyond the final CRLF pair), bodiless statuses and responses to HEAD; nullopt
// when more is needed
// or the body is close-delimited.
std::optional<std::size_t> complete_response_length(std::string_view buf, bool head_request, bool& close_delimited) {
    close_delimited = false;
    const auto head_end = buf.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return std::nullopt;
    const std::size_t body_at = head_end + 4;
    const int status = status_of(buf);
    if (head_request || (status >= 100 && status < 200) || status == 204 || status == 304) return body_at;
    const std::string head = lower(buf.substr(0, head_end));
    auto header_value = [&](std::string_view name) -> std::optional<std::string> {
        const std::string key = "\r\n" + std::string(name) + ":";
        const auto at = head.find(key);
        if (at == std::string::npos) return std::nullopt;
        auto v = head.substr(at + key.size());
        v = v.substr(0, v.find("\r\n"));
        const auto b = v.find_first_not_of(" \t");
        const auto e = v.find_last_not_of(" \t");
        return b == std::string::npos ? std::string{} : v.substr(b, e - b + 1);
    };
    if (auto te = header_value("transfer-encoding"); te && te->find("chunked") != std::string::npos) {
        std::size_t at = body_at;
        for (int guard = 0; guard < 1'000'000; ++guard) {
            const auto eol = buf.find("\r\n", at);
            if (eol == std::string_view::npos) return std::nullopt;
            const std::size_t size = std::strtoull(std::string(buf.substr(at, eol - at)).c_str(), nullptr, 16);
            at = eol + 2;
            if (size == 0) {
                const auto end = buf.find("\r\n", at);  // (no trailers expected) the final CRLF
                if (end == std::string_view::npos) return std::nullopt;
                return end + 2;
            }
            if (buf.size() < at + size + 2) return std::nullopt;
            at += size + 2;
        }
        return std::nullopt;
    }
    if (auto cl = header_value("content-length")) {
        const std::size_t n = std::strtoull(cl->c_str(), nullptr, 10);
        if (buf.size() < body_at + n) return std::nullopt;
        return body_at + n;
    }
    close_delimited = true;
    return std::nullopt;
}

}  // namespace

// ---- deadlines ---------------------------------------------------------------------------------

double timeout_scale() {
    static const double scale = [] {
        const char* v = std::getenv("ATSGATE_TEST_TIMEOUT_SCALE");
        if (v == nullptr || *v == '\0') return 1.0;
        char* end = nullptr;
        const double d = std::strtod(v, &end);
        if (end == v || !(d > 0)) return 1.0;
        return std::clamp(d, 0.1, 1000.0);
    }();
    return scale;
}

milliseconds scaled(milliseconds base) {
    return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(base.count()) * timeout_scale()));
}

clock::time_point deadline_after(milliseconds base) { return clock::now() + scaled(base); }

milliseconds remaining(clock::time_point deadline) {
    const auto now = clock::now();
    if (now >= deadline) return 0ms;
    return std::chrono::ceil<milliseconds>(deadline - now);
}

bool poll_until(const std::function<bool()>& done, milliseconds within, milliseconds every) {
    const auto deadline = deadline_after(within);
    for (int i = 0; i < 1'000'000; ++i) {
        if (done()) return true;
        const auto left = remaining(deadline);
        if (left == 0ms) break;
        ::poll(nullptr, 0, poll_ms(std::min(left, every)));
    }
    return done();
}

// ---- tools and paths ---------------------------------------------------------------------------

std::vector<std::string> missing_tools(std::initializer_list<std::string_view> tools) {
    std::vector<std::string> missing;
    const char* path = std::getenv("PATH");
    const std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    for (const auto tool : tools) {
        bool found = false;
        std::size_t from = 0;
        while (!found && from <= dirs.size()) {
            const auto to = std::min(dirs.find(':', from), dirs.size());
            const std::string dir = dirs.substr(from, to - from);
            const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + std::string(tool);
            struct stat st{};
            found = ::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0;
            from = to + 1;
        }
        if (!found) missing.emplace_back(tool);
    }
    return missing;
}

bool tools_required() {
    // Explicit beats implicit: ATSGATE_REQUIRE_TOOLS decides when set; otherwise CI=true requires.
    if (const char* v = std::getenv("ATSGATE_REQUIRE_TOOLS"); v != nullptr && *v != '\0') return std::string_view(v) != "0";
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string_view(ci) == "true";
}

std::string_view skip_marker() { return ATSGATE_SKIP_MARKER; }

namespace {

// The reasons ATSGATE_SKIP_BECAUSE gave in the running test case (all its sections), "; "-joined.
std::string pending_skip;

// Prints the skip line when a test case ends, and only if nothing in it failed: a SECTION that
// skipped must not hide a failure in another one (ctest's SKIP_REGULAR_EXPRESSION wins over the
// exit code), and a test that crashes after deciding to skip prints no skip line at all.
struct skip_listener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseStarting(const Catch::TestCaseInfo& info) override {
        pending_skip.clear();
        TestEventListenerBase::testCaseStarting(info);
    }
    void testCaseEnded(const Catch::TestCaseStats& stats) override {
        if (!pending_skip.empty()) {
            if (stats.totals.assertions.failed == 0)
                std::cout << skip_marker() << ' ' << pending_skip << std::endl;
            else
                std::cout << "not reported as skipped (" << pending_skip << "): what ran failed" << std::endl;
        }
        pending_skip.clear();
        TestEventListenerBase::testCaseEnded(stats);
    }
};

}  // namespace

CATCH_REGISTER_LISTENER(skip_listener)

void report_skip(const std::string& reason) {
    if (!pending_skip.empty()) pending_skip += "; ";
    pending_skip += reason;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

fs::path atsgate_binary() {
    const char* v = std::getenv("ATSGATE_TEST_BINARY");
    return v != nullptr && *v != '\0' ? fs::path(v) : fs::path(ATSGATE_BIN);
}
fs::path backend_script() { return fs::path(ATSGATE_SOURCE_DIR) / "deploy" / "demo" / "legacy_mdm.py"; }

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ---- child processes ---------------------------------------------------------------------------

struct process_access {
    static process adopt(pid_t pid) {
        process p;
        p.pid_ = pid;
        p.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        return p;
    }
};

process::process(const std::vector<std::string>& argv, const spawn_options& opts)
    : out_(opts.stdout_path), err_(opts.stderr_path) {
    fd_guard in{open_or_fail(opts.stdin_path, O_RDONLY)};
    fd_guard out{open_or_fail(opts.stdout_path, O_WRONLY | O_CREAT | O_TRUNC)};
    fd_guard err{open_or_fail(opts.stderr_path, O_WRONLY | O_CREAT | O_TRUNC)};
    pid_ = spawn_with_fds(argv, opts.env, in.fd, out.fd, err.fd);
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));  // -1 on old kernels: waits poll instead
}

process::~process() {
    stop();
    release();
}

process::process(process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      status_(std::exchange(other.status_, std::nullopt)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)) {}

process& process::operator=(process&& other) noexcept {
    if (this != &other) {
        stop();
        release();
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::exchange(other.pidfd_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
        out_ = std::move(other.out_);
        err_ = std::move(other.err_);
    }
    return *this;
}

void process::release() noexcept {
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = -1;
}

void process::reap(int wstatus) noexcept {
    if (WIFEXITED(wstatus))
        status_ = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        status_ = 128 + WTERMSIG(wstatus);
    else
        status_ = 255;
}

bool process::running() {
    if (pid_ < 0 || status_) return false;
    int ws = 0;
    const pid_t r = ::waitpid(pid_, &ws, WNOHANG);
    if (r == pid_) {
        reap(ws);
        return false;
    }
    if (r < 0 && errno == ECHILD) {  // reaped elsewhere: cannot know how it ended
        status_ = 255;
        return false;
    }
    return true;
}

std::optional<int> process::wait(clock::time_point deadline) {
    for (int rounds = 0; rounds < 1'000'000 && running(); ++rounds) {
        const auto left = remaining(deadline);
        if (left == 0ms) break;
        if (pidfd_ >= 0) {
            pollfd p{pidfd_, POLLIN, 0};
            ::poll(&p, 1, poll_ms(std::min<milliseconds>(left, 1000ms)));  // readable when it exits
        } else {
            ::poll(nullptr, 0, poll_ms(std::min<milliseconds>(left, 10ms)));  // no pidfd: poll waitpid
        }
    }
    running();
    return status_;
}

bool process::signal(int sig) {
    if (!running()) return false;  // never signal a reaped PID: it may belong to someone else now
    return ::kill(pid_, sig) == 0;
}

int process::stop(milliseconds grace) {
    if (pid_ < 0) return -1;
    if (signal(SIGTERM) && !wait(deadline_after(grace))) {
        signal(SIGKILL);
        wait(clock::now() + 10s);
    }
    return status_.value_or(-1);
}

std::string command_result::describe() const {
    std::string s = timed_out ? "timed out" : "exit " + std::to_string(exit_code);
    if (!err.empty()) s += "; stderr:\n" + tail(err);
    return s;
}

command_result run_command(const std::vector<std::string>& argv, const command_options& opts) {
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) fail("pipe: " + errno_text(errno));
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        fail("pipe: " + errno_text(errno));
    }
    fd_guard out_r{out_pipe[0]}, err_r{err_pipe[0]};
    process child;
    {
        fd_guard out_w{out_pipe[1]}, err_w{err_pipe[1]};
        fd_guard in{open_or_fail(opts.stdin_path, O_RDONLY)};
        child = process_access::adopt(spawn_with_fds(argv, opts.env, in.fd, out_w.fd, err_w.fd));
    }  // our copies of the write ends close here, so EOF means the child closed them

    command_result res;
    const auto deadline = deadline_after(opts.timeout);
    std::array<char, 65536> buf;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        const auto left = remaining(deadline);
        if (left == 0ms) {
            res.timed_out = true;
            break;
        }
        pollfd p[2] = {{out_open ? out_r.fd : -1, POLLIN, 0}, {err_open ? err_r.fd : -1, POLLIN, 0}};
        const int rc = ::poll(p, 2, poll_ms(left));
        if (rc < 0 && errno != EINTR) fail("poll: " + errno_text(errno));
        for (int i = 0; i < 2; ++i) {
            if (p[i].fd < 0 || (p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const ssize_t n = ::read(p[i].fd, buf.data(), buf.size());
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
                continue;
            }
            const std::string_view piece(buf.data(), static_cast<std::size_t>(n));
            if (i == 1)
                res.err.append(piece);
            else if (opts.on_stdout)
                opts.on_stdout(piece);
            else
                res.out.append(piece);
        }
    }
    if (!res.timed_out && !child.wait(deadline)) res.timed_out = true;
    if (res.timed_out) {
        child.signal(SIGKILL);
        child.wait(clock::now() + 10s);
        res.exit_code = -1;
    } else {
        res.exit_code = child.status().value_or(-1);
    }
    return res;
}

// ---- ports -------------------------------------------------------------------------------------

std::uint16_t free_port() {
    fd_guard s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (s.fd < 0) fail("socket: " + errno_text(errno));
    sockaddr_in a = loopback(0);
    if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) fail("bind: " + errno_text(errno));
    socklen_t len = sizeof a;
    if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) fail("getsockname: " + errno_text(errno));
    return ntohs(a.sin_port);
}

bool port_accepts(std::uint16_t port) {
    const int fd = tcp_connect(port, clock::now() + 1s);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

bool port_is_free(std::uint16_t port) {
    fd_guard s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (s.fd < 0) fail("socket: " + errno_text(errno));
    const int one = 1;
    ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // TIME_WAIT leftovers do not count
    const sockaddr_in a = loopback(port);
    return ::bind(s.fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
}

void wait_for_port(std::uint16_t port, clock::time_point deadline, process& owner, std::string_view what) {
    for (int attempt = 0; attempt < 100'000; ++attempt) {
        if (!owner.running())
            fail(std::string(what) + " exited with status " + std::to_string(owner.status().value_or(-1)) +
                 " before 127.0.0.1:" + std::to_string(port) + " accepted connections; stderr:\n" +
                 tail(owner.stderr_text()));
        if (port_accepts(port)) return;
        if (remaining(deadline) == 0ms) break;
        owner.wait(std::min(deadline, clock::now() + 20ms));  // returns early if it exits
    }
    fail(std::string(what) + ": 127.0.0.1:" + std::to_string(port) + " did not accept connections in time; stderr:\n" +
         tail(owner.stderr_text()));
}

// ---- the configuration file --------------------------------------------------------------------

std::string to_toml(const config_spec& c) {
    std::string t;
    t += "[server]\n";
    t += "workers = " + std::to_string(c.workers) + "\n";
    t += "drain_timeout = " + toml_string(c.drain_timeout) + "\n";
    t += "log_level = " + toml_string(c.log_level) + "\n";
    t += "access_log = true\n";
    if (!c.server_extra.empty()) t += c.server_extra + "\n";
    if (!c.timeouts.empty()) t += "\n[timeouts]\n" + c.timeouts + "\n";
    if (!c.limits.empty()) t += "\n[limits]\n" + c.limits + "\n";
    for (const auto& l : c.listeners) {
        t += "\n[[listener]]\n";
        t += "name = " + toml_string(l.name) + "\n";
        if (l.kind != "https") t += "kind = " + toml_string(l.kind) + "\n";
        t += "address = \"127.0.0.1\"\n";
        t += "port = " + std::to_string(l.port) + "\n";
        if (l.kind == "https") {
            if (!l.cert.empty()) t += "cert = " + toml_string(l.cert.string()) + "\n";
            if (!l.key.empty()) t += "key = " + toml_string(l.key.string()) + "\n";
            if (!l.trust.empty()) t += "trust = " + toml_string(l.trust.string()) + "\n";
            if (!l.server_name.empty()) t += "server_name = " + toml_string(l.server_name) + "\n";
        }
        if (!l.upstream.empty()) t += "upstream = " + toml_string(l.upstream) + "\n";
        if (!l.extra.empty()) t += l.extra + "\n";
    }
    t += "\n[[upstream]]\nname = \"legacy\"\nurl = " + toml_string(c.upstream_url) + "\n";
    if (!c.upstream_extra.empty()) t += c.upstream_extra + "\n";
    if (c.admin) {
        t += "\n[admin]\naddress = \"127.0.0.1\"\nport = " + std::to_string(c.admin_port) + "\n";
        if (!c.admin_token.empty()) t += "token = " + toml_string(c.admin_token) + "\n";
    }
    if (!c.extra.empty()) t += "\n" + c.extra + "\n";
    return t;
}

// ---- certificates and the per-test directory ---------------------------------------------------

test_env::test_env() : factory_(static_cast<std::int64_t>(std::time(nullptr))), root_(factory_.root_ca()) {
    root_pem_ = dir_.write_chain("root.pem", {&root_});
    ecdsa_ = issue("ecdsa", leaf_spec(test::key_type::ec_p256));
    rsa_ = issue("rsa", leaf_spec(test::key_type::rsa_2048));
}

test::cert_spec test_env::leaf_spec(test::key_type k) {
    auto s = test::cert_factory::leaf_spec("localhost", k);
    s.common_name = "localhost";
    s.san_dns = {"localhost"};
    s.san_ip = {"127.0.0.1"};
    return s;
}

test::test_cert test_env::make(const test::cert_spec& spec, const test::test_cert* issuer) const {
    return factory_.make(spec, issuer);
}

cert_files test_env::write_cert(const std::string& name, const std::vector<const test::test_cert*>& chain,
                                const test::test_cert& key_owner) const {
    return {dir_.write_chain(name + ".pem", chain), dir_.write_key(name + ".key", key_owner)};
}

cert_files test_env::issue(const std::string& name, const test::cert_spec& spec, bool self_signed) const {
    const auto leaf = make(spec, self_signed ? nullptr : &root_);
    return write_cert(name, {&leaf}, leaf);
}

config_spec test_env::default_config(const std::string& upstream_url) const {
    config_spec c;
    c.upstream_url = upstream_url;
    listener_spec l;
    l.cert = ecdsa_.cert;
    l.key = ecdsa_.key;
    l.trust = root_pem_;
    c.listeners.push_back(l);
    return c;
}

// ---- the demo backend ----------------------------------------------------------------------------

backend::backend(const test_env& env, const std::string& name, const std::optional<cert_files>& tls)
    : name_(name), tls_files_(tls), env_(&env), tls_(tls.has_value()), log_(env.path(name + "-requests.log")) {
    constexpr int attempts = 5;
    for (int attempt = 1;; ++attempt) {
        port_ = free_port();
        try {
            spawn(env);
            return;
        } catch (const std::runtime_error&) {
            const bool lost_race = !proc_.running() && proc_.stderr_text().find("Address already in use") != std::string::npos;
            if (!lost_race || attempt == attempts) throw;
        }
    }
}

void backend::spawn(const test_env& env) {
    spawn_options o;
    o.stdout_path = env.path(name_ + ".out");
    o.stderr_path = env.path(name_ + ".err");
    o.env = {{"PYTHONUNBUFFERED", "1"}};
    std::vector<std::string> argv = {"python3", backend_script().string(), "--address", "127.0.0.1", "--port",
                                     std::to_string(port_), "--log", log_.string(), "--name", name_};
    if (tls_files_) argv.insert(argv.end(), {"--tls-cert", tls_files_->cert.string(), "--tls-key", tls_files_->key.string()});
    proc_ = process(argv, o);
    wait_for_port(port_, deadline_after(20s), proc_, "backend (legacy_mdm.py)");
}

void backend::stop() { proc_.stop(); }

void backend::start() {
    if (proc_.running()) return;
    spawn(*env_);
}

std::string backend::get(std::string_view target) const {
    if (tls_) fail("backend::get: " + name_ + " serves HTTPS");
    return http_get(port_, target);
}

std::vector<std::string> backend::request_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(read_text(log_));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool backend::received(std::string_view needle) const {
    for (const auto& l : request_lines())
        if (l.find(needle) != std::string::npos) return true;
    return false;
}

// ---- the proxy -----------------------------------------------------------------------------------

std::uint64_t metrics::get(std::string_view series) const {
    const auto it = values.find(series);
    if (it == values.end()) fail("metric " + std::string(series) + " not exported by /metrics");
    return it->second;
}

std::string refused_series(std::string_view reason) {
    return "atsgate_handshake_refused_total{reason=\"" + std::string(reason) + "\"}";
}

proxy::proxy(const test_env& env, config_spec spec, const std::string& name)
    : spec_(std::move(spec)), config_(env.path(name + ".toml")) {
    // Which ports we choose (and may re-choose after losing a race for them).
    std::vector<bool> auto_port;
    for (const auto& l : spec_.listeners) auto_port.push_back(l.port == 0);
    const bool auto_admin = spec_.admin && spec_.admin_port == 0;

    constexpr int attempts = 5;
    for (int attempt = 1;; ++attempt) {
        std::set<std::uint16_t> taken;
        for (const auto& l : spec_.listeners)
            if (l.port != 0) taken.insert(l.port);
        auto pick = [&] {
            for (int i = 0; i < 100; ++i) {
                const auto p = free_port();
                if (taken.insert(p).second) return p;
            }
            fail("no free port");
        };
        for (std::size_t i = 0; i < spec_.listeners.size(); ++i)
            if (auto_port[i]) spec_.listeners[i].port = pick();
        if (auto_admin) spec_.admin_port = pick();
        test::write_file(config_, to_toml(spec_));

        spawn_options o;
        o.stdout_path = env.path(name + ".out");
        o.stderr_path = env.path(name + ".err");
        o.env = spec_.process_env;
        proc_ = process({atsgate_binary().string(), "run", "-c", config_.string()}, o);
        try {
            const auto deadline = deadline_after(20s);
            if (spec_.admin) wait_for_port(spec_.admin_port, deadline, proc_, "atsgate");
            for (const auto& l : spec_.listeners) wait_for_port(l.port, deadline, proc_, "atsgate");
            return;
        } catch (const std::runtime_error&) {
            // Exit 1 with a bind error: another process took one of our ports in between.
            const bool lost_race = !proc_.running() && proc_.status() == 1 &&
                                   proc_.stderr_text().find("cannot bind") != std::string::npos;
            if (!lost_race || attempt == attempts) throw;
        }
    }
}

std::string proxy::url(std::string_view path, std::size_t listener) const {
    return "https://127.0.0.1:" + std::to_string(port(listener)) + std::string(path);
}

std::string proxy::admin(std::string_view method, std::string_view target, bool with_token) const {
    std::string auth;
    if (with_token && !spec_.admin_token.empty()) auth = "Authorization: Bearer " + spec_.admin_token + "\r\n";
    return http_request(spec_.admin_port, method, target, auth);
}

metrics proxy::scrape() const {
    const std::string resp = admin("GET", "/metrics");
    if (status_of(resp) != 200) fail("GET /metrics: " + status_line(resp));
    metrics m;
    std::istringstream in(resp.substr(resp.find("\r\n\r\n") + 4));
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        const auto sp = line.rfind(' ');
        if (sp == std::string::npos) continue;
        m.values[line.substr(0, sp)] = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
    }
    return m;
}

std::uint64_t proxy::wait_for_counter(std::string_view series, std::uint64_t at_least, milliseconds within) const {
    std::uint64_t v = 0;
    poll_until([&] { return (v = counter(series)) >= at_least; }, within);
    return v;
}

std::string http_get(std::uint16_t port, std::string_view target, milliseconds timeout) {
    return http_request(port, "GET", target, {}, timeout);
}

std::string http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         std::string_view extra_headers, milliseconds timeout) {
    std::string req = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (method != "GET" && method != "HEAD") req += "Content-Length: 0\r\n";
    req += std::string(extra_headers) + "Connection: close\r\n\r\n";
    return http_exchange(port, req, timeout);
}

raw_tcp::raw_tcp(std::uint16_t port) {
    fd_ = tcp_connect(port, deadline_after(5s));
    if (fd_ < 0) throw std::runtime_error("connect to " + std::to_string(port) + " failed: " + std::strerror(errno));
}

raw_tcp::~raw_tcp() { close(); }

void raw_tcp::send(std::string_view bytes) {
    while (!bytes.empty()) {
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) throw std::runtime_error("send failed");
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

void raw_tcp::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool raw_tcp::received_some(milliseconds within) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, poll_ms(scaled(within))) != 1) return false;
    char buf[4096];
    return ::recv(fd_, buf, sizeof buf, 0) > 0;
}

bool raw_tcp::closed_by_server(milliseconds within) {
    const auto deadline = deadline_after(within);
    char buf[4096];
    for (int guard = 0; guard < 100000; ++guard) {
        const auto left = remaining(deadline);
        if (left <= 0ms) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, poll_ms(left)) <= 0) return false;
        if (::recv(fd_, buf, sizeof buf, 0) <= 0) return true;
    }
    return false;
}

std::string http_exchange(std::uint16_t port, std::string_view req, milliseconds timeout) {
    const auto deadline = deadline_after(timeout);
    fd_guard s{tcp_connect(port, deadline)};
    if (s.fd < 0) fail("connect 127.0.0.1:" + std::to_string(port) + ": " + errno_text(errno));
    set_io_timeout(s.fd, remaining(deadline));
    if (::send(s.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
        fail("send to 127.0.0.1:" + std::to_string(port) + ": " + errno_text(errno));
    std::string out;
    std::array<char, 16384> buf;
    for (int i = 0; i < 100'000; ++i) {
        set_io_timeout(s.fd, remaining(deadline));
        const ssize_t n = ::recv(s.fd, buf.data(), buf.size(), 0);
        if (n == 0) return out;
        if (n < 0) fail("reading from 127.0.0.1:" + std::to_string(port) + ": " + errno_text(errno));
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    fail("response from 127.0.0.1:" + std::to_string(port) + " too long");
}

// ---- command-line clients ----------------------------------------------------------------------

command_result curl(const test_env& env, const std::vector<std::string>& args, command_options opts) {
    const auto max_time = std::max<long long>(1, scaled(opts.timeout).count() / 1000);
    std::vector<std::string> argv = {"curl", "-sS", "--cacert", env.root_pem().string(), "--max-time",
                                     std::to_string(max_time)};
    argv.insert(argv.end(), args.begin(), args.end());
    opts.timeout += 5000ms;  // let curl's own --max-time fire first
    return run_command(argv, opts);
}

command_result s_client(const test_env& env, std::uint16_t port, const std::vector<std::string>& args,
                        const std::string& stdin_text, const std::string& openssl_conf) {
    static std::atomic<int> seq{0};
    const std::string id = std::to_string(++seq);
    command_options o;
    o.env = {{"OPENSSL_CONF", env.write("s_client-" + id + ".cnf", "# written by the integration fixture\n" + openssl_conf).string()}};
    o.stdin_path = env.write("s_client-" + id + ".in", stdin_text);
    o.timeout = 20000ms;
    std::vector<std::string> argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-ign_eof"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, o);
}

int s_client_alert(const command_result& r) {
    for (const std::string* s : {&r.err, &r.out}) {
        const auto at = s->find("SSL alert number ");
        if (at != std::string::npos) return std::atoi(s->c_str() + at + 17);
    }
    return -1;
}

// ---- the in-process TLS client -----------------------------------------------------------------

namespace {
void record_alert(const SSL* ssl, int where, int ret) {
    if ((where & SSL_CB_ALERT) == 0 || (where & SSL_CB_READ) == 0) return;
    if (auto* alert = static_cast<int*>(SSL_get_app_data(ssl))) *alert = ret & 0xff;
}
// tls_client_options::finished_with_request: the callback runs before each transition, so at
// "server Finished read" the client's CCS/Finished are still to be written.
void cork_after_server_finished(const SSL* ssl, int where, int ret) {
    record_alert(ssl, where, ret);
    if ((where & SSL_CB_CONNECT_LOOP) != 0 && SSL_get_state(ssl) == TLS_ST_CR_FINISHED) {
        const int one = 1;
        ::setsockopt(SSL_get_fd(ssl), IPPROTO_TCP, TCP_CORK, &one, sizeof one);
    }
}
}  // namespace

tls_client::tls_client(tls_client_options opts) : opts_(std::move(opts)) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_) fail("SSL_CTX_new: " + ssl_errors());
    SSL_CTX* c = ctx_.get();
    bool ok = SSL_CTX_set_min_proto_version(c, opts_.min_version) == 1 &&
              SSL_CTX_set_max_proto_version(c, opts_.max_version) == 1;
    if (ok && !opts_.cipher_list.empty()) ok = SSL_CTX_set_cipher_list(c, opts_.cipher_list.c_str()) == 1;
    if (ok && !opts_.ciphersuites.empty()) ok = SSL_CTX_set_ciphersuites(c, opts_.ciphersuites.c_str()) == 1;
    if (ok && !opts_.groups.empty()) ok = SSL_CTX_set1_groups_list(c, opts_.groups.c_str()) == 1;
    if (ok && !opts_.ca_file.empty()) ok = SSL_CTX_load_verify_locations(c, opts_.ca_file.c_str(), nullptr) == 1;
    if (ok && !opts_.sigalgs.empty()) ok = SSL_CTX_set1_sigalgs_list(c, opts_.sigalgs.c_str()) == 1;
    if (ok && !opts_.cert_file.empty()) ok = SSL_CTX_use_certificate_chain_file(c, opts_.cert_file.c_str()) == 1;
    if (ok && !opts_.key_file.empty()) ok = SSL_CTX_use_PrivateKey_file(c, opts_.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
    if (!ok) fail("tls_client: bad options: " + ssl_errors());
    if (opts_.no_ems) SSL_CTX_set_options(c, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    SSL_CTX_set_verify(c, opts_.ca_file.empty() ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_info_callback(c, record_alert);
}

tls_client::~tls_client() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
}

tls_client::handshake_result tls_client::connect(std::uint16_t port) {
    handshake_result res;
    const auto deadline = deadline_after(opts_.timeout);
    if (fd_ >= 0) fail("tls_client: connect() called twice");
    fd_ = tcp_connect(port, deadline);
    if (fd_ < 0) {
        res.error = "connect: " + errno_text(errno);
        return res;
    }
    set_io_timeout(fd_, remaining(deadline));
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_) fail("SSL_new: " + ssl_errors());
    SSL* s = ssl_.get();
    SSL_set_app_data(s, &alert_);
    SSL_set_fd(s, fd_);
    if (opts_.finished_with_request) SSL_set_info_callback(s, cork_after_server_finished);
    if (!opts_.sni.empty()) SSL_set_tlsext_host_name(s, opts_.sni.c_str());
    if (opts_.session != nullptr && SSL_set_session(s, opts_.session) != 1) fail("SSL_set_session: " + ssl_errors());
    if (!opts_.ca_file.empty()) {
        if (opts_.sni.empty())
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), "127.0.0.1");
        else
            X509_VERIFY_PARAM_set1_host(SSL_get0_param(s), opts_.sni.c_str(), 0);
    }
    ERR_clear_error();
    const int rc = SSL_connect(s);
    res.alert = alert_;
    if (rc != 1) {
        const int err = SSL_get_error(s, rc);
        res.error = "SSL_connect: error " + std::to_string(err) + " " + ssl_errors();
        if (err == SSL_ERROR_SYSCALL) res.error += " (" + errno_text(errno) + ")";
        return res;
    }
    res.ok = true;
    res.version = SSL_get_version(s);
    res.cipher = SSL_get_cipher_name(s);
    res.ems = SSL_get_extms_support(s) == 1;
    if (const int nid = SSL_get_negotiated_group(s); nid != NID_undef) {
        const char* name = OBJ_nid2sn(nid & ~TLSEXT_nid_unknown);
        res.group = name != nullptr ? name : std::to_string(nid);
    }
    int sig_nid = NID_undef;
    if (SSL_get_peer_signature_type_nid(s, &sig_nid) == 1) {
        int md_nid = NID_undef;
        SSL_get_peer_signature_nid(s, &md_nid);
        res.peer_sigalg = std::string(OBJ_nid2sn(sig_nid)) + "+" + (md_nid != NID_undef ? OBJ_nid2sn(md_nid) : "none");
    }
    return res;
}

bool tls_client::write(std::string_view bytes) {
    if (!ssl_) return false;
    const auto deadline = deadline_after(opts_.timeout);
    std::size_t off = 0;
    for (int i = 0; off < bytes.size() && i < 100'000; ++i) {
        if (remaining(deadline) == 0ms) return false;
        set_io_timeout(fd_, remaining(deadline));
        ERR_clear_error();
        const int n = SSL_write(ssl_.get(), bytes.data() + off, static_cast<int>(std::min<std::size_t>(bytes.size() - off, 1 << 20)));
        if (n <= 0) {
            ERR_clear_error();
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    if (opts_.finished_with_request) {
        const int zero = 0;  // uncork: the held Finished and these bytes leave together
        ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
    }
    return off == bytes.size();
}

bool tls_client::read_some(std::string& out, clock::time_point deadline, read_result& r) {
    const auto left = remaining(deadline);
    if (left == 0ms) {
        r.timed_out = true;
        return false;
    }
    set_io_timeout(fd_, left);
    std::array<char, 16384> buf;
    ERR_clear_error();
    errno = 0;
    const int n = SSL_read(ssl_.get(), buf.data(), static_cast<int>(buf.size()));
    if (n > 0) {
        out.append(buf.data(), static_cast<std::size_t>(n));
        return true;
    }
    const int err = SSL_get_error(ssl_.get(), n);
    const int e = errno;
    ERR_clear_error();
    if (err == SSL_ERROR_SYSCALL && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)) {
        if (remaining(deadline) == 0ms) {
            r.timed_out = true;
            return false;
        }
        return true;  // woke early: the caller loops
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    r.closed = true;  // close_notify, EOF, reset or a fatal alert: the connection is over
    return false;
}

tls_client::read_result tls_client::read_until_close(milliseconds within) {
    read_result r;
    r.data = std::exchange(pending_, {});
    if (!ssl_) {
        r.closed = true;
        return r;
    }
    const auto deadline = deadline_after(within);
    for (int i = 0; i < 1'000'000 && read_some(r.data, deadline, r); ++i) {
    }
    return r;
}

tls_client::read_result tls_client::read_response(milliseconds within, bool head_request) {
    read_result r;
    std::string buf = std::exchange(pending_, {});
    if (!ssl_) {
        r.closed = true;
        r.data = std::move(buf);
        return r;
    }
    const auto deadline = deadline_after(within);
    for (int i = 0; i < 1'000'000; ++i) {
        bool close_delimited = false;
        if (auto len = complete_response_length(buf, head_request, close_delimited)) {
            r.data = buf.substr(0, *len);
            pending_ = buf.substr(*len);
            return r;
        }
        if (!read_some(buf, deadline, r)) break;
    }
    r.data = std::move(buf);
    return r;
}

tls_client::read_result tls_client::request(std::string_view request, milliseconds within) {
    if (!write(request)) {
        read_result r;
        r.closed = true;
        return r;
    }
    return read_response(within, request.substr(0, 5) == "HEAD ");
}

ossl::ptr<SSL_SESSION> tls_client::session() const {
    SSL_SESSION* live = ssl_ ? SSL_get0_session(ssl_.get()) : nullptr;
    // A copy: freeing an SSL that sent no close_notify marks its own session not resumable
    // (ssl_clear_bad_session), and this client closes without one.
    return ossl::ptr<SSL_SESSION>(live != nullptr ? SSL_SESSION_dup(live) : nullptr);
}

bool tls_client::reused() const { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }

X509* tls_client::peer_certificate() const { return ssl_ ? SSL_get0_peer_certificate(ssl_.get()) : nullptr; }

std::string status_line(std::string_view response) {
    return std::string(response.substr(0, response.find("\r\n")));
}

int status_of(std::string_view response) {
    if (response.size() < 12 || response.substr(0, 5) != "HTTP/") return 0;
    const auto sp = response.find(' ');
    if (sp == std::string_view::npos || sp + 4 > response.size()) return 0;
    int code = 0;
    for (std::size_t i = sp + 1; i < sp + 4; ++i) {
        const char c = response[i];
        if (c < '0' || c > '9') return 0;
        code = code * 10 + (c - '0');
    }
    return code;
}

std::string header_value(std::string_view response, std::string_view name) {
    const auto head_end = response.find("\r\n\r\n");
    const std::string head = lower(response.substr(0, head_end == std::string_view::npos ? response.size() : head_end));
    const std::string key = "\r\n" + lower(name) + ":";
    const auto at = head.find(key);
    if (at == std::string::npos) return {};
    const auto from = at + key.size();
    // Values are taken from the original text (case kept); the lower-cased copy has the same offsets.
    const auto to = std::min(head.find("\r\n", from), head.size());
    std::string v(response.substr(from, to - from));
    const auto b = v.find_first_not_of(" \t");
    const auto e = v.find_last_not_of(" \t");
    return b == std::string::npos ? std::string{} : v.substr(b, e - b + 1);
}

std::string body_of(std::string_view response) {
    const auto head_end = response.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return {};
    std::string_view body = response.substr(head_end + 4);
    if (lower(header_value(response, "transfer-encoding")).find("chunked") == std::string::npos) return std::string(body);
    std::string out;
    for (int guard = 0; guard < 1'000'000 && !body.empty(); ++guard) {
        const auto eol = body.find("\r\n");
        if (eol == std::string_view::npos) break;
        const std::size_t size = std::strtoull(std::string(body.substr(0, eol)).c_str(), nullptr, 16);
        if (size == 0 || body.size() < eol + 2 + size) break;
        out.append(body.substr(eol + 2, size));
        body = body.substr(std::min(body.size(), eol + 2 + size + 2));
    }
    return out;
}

namespace {
// A JSON string starting at json[at] == '"'; advances `at` past it. Escapes as Python's json.dumps
// writes them; \uXXXX beyond ASCII becomes '?' (headers are ASCII).
std::string json_string(std::string_view json, std::size_t& at) {
    if (at >= json.size() || json[at] != '"') fail("echoed_headers: expected a string at " + std::to_string(at));
    std::string out;
    for (++at; at < json.size(); ++at) {
        const char c = json[at];
        if (c == '"') {
            ++at;
            return out;
        }
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++at >= json.size()) break;
        switch (json[at]) {
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                if (at + 4 >= json.size()) fail("echoed_headers: truncated \\u escape");
                const unsigned long cp = std::strtoul(std::string(json.substr(at + 1, 4)).c_str(), nullptr, 16);
                out += cp < 0x80 ? static_cast<char>(cp) : '?';
                at += 4;
                break;
            }
            default: out += json[at]; break;  // \" \\ \/
        }
    }
    fail("echoed_headers: unterminated string");
}
}  // namespace

std::multimap<std::string, std::string> echoed_headers(std::string_view json) {
    const auto key = json.find("\"headers\"");
    if (key == std::string_view::npos) fail("echoed_headers: no \"headers\" in " + std::string(json.substr(0, 200)));
    std::size_t at = json.find('[', key);
    if (at == std::string_view::npos) fail("echoed_headers: no header list");
    ++at;
    std::multimap<std::string, std::string> out;
    auto skip = [&] {
        while (at < json.size() && (json[at] == ' ' || json[at] == ',' || json[at] == '\n')) ++at;
    };
    for (int guard = 0; guard < 10'000; ++guard) {
        skip();
        if (at >= json.size()) fail("echoed_headers: truncated list");
        if (json[at] == ']') return out;
        if (json[at] != '[') fail("echoed_headers: expected [name, value]");
        ++at;
        skip();
        std::string name = lower(json_string(json, at));
        skip();
        std::string value = json_string(json, at);
        skip();
        if (at >= json.size() || json[at] != ']') fail("echoed_headers: expected ]");
        ++at;
        out.emplace(std::move(name), std::move(value));
    }
    fail("echoed_headers: too many headers");
}

std::string common_name(X509* cert) {
    if (cert == nullptr) return {};
    char buf[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf) < 0) return {};
    return buf;
}

std::string serial_hex(X509* cert) {
    if (cert == nullptr) return {};
    ossl::ptr<BIGNUM> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    if (!bn) return {};
    char* hex = BN_bn2hex(bn.get());
    std::string out = hex != nullptr ? hex : "";
    OPENSSL_free(hex);
    return out;
}

// ---- hashing -------------------------------------------------------------------------------------

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) fail("sha256 init: " + ssl_errors());
}

void sha256::update(std::string_view data) {
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) fail("sha256 update: " + ssl_errors());
}

std::string sha256::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) fail("sha256 final: " + ssl_errors());
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 0xf];
    }
    return out;
}

std::string pattern_sha256(std::uint64_t n) {
    std::string block(65536, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i & 0xff);
    sha256 h;
    for (std::uint64_t left = n; left > 0;) {
        const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
        h.update(std::string_view(block).substr(0, piece));
        left -= piece;
    }
    return h.hex();
}

std::string write_pattern_file(const fs::path& path, std::uint64_t n, std::uint64_t seed) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write " + path.string());
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    std::string block(1 << 20, '\0');
    sha256 h;
    for (std::uint64_t left = n; left > 0;) {
        for (std::size_t i = 0; i < block.size(); i += 8) {  // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            const std::uint64_t v = x * 0x2545F4914F6CDD1Dull;
            std::memcpy(block.data() + i, &v, 8);
        }
        const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
        out.write(block.data(), static_cast<std::streamsize>(piece));
        h.update(std::string_view(block).substr(0, piece));
        left -= piece;
    }
    out.close();
    if (!out) fail("writing " + path.string() + " failed");
    return h.hex();
}

}  // namespace atsgate::itest
