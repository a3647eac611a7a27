#include "pebble.hpp"

#include <set>
#include <stdexcept>

namespace atsgate::itest {
using namespace std::chrono_literals;

bool pebble_server::available() { return missing_tools({"pebble", "pebble-challtestsrv", "curl"}).empty(); }

namespace {
// A process that exited because a port we picked was taken in between (free_port() closes its socket,
// so another test's process can bind the port before ours does).
bool lost_port_race(process& p) {
    if (p.running()) return false;
    const auto text = p.stdout_text() + p.stderr_text();
    return text.find("address already in use") != std::string::npos;
}
}  // namespace

pebble_server::pebble_server(const test_env& env, pebble_options opts, const std::string& name)
    : env_(env), opts_(opts), name_(name) {
    // The WFE's certificate: a compliant leaf for 127.0.0.1 from the test root.
    const auto wfe = env_.issue(name_ + "-wfe", test_env::leaf_spec());
    constexpr int attempts = 5;
    for (int attempt = 1;; ++attempt) {
        // Four distinct ports, none of them the listener ports pebble validates against.
        std::set<std::uint16_t> taken{opts_.http_port, opts_.tls_port};
        auto pick = [&] {
            for (int i = 0; i < 100; ++i)
                if (const auto p = free_port(); taken.insert(p).second) return p;
            throw std::runtime_error("pebble: no free port");
        };
        port_ = pick();
        mgmt_port_ = pick();
        dns_port_ = pick();
        challtest_mgmt_port_ = pick();
        std::string cfg = "{\"pebble\":{\"listenAddress\":\"127.0.0.1:" + std::to_string(port_) +
                          "\",\"managementListenAddress\":\"127.0.0.1:" + std::to_string(mgmt_port_) +
                          "\",\"certificate\":\"" + wfe.cert.string() + "\",\"privateKey\":\"" + wfe.key.string() +
                          "\",\"httpPort\":" + std::to_string(opts_.http_port) +
                          ",\"tlsPort\":" + std::to_string(opts_.tls_port) +
                          ",\"ocspResponderURL\":\"\",\"externalAccountBindingRequired\":false";
        if (opts_.validity_seconds > 0)
            cfg += ",\"certificateValidityPeriod\":" + std::to_string(opts_.validity_seconds);
        cfg += "}}\n";
        config_ = env_.write(name_ + ".json", cfg);

        spawn_options so;
        so.stdout_path = env_.path(name_ + "-dns.out");
        so.stderr_path = env_.path(name_ + "-dns.err");
        // DNS only: every A query answers 127.0.0.1, AAAA nothing (the listeners are IPv4 loopback).
        challtestsrv_ = process({"pebble-challtestsrv", "-dns01", "127.0.0.1:" + std::to_string(dns_port_), "-http01",
                                 "", "-https01", "", "-tlsalpn01", "", "-management",
                                 "127.0.0.1:" + std::to_string(challtest_mgmt_port_), "-defaultIPv4", "127.0.0.1",
                                 "-defaultIPv6", ""},
                                so);
        try {
            wait_for_port(challtest_mgmt_port_, deadline_after(10s), challtestsrv_, "pebble-challtestsrv");
            start();
            return;
        } catch (const std::runtime_error&) {
            // Another process took one of the ports in between: pick new ones (bounded).
            const bool lost_race = lost_port_race(challtestsrv_) || lost_port_race(pebble_);
            if (!lost_race || attempt == attempts) throw;
            pebble_ = process{};
            challtestsrv_ = process{};
        }
    }
}

pebble_server::~pebble_server() = default;  // process destructors stop both

void pebble_server::start() {
    spawn_options so;
    so.stdout_path = env_.path(name_ + ".out");
    so.stderr_path = env_.path(name_ + ".err");
    so.env = {{"PEBBLE_VA_NOSLEEP", "1"},
              {"PEBBLE_WFE_NONCEREJECT", std::to_string(opts_.nonce_reject_percent)},
              {"PEBBLE_AUTHZREUSE", std::to_string(opts_.authz_reuse_percent)}};
    pebble_ = process({"pebble", "-config", config_.string(), "-dnsserver", "127.0.0.1:" + std::to_string(dns_port_)}, so);
    wait_for_port(port_, deadline_after(10s), pebble_, "pebble");
    wait_for_port(mgmt_port_, deadline_after(10s), pebble_, "pebble management");
}

void pebble_server::stop() { pebble_.stop(); }

std::string pebble_server::directory_url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/dir"; }

std::string pebble_server::issuance_root_pem() const {
    auto r = curl(env_, {"https://127.0.0.1:" + std::to_string(mgmt_port_) + "/roots/0"});
    if (r.exit_code != 0 || r.out.find("BEGIN CERTIFICATE") == std::string::npos)
        throw std::runtime_error("cannot fetch pebble's root: " + r.err);
    return r.out;
}

}  // namespace atsgate::itest
