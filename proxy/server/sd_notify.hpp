#pragma once
// The service manager's readiness protocol (sd_notify(3)): one AF_UNIX datagram of newline-separated
// KEY=VALUE assignments to the socket named by $NOTIFY_SOCKET. systemd sets it for Type=notify
// units; so do other supervisors speaking the same protocol.
//
// Written here rather than linked from libsystemd: the protocol is one sendto(), and the container
// image and the .deb then need no libsystemd0 at run time. What atsgate sends:
//
//   READY=1                 after every listener (and [admin]) is bound and the workers run
//   RELOADING=1             when a reload starts (SIGHUP, POST /reload, a watched file), with
//   MONOTONIC_USEC=N          CLOCK_MONOTONIC in µs, which systemd >= 253 requires with RELOADING=1
//                             (Type=notify-reload) and older versions ignore
//   READY=1                 when that reload has finished, applied or refused (the old config keeps
//                             serving after a refusal, so the service is ready either way)
//   STOPPING=1              when the drain starts (SIGTERM / SIGINT)
//   STATUS=...              a one-line summary with each of the above ("serving generation 3",
//                             "reload refused: ...; serving generation 2", "draining"), shown by
//                             `systemctl status`
//
// Addresses: an absolute path, or "@name" for a Linux abstract socket (the leading '@' becomes a
// NUL byte), as in sd_notify(3). Other forms (relative paths, vsock:) are reported by
// from_environment() and disable notifications.

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace atsgate::server {

class sd_notifier {
public:
    // Disabled: every send is a no-op returning success.
    sd_notifier() = default;
    // Sends to `address` (absolute path or "@abstract"). An invalid address leaves the notifier
    // disabled and is returned by error().
    explicit sd_notifier(std::string address);

    // $NOTIFY_SOCKET, read once; disabled when unset or empty. Does not unset the variable.
    static sd_notifier from_environment();

    bool enabled() const noexcept { return !address_.empty(); }
    const std::string& address() const noexcept { return address_; }
    // Why the address given to the constructor was refused ("" if it was not).
    const std::string& error() const noexcept { return error_; }

    // Sends `assignments` ("KEY=VALUE" lines joined by '\n') in one datagram. Returns the send
    // error, if any (e.g. connection_refused when nobody listens). Thread-safe: each call uses its
    // own socket. Never throws.
    boost::system::error_code send(std::string_view assignments) const;

    // The messages listed at the top of this file. `status` becomes STATUS=, with newlines replaced
    // by spaces (a newline would start another assignment).
    boost::system::error_code ready(std::string_view status) const;
    boost::system::error_code reloading(std::string_view status) const;
    boost::system::error_code stopping(std::string_view status) const;
    boost::system::error_code status(std::string_view status) const;

    // CLOCK_MONOTONIC in microseconds (the MONOTONIC_USEC= value).
    static std::uint64_t monotonic_usec() noexcept;

private:
    std::string address_;  // validated; empty = disabled
    std::string error_;
};

}  // namespace atsgate::server
