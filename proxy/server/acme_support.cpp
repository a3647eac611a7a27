#include "proxy/server/acme_support.hpp"

#include <algorithm>

namespace atsgate::server {

void attach_challenges(snapshot::shared_state& state, const std::shared_ptr<acme::challenge_board>& board) {
    state.acme_challenges = board;
    state.acme_http01 = [board](std::string_view token) { return board->http01(token); };
}

std::vector<std::string> endpoints_of(const config::config& cfg, const std::string& id) {
    std::vector<std::string> out;
    for (const auto& l : cfg.listeners)
        for (std::size_t ci = 0; ci < l.certificates.size(); ++ci)
            if (l.certificates[ci].acme && acme::manager::id_of(l.certificates[ci]) == id)
                out.push_back(l.certificates.size() == 1 ? l.name : l.name + "#" + std::to_string(ci));
    return out;
}

namespace {

std::vector<std::string> blocking_findings(const tls::report& r, const std::vector<std::string>& endpoints) {
    std::vector<std::string> out;
    for (const auto& f : r.findings) {
        if (f.result != tls::status::fail && f.result != tls::status::unknown) continue;
        if (std::find(endpoints.begin(), endpoints.end(), f.endpoint) == endpoints.end()) continue;
        out.push_back(std::string(f.id) + " " + std::string(tls::to_string(f.result)) + ": " + f.evidence);
    }
    return out;
}

}  // namespace

snapshot::build_result build_with_acme(config::config cfg, acme::manager* m, snapshot::shared_state& state,
                                       std::int64_t now, std::uint64_t generation, std::vector<std::string>* rejected) {
    if (m == nullptr || !m->configured()) return snapshot::build(std::move(cfg), now, generation, state);
    for (int round = 0;; ++round) {
        config::config attempt = cfg;
        m->substitute(attempt);
        auto built = snapshot::build(std::move(attempt), now, generation, state);
        if (round > 0 || config::has_errors(built.diags)) return built;
        // Audit before use, for what was stored: a served ACME certificate that fails is dropped.
        bool dropped = false;
        for (const auto& mc : m->certificates()) {
            if (mc.file.empty()) continue;
            auto findings = blocking_findings(built.audit, endpoints_of(cfg, mc.id));
            if (findings.empty()) continue;
            if (rejected != nullptr)
                rejected->push_back("acme: the stored certificate for " + mc.names.front() + " (" + mc.file.string() +
                                    ") fails the audit and is not served: " + findings.front());
            m->reject(mc.id, std::move(findings));
            dropped = true;
        }
        if (!dropped) return built;
    }
}

namespace {

// The snapshot the configuration would make with `candidate` (chain and key in one file) as ACME
// certificate `id` and every other ACME certificate as stored: what both audits below look at.
snapshot::build_result build_with_candidate(const config::config& cfg, const acme::manager& m, const std::string& id,
                                            const std::string& candidate, snapshot::shared_state& state,
                                            std::int64_t now) {
    config::config attempt = cfg;
    m.substitute(attempt);
    for (auto& l : attempt.listeners)
        for (auto& c : l.certificates)
            if (c.acme && acme::manager::id_of(c) == id) c.cert = c.key = candidate;
    return snapshot::build(std::move(attempt), now, 0, state);
}

}  // namespace

std::vector<std::string> audit_candidate(const config::config& cfg, const acme::manager& m, const std::string& id,
                                         const std::string& candidate, snapshot::shared_state& state, std::int64_t now) {
    const auto built = build_with_candidate(cfg, m, id, candidate, state, now);
    std::vector<std::string> out;
    for (const auto& d : built.diags)
        if (d.level == config::severity::error) out.push_back(d.message);
    auto findings = blocking_findings(built.audit, endpoints_of(cfg, id));
    out.insert(out.end(), findings.begin(), findings.end());
    return out;
}

tls::report audit_report(const config::config& cfg, const acme::manager& m, const std::string& id,
                         const std::string& candidate, snapshot::shared_state& state, std::int64_t now) {
    auto built = build_with_candidate(cfg, m, id, candidate, state, now);
    const auto endpoints = endpoints_of(cfg, id);
    tls::report out;
    const std::string name = "acme:" + id;
    out.endpoints.push_back({"acme certificate (refused, not served)", name, candidate});
    for (auto& f : built.audit.findings) {
        if (std::find(endpoints.begin(), endpoints.end(), f.endpoint) == endpoints.end()) continue;
        f.endpoint = name;
        out.findings.push_back(std::move(f));
    }
    return out;
}

}  // namespace atsgate::server
