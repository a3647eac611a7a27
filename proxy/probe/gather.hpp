#pragma once
// Fact gathering for `atsgate probe`: the only part of the probe that touches sockets and OpenSSL.
//
// Blocking sockets driven by poll(2) with deadlines (this is a CLI tool, not the data plane):
// every connect, handshake step, read and write waits at most until min(now + timeout, the
// target's budget). Each handshake attempt builds its own client SSL_CTX for exactly that
// attempt; OpenSSL reads and writes through memory BIOs so that the socket I/O (and its
// deadline, and MSG_NOSIGNAL) stays here. A target whose handshake times out skips its remaining
// TLS attempts, so an unresponsive server costs a bounded time; targets run on a bounded pool of
// threads, so one slow target never stalls the others.

#include "proxy/probe/facts.hpp"
#include "tls/ossl.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace atsgate::probe {

struct probe_options {
    // Bounds every connect, handshake, read and write (--timeout). Default 10 s.
    std::chrono::milliseconds timeout{10000};
    // A whole target is bounded by timeout * budget_factor; attempts after that are skipped.
    int budget_factor = 8;
    // --sni: server_name sent to every target and the name checked against the SAN ("" = the
    // target's host; no SNI for an IP literal).
    std::string sni;
    // --ca: trust anchors for the chain check (borrowed, shared read-only by every thread);
    // null = the system store. trust_path is only used in report text.
    X509_STORE* trust = nullptr;
    std::string trust_path;
    // The plain-HTTP port checked on each target's host (--http-port, default 80).
    std::uint16_t http_port = 80;
    // Redirects followed from the target URL (https only; an http:// Location ends the chain).
    int max_redirects = 5;
};

// Gathers every fact about `t`. Network problems become facts, never exceptions; OpenSSL errors
// are drained at each call site. Blocks for at most timeout * budget_factor (plus DNS, which is
// also bounded by `timeout`). Thread-safe: call it from several threads for different targets.
target_facts gather(const target& t, const probe_options& o);

// gather() for every target on `concurrency` threads (1..256); results in input order. A target
// whose gathering throws (out of memory, say) gets a reachability error instead of ending the run.
std::vector<target_facts> gather_all(const std::vector<target>& targets, const probe_options& o, unsigned concurrency);

}  // namespace atsgate::probe
