#include "proxy/server/ops_metrics.hpp"

#include "proxy/server/prometheus.hpp"

#include <openssl/crypto.h>
#include <sys/resource.h>

#include <filesystem>
#include <system_error>

#ifndef ATSGATE_VERSION_STRING
#define ATSGATE_VERSION_STRING "0.0.0"
#endif

namespace atsgate::server {

namespace {

using prometheus::family;
using prometheus::labels;
using prometheus::sample;

void gauge(std::string& out, const char* name, const char* help, std::int64_t v) {
    prometheus::single(out, name, "gauge", help, v);
}

// Open descriptors of this process (/proc/self/fd), -1 when unreadable.
std::int64_t open_fds() {
    std::error_code ec;
    std::int64_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
    return ec ? -1 : n - 1;  // minus the directory iterator's own descriptor
}

}  // namespace

std::string openssl_runtime_version() { return OpenSSL_version(OPENSSL_VERSION_STRING); }

std::string render_ops_metrics(const snapshot::snapshot& snap, const ops_facts& f) {
    std::string out;
    out.reserve(2048);
    family(out, "atsgate_reloads_total", "counter", "Configuration reloads (SIGHUP, POST /reload) by result.");
    sample(out, "atsgate_reloads_total", labels({{"result", "ok"}}), f.reloads_ok);
    sample(out, "atsgate_reloads_total", labels({{"result", "refused"}}), f.reloads_refused);
    prometheus::single(out, "atsgate_config_generation", "gauge", "Generation of the live configuration snapshot.",
                       f.generation);
    family(out, "atsgate_build_info", "gauge", "The running build: atsgate and OpenSSL library versions (always 1).");
    sample(out, "atsgate_build_info", labels({{"version", ATSGATE_VERSION_STRING}, {"openssl", openssl_runtime_version()}}),
           std::int64_t{1});
    gauge(out, "atsgate_start_time_seconds", "Start of the process, unix seconds.", f.started);

    family(out, "atsgate_certificate_expiry_timestamp_seconds", "gauge",
         "notAfter of every served certificate, unix seconds, by listener, first SNI name and key type.");
    for (std::size_t i = 0; i < snap.listeners.size() && i < snap.cfg.listeners.size(); ++i) {
        for (const auto& c : snap.listeners[i].certificates) {
            const std::string& name = c.names.empty() ? c.subject : c.names.front();
            sample(out, "atsgate_certificate_expiry_timestamp_seconds",
                   labels({{"listener", snap.cfg.listeners[i].name}, {"name", name}, {"key", c.key}}), c.not_after);
        }
    }

    gauge(out, "atsgate_config_last_reload_successful",
          "1 if the last reload was applied (or none was tried), 0 if it was refused and an older configuration serves.",
          f.last_reload_ok ? 1 : 0);
    gauge(out, "atsgate_config_last_reload_success_timestamp_seconds",
          "When the live configuration was loaded (start or last applied reload), unix seconds.", f.last_good_config);

    family(out, "atsgate_upstream_member_up", "gauge",
         "1 if the upstream member may take requests now (active check up and not ejected), else 0.");
    for (std::size_t u = 0; u < snap.upstreams.size() && u < snap.cfg.upstreams.size(); ++u) {
        const auto& cu = snap.cfg.upstreams[u];
        for (std::size_t m = 0; m < snap.upstreams[u].members.size() && m < cu.members.size(); ++m) {
            const auto& h = snap.upstreams[u].members[m].health;
            const bool up = h && h->usable(f.mono);
            sample(out, "atsgate_upstream_member_up", labels({{"upstream", cu.name}, {"member", cu.members[m].url}}),
                   std::int64_t{up ? 1 : 0});
        }
    }

    gauge(out, "atsgate_draining", "1 while the process drains after SIGTERM (readyz answers 503).", f.draining ? 1 : 0);
    gauge(out, "atsgate_connections_max", "limits.max_connections: client connections at once, all workers.",
          static_cast<std::int64_t>(snap.cfg.limits.max_connections));
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0)
        gauge(out, "process_max_fds", "Maximum number of open file descriptors (RLIMIT_NOFILE soft limit).",
              rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<std::int64_t>(rl.rlim_cur));
    if (const auto n = open_fds(); n >= 0) gauge(out, "process_open_fds", "Number of open file descriptors.", n);
    return out;
}

}  // namespace atsgate::server
