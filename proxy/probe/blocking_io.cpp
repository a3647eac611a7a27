#include "proxy/probe/blocking_io.hpp"

#include "util/host_port.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace atsgate::probe::blocking {

namespace {

using std::chrono::milliseconds;

int ms_left(clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return 0;
    return left > 3600000 ? 3600000 : static_cast<int>(left);
}

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

}  // namespace

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

bool wait_fd(int fd, short events, clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, ms_left(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return true;  // let the following call report the error
    }
}

void fd_guard::reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

// ---- addresses ---------------------------------------------------------------------------------

void address::set_port(std::uint16_t port) {
    if (sa.ss_family == AF_INET)
        reinterpret_cast<sockaddr_in*>(&sa)->sin_port = htons(port);
    else
        reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port = htons(port);
    text = util::host_port(host, port);  // `host` is a numeric address here: ':' only in IPv6
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

}  // namespace atsgate::probe::blocking
