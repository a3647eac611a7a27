// proxy/cli/: the atsgate executable: parses the command line and dispatches to run (server),
// check (config + snapshot + audit), reload (asks the running process through [admin]) and probe.
// May use: server, snapshot, probe, tls, config, Asio, spdlog. Nothing uses it.
//
// atsgate — an ATS-enforcing TLS front end for legacy Apple device-management servers.
//
//   atsgate run   [-c FILE]          validate, audit, then serve (exit 2 config error, 3 audit FAIL)
//   atsgate check [-c FILE] [--json] validate and audit only, no sockets (exit 0 / 2 / 3)
//   atsgate probe [options] TARGET... audit remote servers for ATS (exit 0 / 1 / 2; proxy/probe)
//   atsgate --version | --help

#include "config/loader.hpp"
#include "proxy/probe/command.hpp"
#include "proxy/server/acme_support.hpp"
#include "proxy/server/log_format.hpp"
#include "proxy/server/server.hpp"
#include "proxy/snapshot/snapshot.hpp"
#include "tls/audit.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <openssl/opensslv.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <optional>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#ifndef ATSGATE_VERSION
#define ATSGATE_VERSION "0.0.0"
#endif

namespace {

using namespace atsgate;

constexpr int exit_ok = 0;
constexpr int exit_runtime = 1;  // could not bind / unexpected failure
constexpr int exit_config = 2;   // usage or configuration error
constexpr int exit_audit = 3;    // the audit found a FAIL (or could not prove compliance)

constexpr std::string_view default_config = "/etc/atsgate/atsgate.toml";

void print_usage(std::FILE* out) {
    std::fputs(
        "usage: atsgate <command> [options]\n"
        "\n"
        "commands:\n"
        "  run    validate the config, audit every listener against Apple's ATS rules, then serve\n"
        "  check  validate and audit only (opens no sockets), like `nginx -t`\n"
        "  reload ask the running atsgate (through [admin]) to re-read its config; exit 0 reloaded,\n"
        "         1 refused (the reasons are printed; the old config keeps serving), 2 usage error\n"
        "  probe  audit remote servers, URLs and profiles against ATS like an Apple device\n"
        "         (exit 0 no FAIL, 1 a FAIL, 2 usage error; see `atsgate probe --help`)\n"
        "\n"
        "options:\n"
        "  -c, --config FILE  configuration file (default /etc/atsgate/atsgate.toml)\n"
        "  --json             check: print the audit report as JSON\n"
        "  -h, --help         this help (also `atsgate <command> --help`)\n"
        "  --version          print the version\n"
        "\n"
        "exit status: 0 ok / compliant, 1 runtime error (e.g. port in use), 2 usage or config error,\n"
        "             3 the audit found a FAIL (or could not check a rule)\n",
        out);
}

void print_command_help(std::string_view cmd) {
    if (cmd == "run") {
        std::fputs(
            "usage: atsgate run [-c FILE]\n"
            "\n"
            "Validates FILE, builds every listener's TLS context, audits it against Apple's ATS rules\n"
            "and serves. Refuses to start (exit 3, nothing bound) when any rule FAILs; exits 2 on a\n"
            "config error. SIGTERM/SIGINT: stop accepting, finish in-flight requests for up to\n"
            "server.drain_timeout, exit 0; a second signal stops at once. SIGHUP (or `atsgate reload`)\n"
            "re-reads FILE: the new configuration is validated and audited first and only swapped in when\n"
            "clean; connections in flight finish on the configuration they started with.\n",
            stdout);
    } else if (cmd == "reload") {
        std::fputs(
            "usage: atsgate reload [-c FILE]\n"
            "\n"
            "Asks the atsgate running with FILE to re-read it, through FILE's [admin] endpoint (with its\n"
            "token). The running instance validates, builds and audits the new configuration and swaps\n"
            "it in only when clean. Exit 0: reloaded; 1: refused (the reasons are printed, the old\n"
            "configuration keeps serving) or the admin endpoint is unreachable; 2: usage or config error.\n",
            stdout);
    } else {
        std::fputs(
            "usage: atsgate check [-c FILE] [--json]\n"
            "\n"
            "Validates FILE and audits every listener exactly as `run` would, without opening sockets.\n"
            "Prints the report (text, or JSON with --json) on stdout and config errors on stderr.\n"
            "Exit 0: no FAIL; 3: a FAIL or an unverifiable rule; 2: config error.\n",
            stdout);
    }
}

struct options {
    std::string command;
    std::string config_path{default_config};
    bool json = false;
    bool help = false;
};

// Returns false (after printing why) on a usage error.
bool parse_args(int argc, char** argv, options& o) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto a = args[i];
        if (a == "-h" || a == "--help") {
            o.help = true;
        } else if (a == "-c" || a == "--config") {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "atsgate: %.*s needs a file argument\n", static_cast<int>(a.size()), a.data());
                return false;
            }
            o.config_path = std::string(args[++i]);
        } else if (a.starts_with("--config=")) {
            o.config_path = std::string(a.substr(9));
        } else if (a == "--json") {
            o.json = true;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "atsgate: unknown option %.*s (see atsgate --help)\n", static_cast<int>(a.size()),
                         a.data());
            return false;
        } else if (o.command.empty()) {
            o.command = std::string(a);
        } else {
            std::fprintf(stderr, "atsgate: unexpected argument %.*s (see atsgate --help)\n",
                         static_cast<int>(a.size()), a.data());
            return false;
        }
    }
    return true;
}

void print_diagnostics(const config::diagnostics& diags) {
    for (const auto& d : diags) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

bool blocks_start(const tls::report& r) { return r.any(tls::status::fail) || r.any(tls::status::unknown); }

// [acme] at start-up: the stored certificates, and where challenges are published. `io` only
// lends an executor: nothing runs on it here.
struct acme_start {
    boost::asio::io_context io;
    std::shared_ptr<acme::challenge_board> board;
    std::unique_ptr<acme::manager> manager;
    std::vector<std::string> rejected;  // stored certificates the audit refused
};

// Shared by run and check: parse, validate, build, audit. Returns an exit code, or -1 to go on.
// `before` (run): gets the content hashes of the files the configuration names before build()
// reads them (server.watch's baseline).
int prepare(const options& o, snapshot::build_result& built, snapshot::shared_state& health, acme_start& a,
            std::optional<config::config>* cfg_out = nullptr, atsgate::server::file_watch::fingerprint* before = nullptr) {
    auto loaded = config::load_file(o.config_path);
    print_diagnostics(loaded.diags);
    if (!loaded.value) return exit_config;
    if (before != nullptr) atsgate::server::file_watch::note_before_reading(loaded.value->files, *before);
    if (loaded.value->acme) {
        a.board = std::make_shared<acme::challenge_board>();
        server::attach_challenges(health, a.board);
        a.manager = std::make_unique<acme::manager>(a.io.get_executor(), acme::manager::hooks{}, a.board);
        std::string why;
        if (!a.manager->configure(*loaded.value, why)) {
            std::fprintf(stderr, "%s: %s\n", o.config_path.c_str(), why.c_str());
            return exit_config;
        }
    }
    if (cfg_out != nullptr) *cfg_out = *loaded.value;
    built = server::build_with_acme(std::move(*loaded.value), a.manager.get(), health,
                                    static_cast<std::int64_t>(std::time(nullptr)), 1, &a.rejected);
    print_diagnostics(built.diags);
    if (config::has_errors(built.diags)) return exit_config;
    return -1;
}

int cmd_check(const options& o) {
    snapshot::build_result built;
    snapshot::shared_state health;
    acme_start a;
    std::optional<config::config> cfg;
    if (int rc = prepare(o, built, health, a, &cfg); rc >= 0) return rc;
    // ACME: a certificate the audit refused (at issuance or as stored) is reported with its
    // findings; one not issued yet is only mentioned (`run` orders it and serves it when it passes).
    if (a.manager) {
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        for (const auto& m : a.manager->certificates()) {
            const auto refused = std::filesystem::path(cfg->acme->storage) / "certificates" / (m.id + ".rejected.pem");
            std::error_code ec;
            if (std::filesystem::exists(refused, ec)) {
                auto r = server::audit_report(*cfg, *a.manager, m.id, refused.string(), health, now);
                built.audit.endpoints.insert(built.audit.endpoints.end(), r.endpoints.begin(), r.endpoints.end());
                built.audit.findings.insert(built.audit.findings.end(), r.findings.begin(), r.findings.end());
            }
            if (m.file.empty())
                std::fprintf(stderr, "acme: %s (%s): no certificate yet; `atsgate run` orders it from %s\n",
                             m.names.front().c_str(), std::string(acme::to_string(m.type)).c_str(),
                             cfg->acme->directory.c_str());
        }
        for (const auto& line : a.rejected) std::fprintf(stderr, "%s\n", line.c_str());
    }
    const std::string report = o.json ? tls::render_json(built.audit) : tls::render_text(built.audit);
    std::fputs(report.c_str(), stdout);
    if (!report.empty() && report.back() != '\n') std::fputc('\n', stdout);
    return blocks_start(built.audit) ? exit_audit : exit_ok;
}

// POST /reload to the running instance's admin endpoint, found in the config file.
int cmd_reload(const options& o) {
    auto loaded = config::load_file(o.config_path);
    print_diagnostics(loaded.diags);
    if (!loaded.value) return exit_config;
    if (!loaded.value->admin) {
        std::fprintf(stderr, "atsgate: reload needs an [admin] endpoint in %s (or send SIGHUP to the process)\n",
                     o.config_path.c_str());
        return exit_config;
    }
    const auto& a = *loaded.value->admin;
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    boost::system::error_code ec;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address(a.address, ec), a.port);
    if (ec) {
        std::fprintf(stderr, "atsgate: bad admin address %s: %s\n", a.address.c_str(), ec.message().c_str());
        return exit_config;
    }
    std::string req = "POST /reload HTTP/1.1\r\nHost: atsgate\r\nContent-Length: 0\r\nConnection: close\r\n";
    if (!a.token.empty()) req += "Authorization: Bearer " + a.token + "\r\n";
    req += "\r\n";
    // The whole exchange has one deadline: a reload builds contexts and resolves names, so allow
    // generous time, but never hang on an unreachable or stuck endpoint.
    std::string resp;
    char buf[4096];
    bool connected = false;
    std::function<void(const boost::system::error_code&, std::size_t)> on_read =
        [&](const boost::system::error_code& rec, std::size_t n) {
            resp.append(buf, n);
            if (!rec) sock.async_read_some(asio::buffer(buf), on_read);
        };
    sock.async_connect(ep, [&](const boost::system::error_code& cec) {
        if (cec) {
            ec = cec;
            return;
        }
        connected = true;
        asio::async_write(sock, asio::buffer(req), [&](const boost::system::error_code& wec, std::size_t) {
            if (wec) {
                ec = wec;
                return;
            }
            sock.async_read_some(asio::buffer(buf), on_read);
        });
    });
    io.run_for(std::chrono::seconds(60));
    if (!io.stopped() || !connected || ec) {
        std::fprintf(stderr, "atsgate: cannot reach the admin endpoint %s:%u: %s\n", a.address.c_str(), a.port,
                     ec ? ec.message().c_str() : "no answer within 60 s");
        return exit_runtime;
    }
    const auto body_at = resp.find("\r\n\r\n");
    const bool ok = resp.rfind("HTTP/1.1 200", 0) == 0;
    const std::string body = body_at == std::string::npos ? resp : resp.substr(body_at + 4);
    std::fputs(body.c_str(), ok ? stdout : stderr);
    return ok ? exit_ok : exit_runtime;
}

int cmd_run(const options& o) {
    snapshot::build_result built;
    auto health = std::make_unique<snapshot::shared_state>();
    // server.watch's baseline: the files as they were before this start read them.
    atsgate::server::file_watch::fingerprint before;
    atsgate::server::file_watch::note_before_reading({atsgate::server::watched_config_path(o.config_path)}, before);
    acme_start a;
    if (int rc = prepare(o, built, *health, a, nullptr, &before); rc >= 0) return rc;
    for (const auto& line : a.rejected) spdlog::error("{}", line);
    if (blocks_start(built.audit) || !built.value) {
        std::fputs(tls::render_text(built.audit).c_str(), stderr);
        std::fprintf(stderr, "atsgate: refusing to start: the configuration does not meet Apple's ATS requirements\n");
        return exit_audit;
    }
    atsgate::server::set_log_level(built.value->cfg.server.level);
    atsgate::server::set_event_log_format(built.value->cfg.server.format);
    if (built.audit.any(tls::status::warn)) {
        for (const auto& f : built.audit.findings)
            if (f.result == tls::status::warn)
                spdlog::warn("audit: listener {}: {} {}: {}", f.endpoint, f.id, f.subject, f.evidence);
    }
    spdlog::info("atsgate {} ({}): audit passed for {} listener(s)", ATSGATE_VERSION, OPENSSL_VERSION_TEXT,
                 built.value->cfg.listeners.size());
    return atsgate::server::run(o.config_path, built.value, std::move(health), std::move(before), a.board);
}

}  // namespace

int main(int argc, char** argv) {
    // OpenSSL writes to sockets with write(2): a peer that vanished must give EPIPE, not kill us.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        auto logger = spdlog::stderr_color_mt("atsgate");
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
        spdlog::set_default_logger(logger);

        for (int i = 1; i < argc; ++i) {
            const std::string_view a = argv[i];
            if (a == "--version" || (i == 1 && a == "version")) {
                std::printf("atsgate %s (%s)\n", ATSGATE_VERSION, OPENSSL_VERSION_TEXT);
                return exit_ok;
            }
        }
        // probe has its own options and exit codes (0 / 1 / 2): proxy/probe/command.cpp.
        if (argc >= 2 && std::string_view(argv[1]) == "probe")
            return probe::command_main(std::vector<std::string_view>(argv + 2, argv + argc));
        options o;
        if (!parse_args(argc, argv, o)) return exit_config;
        if (o.command.empty()) {
            print_usage(o.help ? stdout : stderr);
            return o.help ? exit_ok : exit_config;
        }
        if (o.command != "run" && o.command != "check" && o.command != "reload") {
            std::fprintf(stderr, "atsgate: unknown command \"%s\" (see atsgate --help)\n", o.command.c_str());
            return exit_config;
        }
        if (o.help) {
            print_command_help(o.command);
            return exit_ok;
        }
        if (o.command == "reload") return cmd_reload(o);
        return o.command == "run" ? cmd_run(o) : cmd_check(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "atsgate: fatal: %s\n", e.what());
        return exit_runtime;
    }
}
