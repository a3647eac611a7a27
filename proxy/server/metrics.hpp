#pragma once
// Prometheus text exposition of the workers' counters (GET /metrics on the admin endpoint) and
// the one-line summary printed at shutdown.

#include "proxy/acme/manager.hpp"
#include "proxy/downstream/stats.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <string>
#include <vector>

namespace atsgate::server {

// Sums the given per-worker stats. Reads atomics; safe from any thread.
std::string render_metrics(const std::vector<const downstream::stats*>& workers);
std::string render_summary(const std::vector<const downstream::stats*>& workers);
// Fleet insight and would-refuse counters per listener of `snap` (labels: listener, and a bounded
// version / feature / reason label). Reads atomics; safe from any thread.
std::string render_fleet_metrics(const snapshot::snapshot& snap);
// ACME: validations answered by the listeners (the workers' counters), and with the certificate
// task `acme` (null without [acme]) its orders, renewals, audit refusals and per-certificate next
// attempt, consecutive failures and overdue flag. The served certificates' notAfter is
// atsgate_certificate_expiry_timestamp_seconds (ops_metrics). Control thread (reads the task).
std::string render_acme_metrics(const std::vector<const downstream::stats*>& workers, const acme::manager* acme);

}  // namespace atsgate::server
