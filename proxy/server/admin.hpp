#pragma once
// The admin endpoint: plain HTTP/1.1 (loopback by default), one request per connection, served on
// the control thread so it never competes with the data plane.
//
//   GET  /                                 the dashboard (HTML; dashboard.hpp); without credentials a
//                                          401 login form
//   POST /login                            form field token=...: sets the dashboard session cookie
//                                          (admin_session.hpp) and redirects to /
//   POST /logout                           clears that cookie
//   GET  /healthz                          200 "ok" while the process runs (no token needed)
//   GET  /readyz                           200 "ready", 503 "draining" during shutdown (no token needed)
//   GET  /metrics                          Prometheus text: counters of every worker
//   GET  /status                           JSON: listeners, certificates, pools and members, counters
//   POST /reload                           re-read the config file; 200 or 409 with the reasons
//   POST /routes/<listener>/<route>/weights?<upstream>=<weight>&...
//                                          blue/green switch without a reload; 200 with the new weights
// With [admin] token set, every path but /healthz, /readyz, /login and /logout needs
// "Authorization: Bearer <token>"; GET / and GET /status (read-only) also accept the dashboard
// session cookie instead. Every answer carries a Content-Security-Policy (the dashboard's for HTML,
// default-src 'none' otherwise), nosniff, no-referrer and no framing.

#include "proxy/net/asio.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace atsgate::server {

struct admin_reply {
    std::uint16_t status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers{};  // more header fields (name, value)
};

struct admin_handlers {
    std::string token;  // empty: no authentication
    std::function<admin_reply()> metrics;
    std::function<admin_reply()> status;
    // The dashboard page; `session`: the request was authorised by the session cookie (the page
    // offers "log out"); `refresh_seconds`: the script's refresh interval (?refresh=N, else 15).
    std::function<admin_reply(bool session, unsigned refresh_seconds)> dashboard;
    std::function<admin_reply()> reload;
    std::function<admin_reply(std::string_view listener, std::string_view route,
                              const std::vector<std::pair<std::string, std::uint32_t>>& weights)>
        weights;
    std::function<bool()> draining;
};

// Serves admin requests from `acceptor` until it is closed. Control thread.
net::awaitable<void> admin_loop(net::tcp_acceptor& acceptor, const admin_handlers& handlers);

}  // namespace atsgate::server
