// systemd readiness (Type=notify, sd_notify(3)) of the real binary: NOTIFY_SOCKET points at a
// datagram socket this test binds, as systemd's would be. READY=1 only once every port accepts;
// RELOADING=1 + MONOTONIC_USEC / READY=1 around applied and refused reloads (SIGHUP and POST
// /reload); STOPPING=1 when the drain starts; abstract socket names; a broken NOTIFY_SOCKET never
// stops atsgate from serving.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

std::uint64_t monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

// The service manager's end: a bound AF_UNIX datagram socket, by path (in the test's dir) or by
// abstract name ("@...", unique per test run).
class notify_socket {
public:
    notify_socket(const test_env& env, bool abstract) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX): " + std::string(std::strerror(errno)));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        socklen_t len = 0;
        if (abstract) {
            std::random_device rd;
            address_ = "@atsgate-itest-notify-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
            std::memcpy(sa.sun_path, address_.data(), address_.size());
            sa.sun_path[0] = '\0';
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
        } else {
            address_ = env.path("notify.sock").string();
            if (address_.size() >= sizeof(sa.sun_path)) throw std::runtime_error("temp path too long for AF_UNIX");
            std::memcpy(sa.sun_path, address_.c_str(), address_.size() + 1);
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() + 1);
        }
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sa), len) != 0)
            throw std::runtime_error("bind " + address_ + ": " + std::strerror(errno));
    }
    ~notify_socket() { ::close(fd_); }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    const std::string& address() const { return address_; }

    // The next datagram, or nullopt when none arrives within scaled(`within`).
    std::optional<std::string> next(milliseconds within = 10000ms) {
        const auto deadline = deadline_after(within);
        for (int i = 0; i < 10'000; ++i) {
            const auto left = remaining(deadline);
            pollfd p{fd_, POLLIN, 0};
            const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
            if (rc == 0) return std::nullopt;
            if (rc < 0 && errno == EINTR) continue;
            if (rc < 0) throw std::runtime_error("poll: " + std::string(std::strerror(errno)));
            std::array<char, 4096> buf{};
            const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
            if (n < 0) throw std::runtime_error("recv: " + std::string(std::strerror(errno)));
            return std::string(buf.data(), static_cast<std::size_t>(n));
        }
        return std::nullopt;
    }

private:
    int fd_ = -1;
    std::string address_;
};

// The MONOTONIC_USEC= value of a RELOADING=1 message (0 if absent).
std::uint64_t monotonic_of(const std::string& msg) {
    const auto at = msg.find("MONOTONIC_USEC=");
    return at == std::string::npos ? 0 : std::strtoull(msg.c_str() + at + 15, nullptr, 10);
}

// The STATUS= line's value ("" if absent).
std::string status_of_message(const std::string& msg) {
    const auto at = msg.find("STATUS=");
    if (at == std::string::npos) return {};
    const auto end = msg.find('\n', at);
    return msg.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
}

}  // namespace

TEST_CASE("notify: READY=1 is sent only when every listener and the admin port accept connections",
          "[integration][notify]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    for (const bool abstract : {false, true}) {
        DYNAMIC_SECTION((abstract ? "abstract socket name" : "socket path")) {
            notify_socket ns(env, abstract);
            // Two listeners and the admin port, on ports chosen now; spawned directly (not through the
            // proxy fixture, which waits for the ports itself) so that READY=1 is the only signal
            // this test waits for.
            auto cfg = env.default_config(be.url());
            auto second = cfg.listeners[0];
            second.name = "second";
            cfg.listeners.push_back(second);
            cfg.listeners[0].port = free_port();
            cfg.listeners[1].port = free_port();
            cfg.admin_port = free_port();
            const auto config = env.write("notify.toml", to_toml(cfg));
            spawn_options o;
            o.stdout_path = env.path("notify.out");
            o.stderr_path = env.path("notify.err");
            o.env = {{"NOTIFY_SOCKET", ns.address()}};
            process p({atsgate_binary().string(), "run", "-c", config.string()}, o);

            const auto ready = ns.next(20000ms);
            INFO(p.stderr_text());
            REQUIRE(ready.has_value());
            CHECK(*ready == "READY=1\nSTATUS=serving generation 1");
            // No polling: at READY=1 every port accepts already.
            CHECK(port_accepts(cfg.listeners[0].port));
            CHECK(port_accepts(cfg.listeners[1].port));
            CHECK(port_accepts(cfg.admin_port));
            CHECK(status_of(http_get(cfg.admin_port, "/readyz")) == 200);

            // SIGTERM: STOPPING=1 as the drain begins, then a clean exit.
            REQUIRE(p.signal(SIGTERM));
            const auto stopping = ns.next();
            REQUIRE(stopping.has_value());
            CHECK(stopping->rfind("STOPPING=1\nSTATUS=draining", 0) == 0);
            CHECK(p.wait(deadline_after(10000ms)) == 0);
            CHECK_FALSE(ns.next(200ms).has_value());  // nothing after STOPPING=1
        }
    }
}

TEST_CASE("notify: RELOADING=1 with MONOTONIC_USEC, then READY=1, around applied and refused reloads",
          "[integration][notify]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    notify_socket ns(env, false);
    auto cfg = env.default_config(be.url());
    cfg.process_env = {{"NOTIFY_SOCKET", ns.address()}};
    proxy px(env, cfg);
    const auto ready = ns.next();
    REQUIRE(ready.has_value());
    CHECK(*ready == "READY=1\nSTATUS=serving generation 1");

    SECTION("SIGHUP, applied") {
        const auto before = monotonic_usec();
        REQUIRE(px.proc().signal(SIGHUP));
        const auto reloading = ns.next();
        REQUIRE(reloading.has_value());
        CHECK(reloading->rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
        CHECK(monotonic_of(*reloading) >= before);
        CHECK(monotonic_of(*reloading) <= monotonic_usec());
        CHECK(status_of_message(*reloading) == "reloading (SIGHUP)");
        const auto done = ns.next();
        REQUIRE(done.has_value());
        CHECK(*done == "READY=1\nSTATUS=serving generation 2");
    }
    SECTION("POST /reload, refused: READY=1 again (the old generation keeps serving), with the refusal in STATUS") {
        // A config error: the reload is refused and generation 1 stays live.
        atsgate::test::write_file(px.config_path(), read_text(px.config_path()) + "\n[server]\nworkers = 1\n");
        const auto reply = px.admin("POST", "/reload");
        CHECK(status_of(reply) == 409);
        const auto reloading = ns.next();
        REQUIRE(reloading.has_value());
        CHECK(reloading->rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
        CHECK(status_of_message(*reloading) == "reloading (admin)");
        const auto done = ns.next();
        REQUIRE(done.has_value());
        CHECK(*done == "READY=1\nSTATUS=reload refused (admin); serving generation 1");
        // Still serving.
        tls_client c;
        CHECK(c.connect(px.port()).ok);
    }
}

TEST_CASE("notify: an unusable NOTIFY_SOCKET is logged and atsgate serves anyway", "[integration][notify]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    struct row {
        const char* label;
        std::string address;
        const char* logged;
    };
    for (const auto& r : {row{"nobody listens", env.path("nobody.sock").string(), "No such file or directory"},
                          row{"relative path", "relative/notify.sock", "only absolute paths and @abstract names"}}) {
        DYNAMIC_SECTION(r.label) {
            auto cfg = env.default_config(be.url());
            cfg.process_env = {{"NOTIFY_SOCKET", r.address}};
            proxy px(env, cfg);
            tls_client c;
            CHECK(c.connect(px.port()).ok);
            CHECK(poll_until([&] { return px.proc().stderr_text().find(r.logged) != std::string::npos; }, 5000ms));
        }
    }
}
