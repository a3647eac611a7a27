#include "proxy/server/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace atsgate::server {

namespace {

boost::system::error_code last_error() {
    return {errno, boost::system::system_category()};
}

// "STATUS=" + text on one line.
std::string status_line(std::string_view text) {
    std::string s = "STATUS=";
    s.reserve(s.size() + text.size());
    for (char c : text) s += (c == '\n' || c == '\r') ? ' ' : c;
    return s;
}

}  // namespace

sd_notifier::sd_notifier(std::string address) {
    if (address.empty()) return;
    // sockaddr_un::sun_path holds 108 bytes; a path needs its terminating NUL, an abstract name
    // does not (its length is passed explicitly).
    constexpr std::size_t max_path = sizeof(sockaddr_un{}.sun_path);
    if (address[0] == '@') {
        if (address.size() > max_path) {
            error_ = "NOTIFY_SOCKET \"" + address + "\": abstract name longer than " + std::to_string(max_path - 1);
            return;
        }
    } else if (address[0] == '/') {
        if (address.size() >= max_path) {
            error_ = "NOTIFY_SOCKET \"" + address + "\": path longer than " + std::to_string(max_path - 1);
            return;
        }
    } else {
        error_ = "NOTIFY_SOCKET \"" + address + "\": only absolute paths and @abstract names are supported";
        return;
    }
    if (address.find('\0') != std::string::npos) {
        error_ = "NOTIFY_SOCKET contains a NUL byte";
        return;
    }
    address_ = std::move(address);
}

sd_notifier sd_notifier::from_environment() {
    const char* v = std::getenv("NOTIFY_SOCKET");
    return sd_notifier(v == nullptr ? std::string{} : std::string(v));
}

boost::system::error_code sd_notifier::send(std::string_view assignments) const {
    if (!enabled()) return {};
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address_.data(), address_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    if (address_[0] == '@')
        sa.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
    else
        ++len;  // path: include the NUL
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return last_error();
    boost::system::error_code ec;
    // One datagram; the manager reads it whole. MSG_NOSIGNAL: never SIGPIPE.
    const ssize_t n = ::sendto(fd, assignments.data(), assignments.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&sa), len);
    if (n < 0)
        ec = last_error();
    else if (static_cast<std::size_t>(n) != assignments.size())
        ec = boost::system::errc::make_error_code(boost::system::errc::message_size);
    ::close(fd);
    return ec;
}

boost::system::error_code sd_notifier::ready(std::string_view status) const {
    return send("READY=1\n" + status_line(status));
}

boost::system::error_code sd_notifier::reloading(std::string_view status) const {
    return send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) + "\n" + status_line(status));
}

boost::system::error_code sd_notifier::stopping(std::string_view status) const {
    return send("STOPPING=1\n" + status_line(status));
}

boost::system::error_code sd_notifier::status(std::string_view status) const { return send(status_line(status)); }

std::uint64_t sd_notifier::monotonic_usec() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace atsgate::server
