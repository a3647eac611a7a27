#include "proxy/server/ops_metrics.hpp"

#include <openssl/crypto.h>
#include <sys/resource.h>

#include <filesystem>
#include <system_error>

#ifndef ATSGATE_VERSION_STRING
#define ATSGATE_VERSION_STRING "0.0.0"
#endif

namespace atsgate::server {

namespace {

// A Prometheus label value: backslash, double quote and newline escaped.
std::string label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

void head(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void gauge(std::string& out, const char* name, const char* help, std::int64_t v) {
    head(out, name, "gauge", help);
    out += name;
    out += ' ';
    out += std::to_string(v);
    out += '\n';
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
    head(out, "atsgate_build_info", "gauge", "The running build: atsgate and OpenSSL library versions (always 1).");
    out += "atsgate_build_info{version=\"" + label(ATSGATE_VERSION_STRING) + "\",openssl=\"" +
           label(openssl_runtime_version()) + "\"} 1\n";
    gauge(out, "atsgate_start_time_seconds", "Start of the process, unix seconds.", f.started);

    head(out, "atsgate_certificate_expiry_timestamp_seconds", "gauge",
         "notAfter of every served certificate, unix seconds, by listener, first SNI name and key type.");
    for (std::size_t i = 0; i < snap.listeners.size() && i < snap.cfg.listeners.size(); ++i) {
        for (const auto& c : snap.listeners[i].certificates) {
            const std::string& name = c.names.empty() ? c.subject : c.names.front();
            out += "atsgate_certificate_expiry_timestamp_seconds{listener=\"" + label(snap.cfg.listeners[i].name) +
                   "\",name=\"" + label(name) + "\",key=\"" + label(c.key) + "\"} " + std::to_string(c.not_after) + "\n";
        }
    }

    gauge(out, "atsgate_config_last_reload_successful",
          "1 if the last reload was applied (or none was tried), 0 if it was refused and an older configuration serves.",
          f.last_reload_ok ? 1 : 0);
    gauge(out, "atsgate_config_last_reload_success_timestamp_seconds",
          "When the live configuration was loaded (start or last applied reload), unix seconds.", f.last_good_config);

    head(out, "atsgate_upstream_member_up", "gauge",
         "1 if the upstream member may take requests now (active check up and not ejected), else 0.");
    for (std::size_t u = 0; u < snap.upstreams.size() && u < snap.cfg.upstreams.size(); ++u) {
        const auto& cu = snap.cfg.upstreams[u];
        for (std::size_t m = 0; m < snap.upstreams[u].members.size() && m < cu.members.size(); ++m) {
            const auto& h = snap.upstreams[u].members[m].health;
            const bool up = h && h->usable(f.mono);
            out += "atsgate_upstream_member_up{upstream=\"" + label(cu.name) + "\",member=\"" +
                   label(cu.members[m].url) + "\"} " + (up ? "1" : "0") + "\n";
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
