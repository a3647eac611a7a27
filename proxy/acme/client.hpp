#pragma once
// proxy/acme/: the ACME client (RFC 8555; TLS-ALPN-01 RFC 8737, HTTP-01, ARI RFC 9773): the
// pure parts (JWS signing with the account key, CSR, challenge certificates and board, the
// order_flow state machine, renewal timing, storage of issued certificates), this Asio
// transport and the certificate task (manager.hpp: orders, renews, backs off; the audit and the
// rebuild are the server's hooks). May use: tls, net, http (the response parser), util, Boost.JSON. No spdlog: it
// returns the lines to log.
//
// The ACME client's transport: HTTPS requests to the CA with Asio coroutines over net::tls_stream
// and the project's strict HTTP response parser, and the drivers that run an order_flow (and an
// ARI lookup) to completion. One connection per request (ACME traffic is a handful of requests per
// certificate every few weeks); every request is bounded by a timeout covering resolve, connect,
// handshake, write and the whole response. Runs on one io_context thread; not thread-safe.

#include "proxy/acme/challenge_board.hpp"
#include "proxy/acme/https_url.hpp"
#include "proxy/acme/order_flow.hpp"
#include "proxy/acme/timing.hpp"
#include "proxy/net/asio.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace atsgate::acme {

// The client context for talking to the CA: TLS 1.2+, the peer verified against `ca_file` (PEM
// bundle) or, when empty, the system store; the host name is checked per connection.
ossl::ptr<SSL_CTX> make_client_context(const std::string& ca_file, std::string& err);

class https_client {
public:
    // `ctx` from make_client_context; `user_agent` e.g. "atsgate/0.1.0 acme".
    https_client(net::asio::any_io_executor ex, ossl::ptr<SSL_CTX> ctx, std::string user_agent);

    // Performs `req` within `timeout`. On failure the string says what failed ("connect
    // acme.example:443: Connection refused", "timed out after 30 s", "TLS: certificate verify
    // failed") and the response is empty. Bodies over 1 MiB are refused.
    net::awaitable<std::pair<std::string, http_response>> fetch(const http_request& req,
                                                                 std::chrono::milliseconds timeout);

private:
    net::asio::any_io_executor ex_;
    ossl::ptr<SSL_CTX> ctx_;
    std::string user_agent_;
};

struct order_outcome {
    bool ok = false;
    std::string certificate_pem;    // the chain, leaf first, when ok
    std::string error;              // why not
    std::int64_t retry_after_s = -1;  // the CA asked to wait this long before the next attempt
    std::string account_url;
    std::string renewal_info_url;   // the directory's renewalInfo, "" if not offered
};

// Runs `flow` to its end: each request through `client` (request_timeout each), waits on a timer,
// challenges published on `board` and withdrawn again whatever the outcome. `now_ms` is the clock
// (unix ms), `random01` the jitter source. `log` (may be empty) receives one line per step, for the
// issuance log.
net::awaitable<order_outcome> run_order(https_client& client, order_flow& flow, challenge_board& board,
                                        std::chrono::milliseconds request_timeout,
                                        std::function<std::int64_t()> now_ms, std::function<double()> random01,
                                        std::function<void(const std::string&)> log);

// ARI (RFC 9773 4): GETs `renewal_info_url`/<cert_id>. nullopt window when the CA gives none or an
// unusable one; `poll_after_s` says when to ask again.
struct ari_answer {
    std::optional<ari_window> window;
    std::int64_t poll_after_s = 6 * 3600;
    std::string error;
};
net::awaitable<ari_answer> fetch_renewal_info(https_client& client, const std::string& renewal_info_url,
                                              const std::string& cert_id, std::chrono::milliseconds timeout,
                                              std::int64_t now_s);

}  // namespace atsgate::acme
