#pragma once
// One certificate order as a sans-io state machine (RFC 8555 7): directory, nonce, account
// (newAccount with the stored key: the CA returns the existing account), order, authorizations,
// challenges, polling, finalize with a CSR, certificate download. It never does I/O and never reads
// a clock: the driver (client.hpp) performs each step it asks for and feeds the result back with the
// current time. Every step is bounded: a deadline for the whole order, a cap on polls, on badNonce
// retries (RFC 8555 6.5) and on Retry-After waits (6.6, 8.2).
//
// States (one line each, in order):
//   directory    GET the directory URL
//   nonce        HEAD newNonce (whenever no fresh Replay-Nonce is at hand before a POST)
//   account      POST newAccount {termsOfServiceAgreed, contact}, signed with the JWK -> kid
//   order        POST newOrder {identifiers[, replaces]} -> order URL, authorizations, finalize
//   authz_fetch  POST-as-GET each authorization; valid ones are skipped, pending ones give a task
//   publish      the driver installs the challenge responses (TLS-ALPN-01 certs or HTTP-01 bodies)
//   respond      POST {} to each pending challenge
//   authz_poll   POST-as-GET each pending authorization until valid (Retry-After or 1 s apart)
//   order_ready  POST-as-GET the order until "ready"
//   finalize     POST finalize {csr}
//   order_valid  POST-as-GET the order until "valid" (certificate URL)
//   download     POST-as-GET the certificate (application/pem-certificate-chain)
//   done / failed   terminal

#include "proxy/acme/account_key.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::acme {

enum class challenge_kind { tls_alpn_01, http_01 };
std::string_view to_string(challenge_kind k) noexcept;  // "tls-alpn-01", "http-01"

// The parts of a directory (RFC 8555 7.1.1) atsgate uses.
struct directory {
    std::string new_nonce;
    std::string new_account;
    std::string new_order;
    std::string renewal_info;  // RFC 9773; "" when the CA does not offer ARI
};
// `directory_url` non-empty: every URL must be https on its origin (https_url.hpp); empty: https.
// nullopt when a required entry is missing or any URL (renewalInfo included) is refused.
std::optional<directory> parse_directory(std::string_view json, std::string_view directory_url = {});

// An ACME problem document (RFC 8555 6.7, RFC 7807); type and detail made safe to log
// (util::log_safe, 200 bytes).
struct problem {
    std::string type;    // "urn:ietf:params:acme:error:badNonce", ...
    std::string detail;
};
std::optional<problem> parse_problem(std::string_view json);

struct http_request {
    enum class verb { get, head, post } method = verb::get;
    std::string url;
    std::string body;    // the JWS for a POST
    std::string accept;  // "" or "application/pem-certificate-chain"
};
struct http_response {
    int status = 0;
    std::string location;     // Location header
    std::string replay_nonce; // Replay-Nonce header
    std::string retry_after;  // Retry-After header, raw
    std::string body;
};

struct challenge_task {
    std::string domain;
    std::string token;              // base64url, checked
    std::string key_authorization;  // token.thumbprint
    challenge_kind kind = challenge_kind::tls_alpn_01;
};

struct order_params {
    std::string directory_url;
    std::vector<std::string> names;  // DNS names; names[0] is the certificate's "main" name
    challenge_kind challenge = challenge_kind::tls_alpn_01;
    std::vector<std::string> contact;  // "mailto:ops@example.com"
    std::string csr_der;               // the CSR for `names`, already signed with the certificate key
    std::string replaces;              // RFC 9773 5: ARI id of the certificate this order renews, or ""
    std::int64_t deadline_ms = 0;      // unix ms: the whole order fails after this
    unsigned max_bad_nonce = 5;        // badNonce retries per request
    unsigned max_polls = 120;          // polls of one authorization or of the order
    std::int64_t max_retry_after_ms = 60'000;  // longer Retry-After on an error: give up, report it
};

struct step {
    enum class kind {
        send,     // perform `request`, then call on_response() (or on_transport_error())
        wait,     // wait `wait_ms`, then call resume()
        publish,  // install `tasks` so the CA can validate them, then call published()
        done,     // `certificate_pem` is the chain (leaf first)
        failed,   // `error` says why; `retry_after_s` >= 0 when the CA asked to come back later
    } what = kind::failed;
    http_request request;
    std::int64_t wait_ms = 0;
    std::vector<challenge_task> tasks;
    std::string certificate_pem;
    std::string error;
    std::int64_t retry_after_s = -1;
};

class order_flow {
public:
    // `key` must outlive the flow.
    order_flow(const account_key& key, order_params p);

    step start(std::int64_t now_ms);
    step on_response(const http_response& r, std::int64_t now_ms);
    // The request could not be performed (connect, TLS, timeout): retried up to 3 times with
    // backoff, then the order fails.
    step on_transport_error(const std::string& what, std::int64_t now_ms, double jitter);
    step resume(std::int64_t now_ms);
    step published(std::int64_t now_ms);

    // Challenges handed out with a publish step (the driver removes them when the flow ends).
    const std::vector<challenge_task>& tasks() const noexcept { return tasks_; }
    const std::string& account_url() const noexcept { return kid_; }
    const std::string& order_url() const noexcept { return order_url_; }
    const directory& dir() const noexcept { return dir_; }
    bool finished() const noexcept { return state_ == state::done || state_ == state::failed; }

private:
    enum class state {
        directory, account, order, authz_fetch, publish, respond, authz_poll, order_ready, finalize,
        order_valid, download, done, failed
    };
    // What was last sent, so it can be re-signed on badNonce or repeated after a wait.
    struct pending {
        http_request::verb method = http_request::verb::get;
        std::string url;
        std::string payload;   // JSON; "" = POST-as-GET
        bool use_jwk = false;  // sign with the JWK instead of the kid (newAccount)
        std::string accept;
    };

    step send_get(std::string url);
    step send_post(std::string url, std::string payload, bool use_jwk = false, std::string accept = {});
    step sign_and_send();
    step fail(std::string why, std::int64_t retry_after_s = -1);
    step refuse_url(std::string_view url);
    step wait_then(std::int64_t ms, std::int64_t now_ms);
    // A successful answer to the pending request, dispatched to the handler of the current state.
    step handle(const http_response& r, std::int64_t now_ms);
    step on_directory(const http_response& r);
    step on_account(const http_response& r);
    step on_order(const http_response& r, std::int64_t now_ms);
    step on_authz_fetch(const http_response& r, std::int64_t now_ms);
    step on_respond();
    step on_authz_poll(const http_response& r, std::int64_t now_ms);
    step on_order_status(const http_response& r, std::int64_t now_ms);  // order_ready, finalize, order_valid
    step on_download(const http_response& r);
    step after_authz_fetch(std::int64_t now_ms);
    step problem_failure(const http_response& r, const std::string& what, std::int64_t now_ms);
    std::string describe(const http_response& r) const;

    const account_key& key_;
    order_params p_;
    state state_ = state::directory;
    directory dir_;
    std::string nonce_;
    bool fetching_nonce_ = false;
    pending pending_;
    unsigned bad_nonce_ = 0;
    unsigned transport_errors_ = 0;
    unsigned polls_ = 0;
    unsigned server_waits_ = 0;
    bool tried_without_replaces_ = false;
    std::string kid_;
    std::string order_url_;
    std::string finalize_url_;
    std::string certificate_url_;
    std::vector<std::string> authz_urls_;
    std::size_t authz_index_ = 0;
    std::vector<std::string> authz_names_;       // the ordered names the fetched authorizations are for
    std::vector<std::string> pending_authz_;     // authorizations waiting for validation, parallel to tasks_
    std::vector<std::string> challenge_urls_;    // to POST {} to, parallel to tasks_
    std::vector<challenge_task> tasks_;
    std::int64_t poll_delay_ms_ = 0;             // next wait from Retry-After or the default
};

}  // namespace atsgate::acme
