#pragma once
// Fleet insight: what the clients of each listener offer, and the most recent handshakes atsgate
// refused or (in report mode) would have refused. Answers "which of my clients would break, and
// why?" before enforcement is switched on (README "Rolling out enforcement on a legacy port").
//
// fleet_counters: one per listener, kept across reloads (snapshot::shared_state), shared by every
// worker. Bounded cardinality by construction: fixed arrays indexed by version bucket and refusal
// reason, a handful of yes/no features. Counting is a few relaxed atomic increments per handshake:
// no allocation, no lock.
//
// refusal_log: the last `capacity` refused or would-refuse handshakes of the process, newest first
// on read. Fixed-size entries in a ring behind a mutex: a push copies ~200 bytes and allocates
// nothing; it happens only for refusals, never on a handshake that is simply accepted.

#include "tls/handshake_gate.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace atsgate::tls {

// Offered or negotiated protocol versions, as counter buckets.
enum class version_bucket : std::uint8_t { older, tls10, tls11, tls12, tls13 };
inline constexpr std::size_t version_bucket_count = 5;
// The bucket of a wire version (0x0303 -> tls12); SSLv3 and anything unknown -> older.
version_bucket bucket_of(std::uint16_t wire_version) noexcept;
// "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "older" (metric labels).
std::string_view to_string(version_bucket b) noexcept;

// X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem), offered by default by Apple's OS 26 releases.
inline constexpr std::uint16_t group_x25519mlkem768 = 0x11EC;
// IANA name of a supported_groups code point ("x25519", "secp256r1", "X25519MLKEM768", ...), or
// "0x%04x" for others.
std::string group_name(std::uint16_t code);

struct fleet_counters {
    using counter = std::atomic<std::uint64_t>;
    counter hellos{0};                                            // ClientHellos seen
    std::array<counter, version_bucket_count> offered_max{};      // ... by highest version offered
    counter ems_offered{0};                                       // ... with extended_master_secret
    counter sni_present{0};                                       // ... with server_name
    counter mlkem_offered{0};                                     // ... offering X25519MLKEM768
    std::array<counter, version_bucket_count> negotiated{};       // completed handshakes by version
    std::array<counter, refusal_count> refused{};                 // refusals by reason (index 0 unused)
    std::array<counter, refusal_count> would_refuse{};            // report mode: strict would refuse

    // Counts one ClientHello's offer. Any thread.
    void count_hello(const client_hello_facts& hello) noexcept;
    static std::uint64_t get(const counter& c) noexcept { return c.load(std::memory_order_relaxed); }
    static void inc(counter& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }
};

// One refused or would-refuse handshake, as shown on /status and the dashboard. Fixed size.
struct refused_handshake {
    std::int64_t at = 0;                // unix seconds
    std::array<char, 65> listener{};    // NUL-terminated
    std::array<char, 56> client{};      // "address:port" as the connection knows the client
    std::array<char, 64> sni{};         // sanitised by extract_client_hello (printable, bounded)
    std::uint16_t max_version = 0;      // highest version offered
    std::uint16_t suites = 0;           // suites offered
    bool ems = false;                   // extended_master_secret offered
    std::uint8_t group_count = 0;       // groups offered (first client_hello_facts::max_groups)
    std::array<std::uint16_t, client_hello_facts::max_groups> groups{};
    refusal reason = refusal::none;
    bool would_refuse = false;          // report mode: served, but strict mode would have refused
};

// Fills an entry from what the connection knows. `client` and `listener` are truncated to fit.
refused_handshake make_refused(std::int64_t at, std::string_view listener, std::string_view client,
                               const client_hello_facts& hello, refusal reason, bool would_refuse) noexcept;

class refusal_log {
public:
    static constexpr std::size_t capacity = 200;
    // Records `e`, dropping the oldest entry when full. Any thread; no allocation.
    void push(const refused_handshake& e) noexcept;
    // Every entry kept, newest first. Any thread.
    std::vector<refused_handshake> recent() const;

private:
    mutable std::mutex mutex_;
    std::array<refused_handshake, capacity> ring_{};
    std::size_t next_ = 0;   // slot of the next push
    std::size_t size_ = 0;   // entries kept (<= capacity)
};

}  // namespace atsgate::tls
