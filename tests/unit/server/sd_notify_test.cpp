// sd_notifier: the datagrams it sends, as a service manager receives them, on sockets bound here.

#include "proxy/server/sd_notify.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

using atsgate::server::sd_notifier;

namespace {

// A bound SOCK_DGRAM AF_UNIX socket: a path in a fresh temp dir, or an abstract name.
class receiver {
public:
    explicit receiver(bool abstract) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        std::random_device rd;
        const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(rd());
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        socklen_t len = 0;
        if (abstract) {
            address_ = "@atsgate-unit-notify-" + tag;
            std::memcpy(sa.sun_path, address_.data(), address_.size());
            sa.sun_path[0] = '\0';
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
        } else {
            dir_ = std::filesystem::temp_directory_path() / ("atsgate-unit-notify-" + tag);
            std::filesystem::create_directories(dir_);
            address_ = (dir_ / "notify.sock").string();
            std::memcpy(sa.sun_path, address_.c_str(), address_.size() + 1);
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() + 1);
        }
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&sa), len) == 0);
    }
    ~receiver() {
        ::close(fd_);
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    const std::string& address() const { return address_; }
    // One datagram, or "<none>" when nothing arrives within 5 s (the send already happened, so
    // this only bounds a broken test).
    std::string next() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) return "<none>";
        std::array<char, 4096> buf{};
        const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        return n < 0 ? "<error>" : std::string(buf.data(), static_cast<std::size_t>(n));
    }

private:
    int fd_ = -1;
    std::filesystem::path dir_;
    std::string address_;
};

}  // namespace

TEST_CASE("sd_notifier: every message is one datagram of KEY=VALUE lines", "[unit][server][sd_notify]") {
    for (const bool abstract : {false, true}) {
        DYNAMIC_SECTION((abstract ? "abstract name" : "path")) {
            receiver r(abstract);
            const sd_notifier n(r.address());
            REQUIRE(n.enabled());
            CHECK(n.error().empty());

            CHECK_FALSE(n.ready("serving generation 1"));
            CHECK(r.next() == "READY=1\nSTATUS=serving generation 1");

            const auto before = sd_notifier::monotonic_usec();
            CHECK_FALSE(n.reloading("reloading (SIGHUP)"));
            const auto after = sd_notifier::monotonic_usec();
            const std::string reloading = r.next();
            REQUIRE(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
            const auto nl = reloading.find('\n', 27);
            REQUIRE(nl != std::string::npos);
            const auto usec = std::strtoull(reloading.substr(27, nl - 27).c_str(), nullptr, 10);
            CHECK(usec >= before);
            CHECK(usec <= after);
            CHECK(reloading.substr(nl) == "\nSTATUS=reloading (SIGHUP)");

            CHECK_FALSE(n.stopping("draining"));
            CHECK(r.next() == "STOPPING=1\nSTATUS=draining");

            // A newline in a status must not start another assignment.
            CHECK_FALSE(n.status("line one\nREADY=1\r\n"));
            CHECK(r.next() == "STATUS=line one READY=1  ");
        }
    }
}

TEST_CASE("sd_notifier: disabled without an address, refuses addresses sd_notify(3) does not define",
          "[unit][server][sd_notify]") {
    const sd_notifier none;
    CHECK_FALSE(none.enabled());
    CHECK_FALSE(none.ready("x"));  // a no-op, not an error

    struct row {
        const char* label;
        std::string address;
        const char* error_part;
    };
    const std::array rows{
        row{"relative path", "run/notify", "only absolute paths and @abstract names"},
        row{"vsock", "vsock:2:1234", "only absolute paths and @abstract names"},
        row{"path of 108 bytes (no room for the NUL)", "/" + std::string(107, 'a'), "path longer than 107"},
        row{"abstract name of 109 bytes", "@" + std::string(108, 'a'), "abstract name longer than 107"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            const sd_notifier n(r.address);
            CHECK_FALSE(n.enabled());
            CHECK(n.error().find(r.error_part) != std::string::npos);
            CHECK_FALSE(n.ready("x"));
        }
    }
    // The longest valid forms are accepted.
    CHECK(sd_notifier("/" + std::string(106, 'a')).enabled());
    CHECK(sd_notifier("@" + std::string(107, 'a')).enabled());
}

TEST_CASE("sd_notifier: a socket nobody listens on is an error the caller can log", "[unit][server][sd_notify]") {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("atsgate-unit-notify-missing-" + std::to_string(::getpid()));
    const sd_notifier n((dir / "missing.sock").string());
    REQUIRE(n.enabled());
    const auto ec = n.ready("x");
    CHECK(ec);
    CHECK(ec.value() == ENOENT);
}
