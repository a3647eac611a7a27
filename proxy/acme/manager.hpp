#pragma once
// Keeps the ACME certificates of the configuration issued, audited and renewed: the control-plane
// task behind [acme]. One coroutine on the control thread's io_context wakes at the earliest
// renewal time (renewal_plan.hpp), orders due certificates one at a time while holding the
// storage lock (several replicas may share the storage directory: the others adopt what the lock
// holder stored), has every issued certificate audited before use (hooks::audit, the same audit a
// configured certificate gets) and asks for the snapshot to be rebuilt (hooks::changed) when the
// served set changes. A certificate that fails the audit is kept aside (<id>.rejected.pem), never
// served, and reported. Nothing here throws; every wait is bounded.
// Control thread only (status is read there too: admin and metrics run on it).

#include "config/config.hpp"
#include "proxy/acme/challenge_board.hpp"
#include "proxy/acme/client.hpp"
#include "proxy/acme/renewal_plan.hpp"
#include "proxy/acme/storage.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace atsgate::acme {

// One certificate ordered from the CA, shared by every entry with the same names and key type.
struct managed_certificate {
    std::string id;  // storage id, "<first name>.<key type>"
    std::vector<std::string> names;
    key_type type = key_type::ecdsa_p256;

    // The certificate being served (approved: issued and audited), if any.
    std::filesystem::path file;  // empty: none yet (the entries are pending)
    std::optional<std::int64_t> not_before, not_after;
    std::string serial;
    std::string ari_id;  // RFC 9773 certificate id of the served certificate ("" without AKI)

    // Renewal state.
    std::optional<ari_window> ari;
    double ari_draw = 0.5;
    std::int64_t ari_next = 0;   // when to ask renewalInfo again (unix seconds)
    unsigned failures = 0;       // consecutive failed orders (audit refusals included)
    std::int64_t last_failure = 0;
    std::int64_t retry_after = -1;
    double backoff_draw = 0.5;   // jitter drawn at the last failure (stable until the next one)
    std::string last_error;
    std::vector<std::string> rejected;  // failing audit findings of the last refused certificate
    std::string rejected_serial;        // the stored certificate those findings are about
    std::string waiting_for;            // e.g. "another replica holds the storage lock"
    renewal_plan plan;

    std::uint64_t orders_ok = 0, orders_failed = 0, renewals_ok = 0, renewals_failed = 0, rejected_total = 0;
};

// What operators see (/status, the dashboard): "pending" (none served yet: its names are refused),
// "failing" (one is served but the last attempt to renew it failed) or "valid".
std::string_view state_of(const managed_certificate& m) noexcept;

class manager {
public:
    struct hooks {
        // One log line; level 0 = debug, 1 = info, 2 = warning, 3 = error.
        std::function<void(int, const std::string&)> log;
        // Audits the key + chain PEM file `candidate` as certificate `id` would be served; returns the
        // failing findings ("cert.lifetime FAIL: ..."), empty when it may be served.
        std::function<std::vector<std::string>(const std::string& id, const std::filesystem::path& candidate)> audit;
        // The served set changed (a certificate was approved or dropped): rebuild the snapshot.
        std::function<void()> changed;
    };

    // `board`: where challenges are published (the one the listeners' snapshots look at).
    manager(net::asio::any_io_executor ex, hooks h, std::shared_ptr<challenge_board> board);
    ~manager();
    manager(const manager&) = delete;
    manager& operator=(const manager&) = delete;

    // Takes [acme] and the acme = true entries of `cfg` (deduplicated by names and key type), opens
    // the storage and adopts the stored certificates that are valid for their names. Keeps the
    // renewal state of certificates that stay. False with `err` when storage or the CA bundle is
    // unusable (the configuration cannot work). Call again on reload.
    bool configure(const config::config& cfg, std::string& err);
    // Points every acme = true entry of `cfg` at its approved file (cert = key = the file), or leaves
    // cert and key empty: pending.
    void substitute(config::config& cfg) const;
    // Never serve certificate `id` again (the served-certificate audit failed at start-up or on a
    // rebuild): it moves aside like a refused issuance and is ordered anew.
    void reject(const std::string& id, std::vector<std::string> findings);

    void start();  // spawns the loop (once)
    void stop();   // ends it at its next wait; an order in flight is abandoned at its next step
    void kick();   // re-plan now (after configure)

    const std::vector<managed_certificate>& certificates() const noexcept { return certs_; }
    std::shared_ptr<challenge_board> board() const noexcept { return board_; }
    bool configured() const noexcept { return settings_.has_value(); }
    const std::string& renewal_info_url() const noexcept { return renewal_info_; }
    // The id of the certificate an acme = true entry is served from.
    static std::string id_of(const config::certificate& c);

private:
    net::awaitable<void> loop();
    net::awaitable<void> order(managed_certificate& m);
    net::awaitable<void> poll_ari(std::int64_t now);
    bool adopt_stored(managed_certificate& m, bool audit);  // true when the served certificate changed
    void plan_all(std::int64_t now);
    void say(int level, const std::string& line) const;
    std::int64_t now_s() const;

    net::asio::any_io_executor ex_;
    hooks hooks_;
    std::optional<config::acme_settings> settings_;
    std::optional<storage> store_;
    std::unique_ptr<https_client> client_;
    std::shared_ptr<challenge_board> board_;
    std::vector<managed_certificate> certs_;
    std::string renewal_info_;  // from the directory; "" = not offered or not known yet
    bool directory_known_ = false;
    std::mt19937_64 rng_{std::random_device{}()};
    std::unique_ptr<net::steady_timer> timer_;
    bool running_ = false;
    bool stopping_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace atsgate::acme
