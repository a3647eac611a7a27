#include "proxy/probe/command.hpp"

#include "proxy/probe/gather.hpp"
#include "proxy/probe/judge.hpp"
#include "proxy/probe/profile.hpp"
#include "proxy/probe/report.hpp"
#include "tls/cert_facts.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>

namespace atsgate::probe {
namespace {

struct input {
    target tgt;
    std::string source;
};

struct settings {
    bool json = false;
    bool help = false;
    std::string html_path;  // --html FILE: also write the HTML report there
    std::string ca_path;
    std::string sni;
    double timeout_s = 10;
    unsigned concurrency = 8;
    std::uint16_t http_port = 80;
    // In argument order: ('t', target text) / ('f', from-file path) / ('p', profile path).
    std::vector<std::pair<char, std::string>> sources;
};

void usage_error(const std::string& msg) {
    std::fprintf(stderr, "atsgate probe: %s (see atsgate probe --help)\n", msg.c_str());
}

bool parse_number(std::string_view s, double& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size() && std::isfinite(out);
}

bool parse_unsigned(std::string_view s, unsigned long& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size() && !s.empty();
}

bool parse_args(const std::vector<std::string_view>& args, settings& st) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        std::string_view value;
        bool has_value = false;
        if (a.size() > 2 && a.substr(0, 2) == "--" && a.find('=') != std::string_view::npos) {
            value = a.substr(a.find('=') + 1);
            a = a.substr(0, a.find('='));
            has_value = true;
        }
        auto take = [&](std::string_view& out) {
            if (has_value) {
                out = value;
                return true;
            }
            if (i + 1 >= args.size()) {
                usage_error(std::string(a) + " needs a value");
                return false;
            }
            out = args[++i];
            return true;
        };
        std::string_view v;
        if (a == "-h" || a == "--help") {
            st.help = true;
        } else if (a == "--json") {
            st.json = true;
        } else if (a == "--html") {
            if (!take(v)) return false;
            if (v.empty()) {
                usage_error("--html needs a file name");
                return false;
            }
            st.html_path = std::string(v);
        } else if (a == "--ca") {
            if (!take(v)) return false;
            st.ca_path = std::string(v);
        } else if (a == "--sni") {
            if (!take(v)) return false;
            st.sni.clear();
            for (char c : v) st.sni += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
            std::string err;
            auto t = parse_target(st.sni, err);
            if (st.sni.empty() || !t || t->host != st.sni || t->host_is_ip) {
                usage_error("--sni needs a DNS name, got \"" + st.sni + "\"");
                return false;
            }
        } else if (a == "--timeout") {
            if (!take(v)) return false;
            if (!parse_number(v, st.timeout_s) || st.timeout_s < 0.1 || st.timeout_s > 600) {
                usage_error("--timeout needs seconds between 0.1 and 600, got \"" + std::string(v) + "\"");
                return false;
            }
        } else if (a == "--concurrency") {
            if (!take(v)) return false;
            unsigned long n = 0;
            if (!parse_unsigned(v, n) || n < 1 || n > 256) {
                usage_error("--concurrency needs a number between 1 and 256, got \"" + std::string(v) + "\"");
                return false;
            }
            st.concurrency = static_cast<unsigned>(n);
        } else if (a == "--http-port") {
            if (!take(v)) return false;
            unsigned long n = 0;
            if (!parse_unsigned(v, n) || n < 1 || n > 65535) {
                usage_error("--http-port needs a port between 1 and 65535, got \"" + std::string(v) + "\"");
                return false;
            }
            st.http_port = static_cast<std::uint16_t>(n);
        } else if (a == "--from-file") {
            if (!take(v)) return false;
            st.sources.emplace_back('f', std::string(v));
        } else if (a == "--profile") {
            if (!take(v)) return false;
            st.sources.emplace_back('p', std::string(v));
        } else if (a.size() > 1 && a[0] == '-') {
            usage_error("unknown option " + std::string(a));
            return false;
        } else {
            if (has_value) {
                usage_error("unexpected argument " + std::string(args[i]));
                return false;
            }
            st.sources.emplace_back('t', std::string(a));
        }
    }
    return true;
}

// Adds `t` unless its URL is already listed (then only its source is noted).
void add_target(std::vector<input>& inputs, const target& t, const std::string& source) {
    for (auto& in : inputs) {
        if (in.tgt.url() == t.url()) {
            if (in.source.find(source) == std::string::npos) in.source += "; " + source;
            return;
        }
    }
    inputs.push_back({t, source});
}

bool read_target_file(const std::string& path, std::vector<input>& inputs) {
    std::ifstream in(path);
    if (!in) {
        std::fprintf(stderr, "atsgate probe: %s: cannot read\n", path.c_str());
        return false;
    }
    std::string line;
    std::size_t n = 0;
    bool ok = true;
    while (std::getline(in, line)) {
        ++n;
        if (n > 100000) {
            std::fprintf(stderr, "atsgate probe: %s: more than 100000 lines\n", path.c_str());
            return false;
        }
        std::string_view s = line;
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
        if (s.empty() || s.front() == '#') continue;
        std::string err;
        auto t = parse_target(s, err);
        if (!t) {
            std::fprintf(stderr, "atsgate probe: %s:%zu: %s\n", path.c_str(), n, err.c_str());
            ok = false;  // report every bad line, then stop
            continue;
        }
        add_target(inputs, *t, path + ":" + std::to_string(n));
    }
    if (in.bad()) {
        std::fprintf(stderr, "atsgate probe: %s: read error\n", path.c_str());
        return false;
    }
    return ok;
}

// Writes `text` to `path` through a temporary file in the same directory and a rename, so a reader
// never sees half a report. False with a message on stderr on any error.
bool write_report(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out || !out.write(text.data(), static_cast<std::streamsize>(text.size())) || !out.flush()) {
            std::fprintf(stderr, "atsgate probe: --html %s: cannot write\n", path.c_str());
            std::remove(tmp.c_str());
            return false;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::fprintf(stderr, "atsgate probe: --html %s: cannot write\n", path.c_str());
        std::remove(tmp.c_str());
        return false;
    }
    return true;
}

bool colour_wanted() {
    const char* no_color = std::getenv("NO_COLOR");  // https://no-color.org: set and non-empty disables
    return ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
}

}  // namespace

void print_help(std::FILE* out) {
    std::fputs(
        "usage: atsgate probe [--json] [--html FILE] [--ca FILE] [--sni NAME] [--timeout SECONDS]\n"
        "                     [--concurrency N] [--from-file FILE] [--profile FILE] TARGET...\n"
        "\n"
        "Audits remote servers the way an Apple device connects to them (App Transport Security), like\n"
        "`nscurl --ats-diagnostics`, for a whole fleet of endpoints at once.\n"
        "\n"
        "  TARGET              https://host[:port][/path] or host:port (an http:// URL is reported as a FAIL)\n"
        "  --from-file FILE    read targets from FILE, one per line (# comments and blank lines ignored)\n"
        "  --profile FILE      probe every URL in a .mobileconfig (XML, binary or CMS-signed); http:// URLs\n"
        "                      in it FAIL, except a SCEP payload URL (exempt)\n"
        "  --ca FILE           trust anchors (PEM) for the chain check; default: the system trust store\n"
        "  --sni NAME          server name to send and to match against the certificate (default: the host)\n"
        "  --timeout SECONDS   limit for every connect, handshake, read and write (default 10; a target's\n"
        "                      whole probe is bounded by 8 times that)\n"
        "  --concurrency N     targets probed in parallel (default 8)\n"
        "  --json              machine-readable report (schema in the README)\n"
        "  --html FILE         also write the report as one self-contained HTML page to FILE, to send to\n"
        "                      the people who own the servers (same verdicts, matrix and remediation)\n"
        "\n"
        "Checks per target: probe.reachability, probe.tls_versions, probe.ats_default, probe.ems,\n"
        "probe.suites, probe.non_pfs, cert.* (the start-up audit's certificate rules),\n"
        "probe.plaintext_port80, probe.redirect, and an nscurl-style matrix.\n"
        "\n"
        "exit status: 0 nothing FAILs, 1 something FAILs, 2 usage error, unreadable input or --html FILE\n"
        "             not writable\n",
        out);
}

int command_main(const std::vector<std::string_view>& args) {
    settings st;
    if (!parse_args(args, st)) return exit_usage;
    if (st.help) {
        print_help(stdout);
        return exit_pass;
    }
    if (st.sources.empty()) {
        usage_error("no TARGET, --from-file or --profile given");
        return exit_usage;
    }
    if (!st.html_path.empty()) {  // fail before probing a whole fleet, not after
        const auto slash = st.html_path.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : st.html_path.substr(0, slash);
        if (::access(dir.c_str(), W_OK) != 0) {
            usage_error("--html " + st.html_path + ": directory " + dir + " is not writable");
            return exit_usage;
        }
    }

    // Collect every input first: any unreadable input is a usage error before anything is probed.
    std::vector<input> inputs;
    std::vector<profile_facts> profiles;
    bool ok = true;
    for (const auto& [kind, text] : st.sources) {
        if (kind == 't') {
            std::string err;
            auto t = parse_target(text, err);
            if (!t) {
                usage_error(err);
                ok = false;
                continue;
            }
            add_target(inputs, *t, "command line");
        } else if (kind == 'f') {
            ok = read_target_file(text, inputs) && ok;
        } else {
            std::string err;
            auto p = load_profile(text, err);
            if (!p) {
                std::fprintf(stderr, "atsgate probe: %s\n", err.c_str());
                ok = false;
                continue;
            }
            for (const auto& u : p->urls) {
                if (!u.https || !u.invalid.empty()) continue;  // judged in the profile's own block
                std::string err2;
                if (auto t = parse_target(u.url, err2)) add_target(inputs, *t, text + ": " + u.key_path);
            }
            profiles.push_back(std::move(*p));
        }
    }
    if (!ok) return exit_usage;

    probe_options o;
    o.timeout = std::chrono::milliseconds(static_cast<long long>(std::llround(st.timeout_s * 1000)));
    o.sni = st.sni;
    o.http_port = st.http_port;
    ossl::ptr<X509_STORE> store;
    if (!st.ca_path.empty()) {
        tls::load_error err;
        store = tls::load_trust_store(st.ca_path, err);
        if (!store) {
            std::fprintf(stderr, "atsgate probe: --ca %s\n", err.message.c_str());
            return exit_usage;
        }
        o.trust = store.get();
        o.trust_path = st.ca_path;
    }

    std::vector<target> targets;
    targets.reserve(inputs.size());
    for (const auto& in : inputs) targets.push_back(in.tgt);
    std::vector<target_facts> facts = gather_all(targets, o, st.concurrency);

    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    report r;
    for (const auto& p : profiles) r.profiles.push_back(judge_profile(p));
    for (std::size_t i = 0; i < facts.size(); ++i) {
        facts[i].source = inputs[i].source;
        r.targets.push_back(judge_target(facts[i], now));
    }
    const std::string text = st.json ? render_json(r) : render_text(r, colour_wanted());
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    if (!st.html_path.empty() && !write_report(st.html_path, render_html(r, now, ATSGATE_VERSION_STRING))) return exit_usage;
    return r.failed() ? exit_fail : exit_pass;
}

}  // namespace atsgate::probe
