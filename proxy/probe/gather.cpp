#include "proxy/probe/gather.hpp"

#include "proxy/http/response_parser.hpp"
#include "proxy/probe/blocking_io.hpp"
#include "proxy/probe/tls_client.hpp"
#include "tls/cert_facts.hpp"
#include "tls/policy.hpp"
#include "util/host_port.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace atsgate::probe {
namespace {

using namespace blocking;
using std::chrono::milliseconds;

constexpr std::string_view user_agent = "atsgate-probe";

// ---- HTTP --------------------------------------------------------------------------------------

std::string host_header(const target& t) {
    return util::authority(t.scheme, t.host, t.port);
}

std::string request_for(const target& t) {
    return "GET " + t.path + " HTTP/1.1\r\nHost: " + host_header(t) + "\r\nUser-Agent: " + std::string(user_agent) +
           "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

struct http_head {
    int status = 0;        // 0: no response head
    std::string location;
    std::string error;
};

// Reads one response head with the project's strict parser; `read` is recv_some-like.
template <typename Read>
http_head read_head(Read&& read, clock::time_point deadline) {
    http_head h;
    http::limits lim;
    http::response_parser p(lim);
    p.reset("GET");
    for (;;) {
        std::string chunk, error;
        io r = read(chunk, deadline, error);
        if (r == io::timeout) {
            h.error = "timed out waiting for the response";
            return h;
        }
        if (r == io::error) {
            h.error = error;
            return h;
        }
        if (r == io::closed) {
            h.error = p.started() ? "the server closed the connection inside the response head"
                                  : "the server closed the connection without a response";
            return h;
        }
        std::span<const char> in(chunk.data(), chunk.size());
        while (!in.empty()) {
            auto res = p.feed(in);
            in = in.subspan(res.consumed);
            if (res.event == http::parse_event::head_done || res.event == http::parse_event::message_done) {
                const auto& head = p.head();
                if (head.status >= 100 && head.status < 200) {  // interim: the final response follows
                    if (res.event == http::parse_event::head_done) continue;
                    p.next_response();
                    continue;
                }
                h.status = head.status;
                if (auto loc = http::find_header(head.headers, "Location")) h.location = std::string(*loc);
                return h;
            }
            if (res.event == http::parse_event::error) {
                h.error = "invalid HTTP response: " + std::string(p.error_reason());
                return h;
            }
            if (res.event == http::parse_event::need_more) break;
        }
    }
}

// ---- the per-target run ------------------------------------------------------------------------

class target_run {
public:
    target_run(const target& t, const probe_options& o) : o_(o) {
        f_.tgt = t;
        f_.input = t.url();
        f_.sni = !o.sni.empty() ? o.sni : t.host_is_ip ? std::string{} : t.host;
        f_.hostname = !o.sni.empty() ? o.sni : t.host;
        end_ = clock::now() + o.timeout * std::max(1, o.budget_factor);
    }

    target_facts run() {
        if (f_.tgt.scheme != "https") return std::move(f_);  // judged as plain HTTP, never contacted
        if (!reach()) return std::move(f_);

        std::vector<ossl::ptr<X509>> ats_chain;
        attempt(ats_config(), f_.ats_default, &ats_chain);

        // Each version on its own, with a permissive client.
        std::vector<ossl::ptr<X509>> chains[4];
        attempt(permissive_config(TLS1_3_VERSION), f_.tls13, &chains[0]);
        attempt(permissive_config(TLS1_2_VERSION), f_.tls12, &chains[1]);
        attempt(permissive_config(TLS1_1_VERSION), f_.tls11, &chains[2]);
        attempt(permissive_config(TLS1_VERSION), f_.tls10, &chains[3]);

        // The nscurl-style variants.
        std::vector<ossl::ptr<X509>> variant_chains[3];
        attempt(ats_config(TLS1_3_VERSION, TLS1_3_VERSION), f_.ats_tls13, &variant_chains[0]);
        attempt(ats_config(TLS1_2_VERSION, TLS1_2_VERSION), f_.ats_tls12, &variant_chains[1]);
        client_config no_pfs = ats_config(TLS1_2_VERSION, TLS1_2_VERSION);
        no_pfs.label = "ATS without PFS";
        no_pfs.cipher_list += ":kRSA:@SECLEVEL=0";
        attempt(no_pfs, f_.tls12_no_pfs, &variant_chains[2]);

        enumerate_suites();
        enumerate_non_pfs();

        // The certificate chain: from the ATS default connection, else from whatever connected.
        const std::vector<ossl::ptr<X509>>* chain = nullptr;
        if (f_.ats_default.ok) {
            chain = &ats_chain;
        } else {
            const std::pair<const handshake_facts*, const std::vector<ossl::ptr<X509>>*> fallbacks[] = {
                {&f_.ats_tls13, &variant_chains[0]}, {&f_.ats_tls12, &variant_chains[1]},
                {&f_.tls12_no_pfs, &variant_chains[2]}, {&f_.tls13, &chains[0]}, {&f_.tls12, &chains[1]},
                {&f_.tls11, &chains[2]}, {&f_.tls10, &chains[3]}};
            for (const auto& [hs, ch] : fallbacks) {
                if (hs->ok && !ch->empty()) {
                    chain = ch;
                    f_.chain_source = describe(*hs) + " connection";
                    break;
                }
            }
        }
        if (chain != nullptr && !chain->empty()) {
            tls::endpoint_facts ep;
            ep.name = f_.tgt.url();
            ep.kind = "probe";
            ep.address = f_.address;
            ep.server_name = f_.hostname;
            ep.cert_path = f_.tgt.authority();  // remediation text: "(served from host:port)"
            ep.trust_path = o_.trust_path;
            tls::verify_inputs in;
            in.trust = o_.trust;
            in.hostname = f_.hostname;
            in.check_public_trust = true;
            ep.chain = tls::inspect_chain(*chain, in);
            f_.endpoint = std::move(ep);
        }

        follow_redirects();
        plaintext();
        return std::move(f_);
    }

private:
    clock::time_point op_deadline() const { return std::min(clock::now() + o_.timeout, end_); }

    static std::string describe(const handshake_facts& h) {
        switch (h.version) {
            case TLS1_VERSION: return "TLS 1.0";
            case TLS1_1_VERSION: return "TLS 1.1";
            case TLS1_2_VERSION: return "TLS 1.2";
            case TLS1_3_VERSION: return "TLS 1.3";
            default: return "TLS";
        }
    }

    bool reach() {
        if (!resolve(f_.tgt.host, f_.tgt.port, op_deadline(), addrs_, f_.resolve_error)) {
            if (f_.resolve_error.empty()) f_.resolve_error = "no address";
            return false;
        }
        for (const auto& a : addrs_) f_.resolved.push_back(a.host);
        std::vector<std::string> errors;
        for (const auto& a : addrs_) {
            if (clock::now() >= end_) break;
            const auto start = clock::now();
            std::string error;
            bool timed_out = false;
            fd_guard fd = connect_to(a, op_deadline(), error, timed_out);
            if (fd.get() >= 0) {
                f_.address = a.text;
                f_.connect_ms = std::chrono::duration_cast<milliseconds>(clock::now() - start).count();
                chosen_ = a;
                return true;
            }
            errors.push_back(addrs_.size() > 1 ? a.text + ": " + error : error);
        }
        std::string joined = util::join(errors, "; ");
        f_.connect_error = joined.empty() ? "the per-target time budget ran out" : std::move(joined);
        return false;
    }

    // One handshake on a fresh connection, unless an earlier one timed out or the budget is spent.
    bool attempt(const client_config& c, handshake_facts& out, std::vector<ossl::ptr<X509>>* chain = nullptr) {
        out = handshake_facts{};
        if (stalled_) {
            out.skipped = "skipped after an earlier handshake timed out";
            return false;
        }
        if (clock::now() >= end_) {
            out.skipped = "skipped: the per-target time budget ran out";
            return false;
        }
        tls_connection conn;
        bool ok = conn.open(chosen_, f_.sni, c, op_deadline(), out, chain);
        if (out.timed_out) stalled_ = true;
        if (ok && !best_) best_ = c;
        return ok;
    }

    void enumerate_suites() {
        for (const auto& s : tls::suites) {
            suite_result r;
            r.name = std::string(s.openssl);
            r.tls13 = s.proto == tls::protocol::tls13;
            client_config c = r.tls13 ? ats_config(TLS1_3_VERSION, TLS1_3_VERSION) : ats_config(TLS1_2_VERSION, TLS1_2_VERSION);
            c.label = r.name;
            if (r.tls13)
                c.ciphersuites = r.name;
            else
                c.cipher_list = r.name;
            attempt(c, r.hs);
            // Accepted means negotiated exactly this suite.
            if (r.hs.ok && r.hs.cipher != r.name) {
                r.hs.ok = false;
                r.hs.error = "negotiated " + r.hs.cipher + " instead";
            }
            f_.suites.push_back(std::move(r));
        }
    }

    // Static-RSA suites, enumerated by exclusion: offer them all, note the one the server picks,
    // exclude it, repeat until the server refuses (at most one round per kRSA suite).
    void enumerate_non_pfs() {
        std::string list = "kRSA";
        for (int round = 0; round < 40; ++round) {
            client_config c = permissive_config(TLS1_2_VERSION);
            c.label = "non-PFS";
            c.cipher_list = list + ":@SECLEVEL=0";
            handshake_facts h;
            attempt(c, h);
            if (!h.attempted) {
                // The client refuses the list ("no cipher match") once every kRSA suite is
                // excluded: the enumeration is complete. Anything else (a stall, the budget) is not.
                f_.non_pfs_checked = h.skipped.rfind("client configuration", 0) == 0;
                if (!f_.non_pfs_checked) f_.non_pfs_skipped = h.skipped;
                return;
            }
            if (!h.ok) {
                f_.non_pfs_checked = !h.timed_out;
                if (h.timed_out) f_.non_pfs_skipped = h.error;
                return;
            }
            f_.non_pfs_accepted.push_back(h.cipher);
            list += ":!" + h.cipher;
        }
        f_.non_pfs_checked = true;
    }

    // Connects to `t` (the target itself, or a redirect's host) with the best configuration that
    // worked, sends GET and reads the response head.
    redirect_hop fetch(const target& t) {
        redirect_hop hop;
        hop.url = t.url();
        address a = chosen_;
        std::string sni = f_.sni;
        if (t.host != f_.tgt.host || t.port != f_.tgt.port) {
            std::vector<address> found;
            if (!resolve(t.host, t.port, op_deadline(), found, hop.error)) {
                hop.error = "name resolution failed: " + hop.error;
                return hop;
            }
            a = found.front();
            sni = t.host_is_ip ? std::string{} : t.host;
        }
        tls_connection conn;
        handshake_facts hs;
        if (!conn.open(a, sni, *best_, op_deadline(), hs, nullptr)) {
            hop.error = hs.attempted ? "TLS: " + hs.error : hs.skipped;
            return hop;
        }
        std::string error;
        if (conn.write_all(request_for(t), op_deadline(), error) != io::ok) {
            hop.error = error;
            return hop;
        }
        http_head h = read_head(
            [&](std::string& out, clock::time_point d, std::string& e) { return conn.read_some(out, d, e); },
            op_deadline());
        hop.status = h.status;
        hop.error = h.error;
        if (!h.location.empty()) {
            hop.location = resolve_location(t, h.location);
            if (hop.location.empty()) hop.location = h.location;  // another scheme: shown as is
        }
        return hop;
    }

    void follow_redirects() {
        auto& r = f_.redirect;
        if (!best_) {
            r.not_checked = "no TLS connection completed";
            return;
        }
        if (clock::now() >= end_) {
            r.not_checked = "the per-target time budget ran out";
            return;
        }
        r.checked = true;
        target current = f_.tgt;
        for (int hop_no = 0;; ++hop_no) {
            redirect_hop hop = fetch(current);
            const bool redirect = hop.status >= 300 && hop.status < 400 && !hop.location.empty();
            const std::string next = hop.location;
            r.hops.push_back(std::move(hop));
            if (!redirect) return;
            std::string error;
            auto t = parse_target(next, error);
            if (!t || t->scheme != "https") return;  // http:// (judged FAIL) or unusable: stop here
            if (std::any_of(r.hops.begin(), r.hops.end(), [&](const redirect_hop& h) { return h.url == t->url(); })) {
                r.loop = true;
                return;
            }
            if (hop_no + 1 >= o_.max_redirects) {
                r.limit_reached = true;
                return;
            }
            if (clock::now() >= end_) return;
            current = *t;
        }
    }

    void plaintext() {
        auto& p = f_.plaintext;
        p.port = o_.http_port;
        if (clock::now() >= end_) return;  // not checked
        p.checked = true;
        address a = chosen_;
        a.set_port(o_.http_port);
        bool timed_out = false;
        fd_guard fd = connect_to(a, op_deadline(), p.connect_error, timed_out);
        if (fd.get() < 0) return;
        p.open = true;
        target plain = f_.tgt;
        plain.scheme = "http";
        plain.port = o_.http_port;
        std::string error;
        if (send_all(fd.get(), request_for(plain), op_deadline(), error) != io::ok) {
            p.error = error;
            return;
        }
        http_head h = read_head(
            [&](std::string& out, clock::time_point d, std::string& e) { return recv_some(fd.get(), out, d, e); },
            op_deadline());
        p.responded = h.status != 0;
        p.status = h.status;
        p.location = h.location;
        p.error = h.error;
    }

    const probe_options& o_;
    target_facts f_;
    clock::time_point end_;
    std::vector<address> addrs_;
    address chosen_;
    bool stalled_ = false;
    std::optional<client_config> best_;  // first configuration that completed a handshake
};

}  // namespace

target_facts gather(const target& t, const probe_options& o) { return target_run(t, o).run(); }

std::vector<target_facts> gather_all(const std::vector<target>& targets, const probe_options& o, unsigned concurrency) {
    std::vector<target_facts> out(targets.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (;;) {
            const std::size_t i = next.fetch_add(1);
            if (i >= targets.size()) return;
            try {
                out[i] = gather(targets[i], o);
            } catch (const std::exception& e) {
                target_facts f;
                f.tgt = targets[i];
                f.input = targets[i].url();
                f.resolve_error = std::string("internal error while probing: ") + e.what();
                out[i] = std::move(f);
            }
        }
    };
    const unsigned n = std::clamp<unsigned>(concurrency, 1, 256);
    const std::size_t threads = std::min<std::size_t>(n, targets.size());
    if (threads <= 1) {
        worker();
        return out;
    }
    std::vector<std::thread> pool;
    pool.reserve(threads);
    try {
        for (std::size_t k = 0; k < threads; ++k) pool.emplace_back(worker);
    } catch (const std::system_error&) {
        // Fewer threads than asked for (resource limits): the ones started, or this one, do the rest.
        if (pool.empty()) worker();
    }
    for (auto& th : pool) th.join();
    return out;
}

}  // namespace atsgate::probe
