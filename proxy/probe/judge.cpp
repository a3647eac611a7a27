#include "proxy/probe/judge.hpp"

#include "proxy/http/message.hpp"
#include "tls/peer_info.hpp"
#include "tls/policy.hpp"
#include "util/text.hpp"

#include <openssl/tls1.h>

#include <algorithm>

// Pure: facts in, checks out. Only TLS version constants come from OpenSSL's headers.

namespace atsgate::probe {
namespace {

enum class tri { yes, no, unknown };

using util::join;

// "TLS 1.2"; "TLS" when the version is unknown (no handshake completed).
std::string version_name(int v) { return v == 0 ? std::string("TLS") : tls::version_label(v); }

// "TLS 1.3 TLS_AES_128_GCM_SHA256, X25519" (+ ", EMS" / ", no EMS" on TLS 1.2 and below).
std::string summary(const handshake_facts& h) {
    std::string s = version_name(h.version) + " " + h.cipher;
    if (!h.group.empty()) s += ", " + h.group;
    if (h.version != 0 && h.version < TLS1_3_VERSION) s += h.ems ? ", EMS" : ", no EMS";
    return s;
}

// Why an attempt did not complete.
std::string failure(const handshake_facts& h) {
    if (!h.attempted) return "not attempted: " + h.skipped;
    if (!h.error.empty()) return h.error;
    return "handshake failed";
}

// Every handshake attempt of the target, for "was version V ever negotiated" questions.
std::vector<const handshake_facts*> all_attempts(const target_facts& f) {
    std::vector<const handshake_facts*> out{&f.tls10, &f.tls11, &f.tls12, &f.tls13,
                                            &f.ats_default, &f.ats_tls13, &f.ats_tls12, &f.tls12_no_pfs};
    for (const auto& s : f.suites) out.push_back(&s.hs);
    return out;
}

const handshake_facts& version_probe(const target_facts& f, int v) {
    switch (v) {
        case TLS1_VERSION: return f.tls10;
        case TLS1_1_VERSION: return f.tls11;
        case TLS1_2_VERSION: return f.tls12;
        default: return f.tls13;
    }
}

// Accepted: some handshake negotiated it. Refused: its dedicated probe was answered with a failure
// (not a timeout). Otherwise unknown.
tri accepts(const target_facts& f, int v) {
    for (const auto* h : all_attempts(f))
        if (h->ok && h->version == v) return tri::yes;
    const auto& p = version_probe(f, v);
    return p.attempted && !p.ok && !p.timed_out ? tri::no : tri::unknown;
}

// The first completed TLS 1.2 handshake, preferring ATS-like ones.
const handshake_facts* tls12_connection(const target_facts& f) {
    std::vector<const handshake_facts*> order{&f.ats_tls12, &f.ats_default};
    for (const auto& s : f.suites)
        if (!s.tls13) order.push_back(&s.hs);
    order.push_back(&f.tls12_no_pfs);
    order.push_back(&f.tls12);
    for (const auto* h : order)
        if (h->ok && h->version == TLS1_2_VERSION) return h;
    return nullptr;
}

struct cert_verdict {
    std::vector<check> checks;
    std::vector<std::string> failing;  // codes of FAILing cert rules, in order, unique
    bool unknown = false;              // some cert rule could not be checked
    tri ok() const { return !failing.empty() ? tri::no : unknown ? tri::unknown : tri::yes; }
};

// The self-audit's certificate rules over the served chain: one implementation, two uses.
cert_verdict judge_certificates(const target_facts& f, std::int64_t now) {
    tls::endpoint_facts ep;
    if (f.endpoint) {
        ep = *f.endpoint;
    } else {
        ep.name = f.tgt.url();
        ep.kind = "probe";
        ep.chain_error = "no TLS handshake completed, so no certificate was received";
    }
    const std::string name = ep.name;
    tls::report r = tls::audit({ep}, now);
    cert_verdict v;
    for (const auto& fd : r.findings) {
        if (fd.endpoint != name || fd.id.rfind("cert.", 0) != 0) continue;
        check c = fd;  // the audit's finding, as the probe's check
        if (c.id == "cert.chain" && c.result == status::fail && f.endpoint && f.endpoint->chain) {
            // The audit's remediation speaks of atsgate's own config keys; a remote server needs
            // its operator to change what it serves.
            const auto& ch = *f.endpoint->chain;
            if (ch.missing_intermediate)
                c.remediation = "configure the server to send the intermediate certificate(s) after the leaf (missing: " +
                                (ch.missing_issuer.empty() ? std::string("the leaf's issuer") : ch.missing_issuer) + ")";
            else if (!ch.served.empty() && !ch.served.front().self_signed)
                c.remediation = "serve a chain that verifies to a root the devices trust (checked against " +
                                (ep.trust_path.empty() ? std::string("the system trust store") : ep.trust_path) + ")";
        }
        if (c.id == "cert.chain" && !f.chain_source.empty())
            c.evidence += "; chain from the " + f.chain_source + " (the ATS default connection failed)";
        if (c.result == status::fail &&
            std::find(v.failing.begin(), v.failing.end(), c.id) == v.failing.end())
            v.failing.push_back(c.id);
        if (c.result == status::unknown) v.unknown = true;
        v.checks.push_back(std::move(c));
    }
    return v;
}

void add(std::vector<check>& out, std::string_view id, status s, std::string evidence, std::string remediation = {}) {
    check c;
    c.id = std::string(id);
    c.result = s;
    c.evidence = std::move(evidence);
    if (s == status::warn || s == status::fail || s == status::unknown) c.remediation = std::move(remediation);
    if (s == status::unknown && c.remediation.empty()) c.remediation = "resolve the problem shown as evidence, then probe again";
    out.push_back(std::move(c));
}

// ---- checks ------------------------------------------------------------------------------------

bool judge_reachability(const target_facts& f, std::vector<check>& out) {
    const std::string id = "probe.reachability";
    const std::string where = f.tgt.authority();
    if (!f.resolve_error.empty()) {
        add(out, id, status::fail, f.tgt.host + ": name resolution failed: " + f.resolve_error,
            "check the host name and that devices' DNS resolves it");
        return false;
    }
    if (f.address.empty()) {
        std::string addrs = f.resolved.empty() ? f.tgt.host : join(f.resolved);
        add(out, id, status::fail, "TCP connect to " + addrs + " port " + std::to_string(f.tgt.port) + ": " +
                                       (f.connect_error.empty() ? std::string("failed") : f.connect_error),
            "check that the server listens on " + where + " and that firewalls let devices reach it");
        return false;
    }
    std::string ev = f.address + " accepted a TCP connection";
    if (f.connect_ms >= 0) ev += " in " + std::to_string(f.connect_ms) + " ms";
    if (!f.tgt.host_is_ip) ev = f.tgt.host + " resolved to " + join(f.resolved) + "; " + ev;
    add(out, id, status::pass, ev);
    return true;
}

void judge_versions(const target_facts& f, std::vector<check>& out) {
    const std::string id = "probe.tls_versions";
    const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
    std::vector<std::string> yes, no, unknown;
    for (int v : versions) {
        tri t = accepts(f, v);
        (t == tri::yes ? yes : t == tri::no ? no : unknown).push_back(version_name(v));
    }
    std::string ev = yes.empty() ? std::string("no version accepted") : "accepted: " + join(yes);
    if (!no.empty()) ev += "; refused: " + join(no);
    if (!unknown.empty()) ev += "; not determined: " + join(unknown);
    const tri v10 = accepts(f, TLS1_VERSION), v11 = accepts(f, TLS1_1_VERSION);
    const tri v12 = accepts(f, TLS1_2_VERSION), v13 = accepts(f, TLS1_3_VERSION);
    if (v12 != tri::yes && v13 != tri::yes) {
        if (v12 == tri::no && v13 == tri::no)
            add(out, id, status::fail, ev + ": devices require TLS 1.2 or later", "enable TLS 1.2 and TLS 1.3 on the server");
        else
            add(out, id, status::unknown, ev);
        return;
    }
    if (v10 == tri::yes || v11 == tri::yes) {
        add(out, id, status::warn, ev + ": devices negotiate TLS 1.2+, but TLS 1.0/1.1 are out of hygiene",
            "disable TLS 1.0 and TLS 1.1 on the server");
    } else if (v13 == tri::no) {
        add(out, id, status::warn, ev + ": TLS 1.3 is recommended", "enable TLS 1.3 on the server");
    } else if (!unknown.empty()) {
        add(out, id, status::unknown, ev);
    } else {
        add(out, id, status::pass, ev);
    }
}

std::vector<std::string> accepted_suites(const target_facts& f, bool tls13) {
    std::vector<std::string> out;
    for (const auto& s : f.suites)
        if (s.tls13 == tls13 && s.hs.ok) out.push_back(s.name);
    return out;
}

// probe.ats_default; also fills the matrix's first row (same verdict).
void judge_ats_default(const target_facts& f, const cert_verdict& cert, std::vector<check>& out, matrix_row& row) {
    const std::string id = "probe.ats_default";
    const handshake_facts& a = f.ats_default;
    std::vector<std::string> reasons;
    std::string fix;
    auto reason = [&](std::string r, std::string remedy) {
        reasons.push_back(std::move(r));
        if (fix.empty()) fix = std::move(remedy);
    };
    if (!a.attempted) {
        add(out, id, status::unknown, "not attempted: " + a.skipped);
        row.result = status::unknown;
        row.detail = "not attempted";
        return;
    }
    const tri v12 = accepts(f, TLS1_2_VERSION), v13 = accepts(f, TLS1_3_VERSION);
    if (!a.ok) {
        if (v12 == tri::no && v13 == tri::no) {
            std::vector<std::string> old;
            for (int v : {TLS1_VERSION, TLS1_1_VERSION})
                if (accepts(f, v) == tri::yes) old.push_back(version_name(v));
            reason("no TLS 1.2+ (the server accepts " + (old.empty() ? std::string("no TLS version") : join(old)) + ")",
                   "enable TLS 1.2 and TLS 1.3 on the server");
        } else if (v13 != tri::yes && v12 == tri::yes && !f.suites.empty() && accepted_suites(f, false).empty()) {
            std::string only = f.non_pfs_accepted.empty() ? std::string("suites outside Apple's ATS list")
                                                           : join(f.non_pfs_accepted);
            reason("no common ECDHE suite (TLS 1.2 is accepted only with " + only + ")",
                   "enable the ECDHE AES-GCM suites (ECDHE-ECDSA-AES128-GCM-SHA256 or ECDHE-RSA-AES128-GCM-SHA256) and TLS 1.3");
        } else {
            reason("handshake failed: " + failure(a),
                   "compare the server's TLS settings with ATS: TLS 1.2+, ECDHE suites, groups X25519/P-256/P-384, "
                   "SHA-256+ signatures");
        }
    } else {
        if (a.version < TLS1_3_VERSION && !a.ems)
            reason("no EMS", "enable Extended Master Secret (RFC 7627) on the server");
        if (!cert.failing.empty())
            reason("certificate: " + join(cert.failing), "fix the certificate findings (cert.*) of this target");
    }
    if (!reasons.empty()) {
        // A completed handshake says what was negotiated before naming what a device would refuse.
        const std::string ev = a.ok ? summary(a) + " completed, but devices refuse it: " + join(reasons, "; ")
                                    : "devices cannot connect: " + join(reasons, "; ");
        add(out, id, status::fail, ev, fix);
        row.result = status::fail;
        row.detail = a.ok ? summary(a) + "; " + join(reasons, "; ") : join(reasons, "; ");
        return;
    }
    std::string ev = summary(a);
    if (!a.alpn.empty()) ev += ", ALPN " + a.alpn;
    if (!f.sni.empty()) ev += ", SNI " + f.sni;
    if (cert.ok() == tri::unknown) {
        add(out, id, status::unknown, ev + "; the certificate could not be fully checked");
        row.result = status::unknown;
        row.detail = summary(a) + "; certificate not fully checked";
        return;
    }
    add(out, id, status::pass, ev);
    row.result = status::pass;
    row.detail = summary(a);
}

void judge_ems(const target_facts& f, std::vector<check>& out) {
    const std::string id = "probe.ems";
    if (const handshake_facts* h = tls12_connection(f)) {
        if (h->ems)
            add(out, id, status::pass, "TLS 1.2 (" + h->cipher + "): extended master secret negotiated");
        else
            add(out, id, status::fail, "TLS 1.2 (" + h->cipher + ") completed without extended master secret",
                "enable Extended Master Secret (RFC 7627) on the server: devices refuse TLS 1.2 without it");
        return;
    }
    const tri v12 = accepts(f, TLS1_2_VERSION), v13 = accepts(f, TLS1_3_VERSION);
    if (v12 == tri::no && v13 == tri::yes)
        add(out, id, status::pass, "TLS 1.2 not accepted (TLS 1.3 always binds the master secret)");
    else if (v12 == tri::no && v13 == tri::no)
        add(out, id, status::info, "not applicable: neither TLS 1.2 nor TLS 1.3 is accepted");
    else
        add(out, id, status::unknown, "no TLS 1.2 connection completed: " + failure(f.tls12));
}

void judge_suites(const target_facts& f, std::vector<check>& out) {
    const std::string id = "probe.suites";
    const tri v12 = accepts(f, TLS1_2_VERSION), v13 = accepts(f, TLS1_3_VERSION);
    if (f.suites.empty()) {
        if (v12 == tri::no && v13 == tri::no)
            add(out, id, status::info, "not applicable: neither TLS 1.2 nor TLS 1.3 is accepted");
        else
            add(out, id, status::unknown, "not enumerated: " + (f.suites_skipped.empty() ? "skipped" : f.suites_skipped));
        return;
    }
    const auto t13 = accepted_suites(f, true);
    const auto t12 = accepted_suites(f, false);
    std::vector<std::string> undetermined;
    for (const auto& s : f.suites)
        if (!s.hs.attempted || s.hs.timed_out) undetermined.push_back(s.name);
    std::vector<std::string> parts;
    if (!t13.empty()) parts.push_back("TLS 1.3: " + join(t13));
    if (!t12.empty()) parts.push_back("TLS 1.2: " + join(t12));
    std::string ev = join(parts, "; ");
    if (!undetermined.empty()) ev += (ev.empty() ? "" : "; ") + std::string("not determined: ") + join(undetermined);

    if (t13.empty() && t12.empty()) {
        if (!undetermined.empty()) {
            add(out, id, status::unknown, ev);
        } else if (v12 == tri::yes || v13 == tri::yes) {
            std::string only = f.non_pfs_accepted.empty() ? std::string("suites outside Apple's list")
                                                           : join(f.non_pfs_accepted);
            add(out, id, status::fail, "no ATS cipher suite accepted (TLS 1.2 accepted only with " + only + ")",
                "enable TLS 1.3 and the ECDHE AES-GCM suites (e.g. ECDHE-ECDSA-AES128-GCM-SHA256)");
        } else {
            add(out, id, status::info, "not applicable: neither TLS 1.2 nor TLS 1.3 is accepted");
        }
        return;
    }
    // Suites the policy table marks legacy, grouped by the table's own warning text.
    std::vector<std::pair<std::string, std::vector<std::string>>> warnings;
    std::vector<std::string> warned;
    for (const auto& name : t12) {
        const tls::suite* s = tls::find_suite(name);
        if (s == nullptr || s->warning.empty()) continue;
        warned.push_back(name);
        auto it = std::find_if(warnings.begin(), warnings.end(), [&](const auto& w) { return w.first == s->warning; });
        if (it == warnings.end())
            warnings.push_back({std::string(s->warning), {name}});
        else
            it->second.push_back(name);
    }
    if (!warnings.empty()) {
        std::vector<std::string> w;
        for (const auto& [text, names] : warnings) w.push_back(join(names) + ": " + text);
        add(out, id, status::warn, ev + "; " + join(w, "; "),
            "disable " + join(warned) + " on the server unless older clients need them");
    } else if (t12.empty() && v12 == tri::yes) {
        add(out, id, status::warn, ev + "; TLS 1.2 is accepted without any ATS suite (TLS 1.2-only clients cannot connect)",
            "enable the ECDHE AES-GCM suites for TLS 1.2, or disable TLS 1.2");
    } else if (!undetermined.empty()) {
        add(out, id, status::unknown, ev);
    } else {
        add(out, id, status::pass, ev);
    }
}

void judge_non_pfs(const target_facts& f, std::vector<check>& out) {
    const std::string id = "probe.non_pfs";
    const tri v12 = accepts(f, TLS1_2_VERSION), v13 = accepts(f, TLS1_3_VERSION);
    if (v12 == tri::no) {
        if (v13 == tri::yes)
            add(out, id, status::pass, "TLS 1.2 not accepted (every TLS 1.3 suite is forward-secret)");
        else if (v13 == tri::no)
            add(out, id, status::info, "not applicable: neither TLS 1.2 nor TLS 1.3 is accepted");
        else
            add(out, id, status::unknown, "TLS 1.2 not accepted; TLS 1.3 not determined");
        return;
    }
    if (!f.non_pfs_checked) {
        add(out, id, status::unknown, "not checked: " + (f.non_pfs_skipped.empty() ? "skipped" : f.non_pfs_skipped));
        return;
    }
    if (!f.non_pfs_accepted.empty())
        add(out, id, status::warn, "TLS 1.2 accepts suites without forward secrecy: " + join(f.non_pfs_accepted),
            "disable static-RSA key exchange suites (" + join(f.non_pfs_accepted) + "); Apple devices never use them");
    else
        add(out, id, status::pass, "no TLS 1.2 suite without forward secrecy accepted");
}

void judge_plaintext(const target_facts& f, std::vector<check>& out) {
    const std::string id = "probe.plaintext_port80";
    const auto& p = f.plaintext;
    const std::string port = "port " + std::to_string(p.port);
    const std::string fix = "serve only a redirect to https:// on " + port + ", or close it";
    if (!p.checked) {
        add(out, id, status::unknown, "not checked");
    } else if (!p.open) {
        add(out, id, status::pass, port + " closed (" + (p.connect_error.empty() ? "no connection" : p.connect_error) + ")");
    } else if (!p.responded) {
        add(out, id, status::info, port + " accepts TCP connections but sent no HTTP response (" + p.error + ")");
    } else if (p.status >= 300 && p.status < 400 && http::starts_with_ci(p.location, "https://")) {
        add(out, id, status::pass, port + " answers " + std::to_string(p.status) + " -> " + p.location);
    } else if (p.status >= 300 && p.status < 400) {
        add(out, id, status::warn,
            port + " answers " + std::to_string(p.status) + " -> " +
                (p.location.empty() ? std::string("(no Location)") : p.location) + ", not to https://",
            fix);
    } else {
        add(out, id, status::warn, port + " answers " + std::to_string(p.status) + " over plain HTTP", fix);
    }
}

void judge_redirect(const target_facts& f, std::vector<check>& out) {
    const std::string id = "probe.redirect";
    const auto& r = f.redirect;
    if (!r.checked || r.hops.empty()) {
        add(out, id, status::unknown, "not checked: " + (r.not_checked.empty() ? "no request sent" : r.not_checked));
        return;
    }
    const auto& first = r.hops.front();
    if (first.status == 0) {
        add(out, id, status::unknown, "GET " + first.url + ": no HTTP response (" + first.error + ")");
        return;
    }
    std::string chain = "GET " + first.url;
    for (const auto& h : r.hops) {
        if (&h != &first) chain += " -> " + h.url;
        chain += h.status != 0 ? ": " + std::to_string(h.status) : ": no response (" + h.error + ")";
    }
    for (const auto& h : r.hops) {
        if (http::starts_with_ci(h.location, "http://")) {
            add(out, id, status::fail, chain + " -> " + h.location + " (plain http)",
                "redirect only to https:// URLs: devices refuse plain-HTTP loads");
            return;
        }
    }
    if (r.loop) {
        add(out, id, status::warn, chain + " (redirect loop)", "fix the redirect loop");
    } else if (r.limit_reached) {
        add(out, id, status::warn, chain + " (too many redirects)", "shorten the redirect chain");
    } else if (r.hops.back().status == 0) {
        add(out, id, status::info, chain);
    } else {
        add(out, id, status::pass, r.hops.size() == 1 ? chain + " (no redirect)" : chain + " (https only)");
    }
}

// Rows 2-4 of the matrix: the connection with that client configuration, plus EMS on TLS 1.2 and
// the certificate, as a device with that ATS exception configured would require.
matrix_row variant_row(std::string_view id, std::string_view label, const handshake_facts& h, const cert_verdict& cert) {
    matrix_row row{std::string(id), std::string(label), status::unknown, {}};
    if (!h.attempted) {
        row.detail = "not attempted: " + h.skipped;
    } else if (!h.ok) {
        row.result = status::fail;
        row.detail = failure(h);
    } else if (h.version < TLS1_3_VERSION && !h.ems) {
        row.result = status::fail;
        row.detail = summary(h) + "; no EMS";
    } else if (!cert.failing.empty()) {
        row.result = status::fail;
        row.detail = summary(h) + "; certificate: " + join(cert.failing);
    } else if (cert.ok() == tri::unknown) {
        row.detail = summary(h) + "; certificate not fully checked";
    } else {
        row.result = status::pass;
        row.detail = summary(h);
    }
    return row;
}

}  // namespace

target_report judge_target(const target_facts& f, std::int64_t now) {
    target_report r;
    r.target = f.tgt.url();
    r.address = f.address;
    r.sni = f.sni;
    r.source = f.source;
    for (const auto& [id, label] : matrix_rows) r.matrix.push_back({std::string(id), std::string(label), status::unknown, {}});

    if (f.tgt.scheme == "http") {
        r.sni.clear();  // never contacted
        add(r.checks, "http.https_only", status::fail, r.target + " is plain HTTP: devices refuse it (ATS)",
            "serve " + f.tgt.host + " over HTTPS and use an https:// URL");
        for (auto& row : r.matrix) {
            row.result = status::fail;
            row.detail = "plain http:// URL";
        }
        return r;
    }
    if (!judge_reachability(f, r.checks)) {
        for (auto& row : r.matrix) {
            row.result = status::fail;
            row.detail = "unreachable";
        }
        return r;
    }
    const cert_verdict cert = judge_certificates(f, now);
    judge_versions(f, r.checks);
    judge_ats_default(f, cert, r.checks, r.matrix[0]);
    judge_ems(f, r.checks);
    judge_suites(f, r.checks);
    judge_non_pfs(f, r.checks);
    for (const auto& c : cert.checks) r.checks.push_back(c);
    judge_plaintext(f, r.checks);
    judge_redirect(f, r.checks);
    r.matrix[1] = variant_row(matrix_rows[1].first, matrix_rows[1].second, f.ats_tls13, cert);
    r.matrix[2] = variant_row(matrix_rows[2].first, matrix_rows[2].second, f.ats_tls12, cert);
    r.matrix[3] = variant_row(matrix_rows[3].first, matrix_rows[3].second, f.tls12_no_pfs, cert);
    return r;
}

profile_report judge_profile(const profile_facts& p) {
    profile_report r;
    r.path = p.path;
    r.format = p.format;
    r.signed_cms = p.signed_cms;

    if (!p.signed_cms) {
        add(r.checks, "profile.signature", status::info, "unsigned " + p.format);
    } else {
        std::string who = p.signers.empty() ? std::string("no embedded signer certificate") : "signed by " + join(p.signers, "; ");
        if (p.signature_valid == false)
            add(r.checks, "profile.signature", status::warn,
                who + "; the signature does not verify: " + p.signature_error,
                "re-sign the profile: devices refuse a profile whose signature is broken");
        else if (p.signature_valid == true)
            add(r.checks, "profile.signature", status::info,
                who + " (signature valid; the signer is not checked against any trust store)");
        else
            add(r.checks, "profile.signature", status::info, who + " (signature not checked)");
    }

    std::size_t https = 0, http = 0, exempt = 0, invalid = 0;
    for (const auto& u : p.urls) {
        if (!u.invalid.empty()) ++invalid;
        else if (u.https) ++https;
        else if (u.scep_exempt) ++exempt;
        else ++http;
    }
    add(r.checks, "profile.urls", status::info,
        std::to_string(p.urls.size()) + " URL(s): " + std::to_string(https) + " https (probed as targets), " +
            std::to_string(http) + " http, " + std::to_string(exempt) + " SCEP (exempt)" +
            (invalid > 0 ? ", " + std::to_string(invalid) + " unusable" : std::string{}));

    bool any = false;
    for (const auto& u : p.urls) {
        if (u.https) continue;
        any = true;
        check c;
        c.id = "profile.http_url";
        c.subject = u.key_path;
        if (u.scep_exempt) {
            c.result = status::exempt;
            c.evidence = u.url + " (SCEP payload URL: Apple exempts SCEP from ATS)";
        } else {
            c.result = status::fail;
            c.evidence = u.url + " is plain HTTP";
            c.remediation = "use an https:// URL for " + u.key_path + ": devices refuse plain HTTP (ATS)";
        }
        r.checks.push_back(std::move(c));
    }
    if (!any) add(r.checks, "profile.http_url", status::pass, "no http:// URL");
    for (const auto& u : p.urls) {
        if (u.invalid.empty()) continue;
        check c;
        c.id = "profile.url_invalid";
        c.result = status::fail;
        c.subject = u.key_path;
        c.evidence = u.url + " cannot be probed: " + u.invalid;
        c.remediation = "fix the URL in " + u.key_path + " (devices cannot use it either)";
        r.checks.push_back(std::move(c));
    }
    return r;
}

}  // namespace atsgate::probe
