#pragma once
// The probe's sockets: blocking-style I/O on non-blocking descriptors, every call bounded by the
// caller's deadline (poll). Name resolution with a deadline (getaddrinfo on a helper thread),
// connect, send and receive. Used by the TLS client (tls_client.hpp) and the per-target run
// (gather.cpp); POSIX only, no Asio: the probe runs on its own bounded thread pool.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atsgate::probe::blocking {

using clock = std::chrono::steady_clock;

// Owns a file descriptor (closed on destruction).
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
    void reset() noexcept;

private:
    int fd_ = -1;
};

// One resolved address with its port.
struct address {
    sockaddr_storage sa{};
    socklen_t len = 0;
    std::string host;  // "127.0.0.1", "::1"
    std::string text;  // "127.0.0.1:443", "[::1]:443"

    void set_port(std::uint16_t port);
};

// The text of an errno value ("Connection refused").
std::string errno_text(int e);

// Waits until `fd` is ready for `events` (POLLIN, POLLOUT) or the deadline passes. False on timeout.
bool wait_fd(int fd, short events, clock::time_point deadline);

// IPv4 and IPv6 addresses of `host` (no duplicates), within the deadline. False with `error` set
// when there is none or the deadline passed.
bool resolve(const std::string& host, std::uint16_t port, clock::time_point deadline, std::vector<address>& out,
             std::string& error);

// Non-blocking connect with a deadline (TCP_NODELAY set). On failure an invalid fd_guard, `error`
// ("Connection refused", "timed out") and `timed_out`.
fd_guard connect_to(const address& a, clock::time_point deadline, std::string& error, bool& timed_out);

enum class io { ok, closed, timeout, error };

// send() everything with MSG_NOSIGNAL (a vanished peer gives EPIPE, never SIGPIPE).
io send_all(int fd, std::string_view data, clock::time_point deadline, std::string& error);

// Appends what one recv() returns (waiting for data until the deadline).
io recv_some(int fd, std::string& out, clock::time_point deadline, std::string& error);

}  // namespace atsgate::probe::blocking
