#include "tls/audit.hpp"

#include "tls/civil_time.hpp"
#include "tls/peer_info.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

// Pure: no clock, no I/O, no OpenSSL calls. Only the TLS version constants come from OpenSSL's
// headers (via cert_facts.hpp -> ossl.hpp).

namespace atsgate::tls {
namespace {

constexpr std::int64_t day = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// "2026-05-01" for unix seconds (UTC).
std::string date_of(std::int64_t unix_seconds) {
    const civil_date c = civil_from_days(floor_div(unix_seconds, day));
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d", static_cast<long long>(c.year), c.month, c.day);
    return buf;
}

// "3 days", "1 day", "less than a day" for a non-negative span in seconds (whole days, rounded down).
std::string days_phrase(std::int64_t seconds) {
    std::int64_t n = seconds / day;
    if (n <= 0) return "less than a day";
    return std::to_string(n) + (n == 1 ? " day" : " days");
}


using util::join;

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// "DNS:a, DNS:b, IP:10.0.0.1", capped so the evidence stays one readable line.
std::string san_list(const cert_facts& c) {
    constexpr std::size_t max_shown = 8;
    std::vector<std::string> all;
    for (const auto& d : c.san_dns) all.push_back("DNS:" + d);
    for (const auto& ip : c.san_ip) all.push_back("IP:" + ip);
    if (all.size() <= max_shown) return join(all);
    std::size_t more = all.size() - max_shown;
    all.resize(max_shown);
    return join(all) + " (+" + std::to_string(more) + " more)";
}

bool has_san(const cert_facts& c) { return !c.san_dns.empty() || !c.san_ip.empty(); }

// The name to show for a certificate: its CN, else its whole subject.
std::string short_name(const cert_facts& c) {
    if (!c.common_name.empty()) return c.common_name;
    return c.subject.empty() ? std::string("(no subject)") : c.subject;
}

bool is_root(const cert_facts& c) { return c.self_signed && c.is_ca; }

struct cert_ref {
    const cert_facts* facts;
    std::string role;  // "leaf", "intermediate", "root"
    bool served;
};

// Served certificates in chain order, then the anchor when it was not served itself.
std::vector<cert_ref> chain_certs(const chain_facts& ch, bool include_anchor) {
    std::vector<cert_ref> out;
    for (std::size_t i = 0; i < ch.served.size(); ++i) {
        const auto& c = ch.served[i];
        out.push_back({&c, i == 0 ? "leaf" : is_root(c) ? "root" : "intermediate", true});
    }
    if (include_anchor && ch.anchor) {
        bool already = std::any_of(ch.served.begin(), ch.served.end(), [&](const cert_facts& c) {
            return !c.sha256_fingerprint.empty() && c.sha256_fingerprint == ch.anchor->sha256_fingerprint;
        });
        if (!already) out.push_back({&*ch.anchor, "root", false});
    }
    return out;
}

class emitter {
public:
    emitter(const endpoint_facts& ep, report& r) : ep_(ep), r_(r) {}

    void add(rule_id id, status s, std::string subject, std::string evidence, std::string remediation = {}) {
        const rule& rl = rule_for(id);
        finding f;
        f.endpoint = ep_.name;
        f.rule = id;
        f.id = std::string(rl.code);
        f.result = s;
        f.subject = std::move(subject);
        f.evidence = std::move(evidence);
        // PASS and INFO need no action; UNKNOWN needs the facts first, not the rule's fix.
        if (s == status::unknown && remediation.empty())
            f.remediation = "resolve the problem shown as evidence, then audit again";
        else if (s == status::warn || s == status::fail || s == status::unknown)
            f.remediation = remediation.empty() ? std::string(rl.remediation) : std::move(remediation);
        r_.findings.push_back(std::move(f));
    }

private:
    const endpoint_facts& ep_;
    report& r_;
};

// " (served from /etc/atsgate/cert.pem)" or "".
std::string served_from(const endpoint_facts& ep) {
    return ep.cert_path.empty() ? std::string{} : " (served from " + ep.cert_path + ")";
}

std::string trust_source(const endpoint_facts& ep) {
    return ep.trust_path.empty() ? std::string("the system trust store") : ep.trust_path;
}

// Remediation for a certificate-level finding: the rule's default, pointing at where it lives.
std::string cert_remediation(rule_id id, const endpoint_facts& ep, const cert_ref& c) {
    std::string base(rule_for(id).remediation);
    if (c.served) return base + served_from(ep);
    return base + " (trusted root from " + trust_source(ep) + ")";
}

// ---- tls.* -----------------------------------------------------------------------------------

bool tls13_only(const context_facts& c) { return c.min_version >= TLS1_3_VERSION; }
bool tls12_possible(const context_facts& c) { return c.min_version < TLS1_3_VERSION; }
bool tls13_possible(const context_facts& c) { return c.max_version == 0 || c.max_version >= TLS1_3_VERSION; }

void check_version(emitter& e, const context_facts& c) {
    const rule_id id = rule_id::tls_version;
    if (c.min_version < TLS1_2_VERSION) {
        std::string min = c.min_version <= 0 ? "no minimum version set" : "minimum " + version_label(c.min_version);
        e.add(id, status::fail, "", "TLS 1.0/1.1 enabled (" + min + ")",
              "enable only TLS 1.2 and 1.3 (min_version = \"1.2\")");
    } else if (c.max_version != 0 && c.max_version < c.min_version) {
        e.add(id, status::fail, "", "no version enabled (minimum " + version_label(c.min_version) + ", maximum " +
                                        version_label(c.max_version) + ")");
    } else if (c.max_version == TLS1_2_VERSION) {
        e.add(id, status::warn, "", "TLS 1.2 only; TLS 1.3 recommended", "enable TLS 1.3 as well as TLS 1.2");
    } else if (tls13_only(c)) {
        e.add(id, status::pass, "", "TLS 1.3 only");
    } else {
        e.add(id, status::pass, "", "TLS 1.2\u20131.3");
    }
}

void check_suites(emitter& e, const context_facts& c) {
    const rule_id id = rule_id::pfs_suites;
    // Suites of a protocol version that is disabled can never be negotiated, so they are not judged.
    std::vector<std::string> t12 = tls12_possible(c) ? c.tls12_suites : std::vector<std::string>{};
    std::vector<std::string> t13 = tls13_possible(c) ? c.tls13_suites : std::vector<std::string>{};

    std::vector<std::string> bad;
    std::vector<std::string> warned_names;
    std::vector<std::pair<std::string, std::vector<std::string>>> warnings;  // text -> suites, first-seen order
    auto warn = [&](const std::string& name, std::string_view text) {
        warned_names.push_back(name);
        auto it = std::find_if(warnings.begin(), warnings.end(), [&](const auto& w) { return w.first == text; });
        if (it == warnings.end())
            warnings.push_back({std::string(text), {name}});
        else
            it->second.push_back(name);
    };
    for (const auto& name : t12) {
        const suite* s = find_suite(name);
        if (s == nullptr || s->proto != protocol::tls12)
            bad.push_back(name);
        else if (!s->warning.empty())
            warn(name, s->warning);
    }
    for (const auto& name : t13) {
        const suite* s = find_suite(name);
        if (s == nullptr || s->proto != protocol::tls13)
            warn(name, "TLS 1.3 suite not on atsgate's list (Apple clients never offer it)");
        else if (!s->warning.empty())
            warn(name, s->warning);
    }

    if (!bad.empty()) {
        e.add(id, status::fail, "", "suites without forward secrecy or not on Apple's list enabled: " + join(bad),
              "remove " + join(bad) + " from tls12_ciphers");
    } else if (t12.empty() && t13.empty()) {
        e.add(id, status::unknown, "", "no enabled cipher suites reported for the enabled TLS versions");
    } else if (!warnings.empty()) {
        std::vector<std::string> parts;
        for (const auto& [text, names] : warnings) parts.push_back(join(names) + ": " + text);
        e.add(id, status::warn, "", join(parts, "; "),
              "remove " + join(warned_names) + " unless older clients need them");
    } else {
        std::vector<std::string> parts;
        if (!t13.empty()) parts.push_back("TLS 1.3: " + join(t13));
        if (!t12.empty()) parts.push_back("TLS 1.2: " + join(t12));
        e.add(id, status::pass, "", join(parts, "; "));
    }
}

void check_ems(emitter& e, const context_facts& c) {
    const rule_id id = rule_id::ems;
    if (tls13_only(c)) {
        e.add(id, status::pass, "", "TLS 1.2 disabled (TLS 1.3 always binds the master secret)");
    } else if (c.ems_gate && !c.ems_disabled) {
        e.add(id, status::pass, "", "EMS required on TLS 1.2 (ClientHello gate installed)");
    } else {
        std::vector<std::string> why;
        if (!c.ems_gate) why.push_back("EMS ClientHello gate not installed");
        if (c.ems_disabled) why.push_back("SSL_OP_NO_EXTENDED_MASTER_SECRET is set");
        e.add(id, status::fail, "", join(why, "; "));
    }
}

// ---- cert.* ----------------------------------------------------------------------------------

struct verdict {
    status s;
    std::string text;
};

verdict judge_key(const cert_ref& c) {
    const cert_facts& f = *c.facts;
    const std::string who = c.role + " " + f.key_description;
    switch (f.key) {
        case key_kind::rsa:
            if (f.key_bits <= 0) return {status::unknown, c.role + " RSA key of unknown size"};
            if (f.key_bits < min_rsa_bits)
                return {status::fail, who + " (minimum RSA " + std::to_string(min_rsa_bits) + ")"};
            return {status::pass, who};
        case key_kind::ec:
            if (f.key_bits <= 0) return {status::unknown, c.role + " EC key of unknown size"};
            if (f.key_bits < min_ec_bits)
                return {status::fail, who + ", " + std::to_string(f.key_bits) + " bits (minimum " +
                                          std::to_string(min_ec_bits) + ")"};
            return {status::pass, who};
        case key_kind::ed25519:
            return {status::fail, who + ": Apple clients do not accept Ed25519 server keys"};
        case key_kind::ed448:
            return {status::fail, who + ": Apple clients do not accept Ed448 server keys"};
        case key_kind::dsa:
            return {status::fail, who + ": Apple clients do not accept DSA keys"};
        case key_kind::other:
            break;
    }
    return {status::fail, who + ": not an RSA or ECDSA key"};
}

verdict judge_signature(const cert_ref& c) {
    const cert_facts& f = *c.facts;
    if (f.signature_hash_bits <= 0)
        return {status::unknown, c.role + " " + f.signature_algorithm + ": hash strength unknown"};
    if (f.signature_hash_bits < min_signature_hash_bits)
        return {status::fail, c.role + " signed with " + f.signature_algorithm + " (" +
                                  std::to_string(f.signature_hash_bits) + "-bit hash, minimum " +
                                  std::to_string(min_signature_hash_bits) + ")"};
    return {status::pass, c.role + " " + f.signature_algorithm};
}

verdict judge_validity(const cert_ref& c, std::int64_t now) {
    const cert_facts& f = *c.facts;
    if (f.not_before == 0 && f.not_after == 0) return {status::unknown, c.role + " validity dates unreadable"};
    if (now > f.not_after)
        return {status::fail, c.role + " expired " + days_phrase(now - f.not_after) + " ago on " + date_of(f.not_after)};
    if (now < f.not_before)
        return {status::fail, c.role + " not valid until " + date_of(f.not_before) + " (in " +
                                  days_phrase(f.not_before - now) + ")"};
    std::int64_t left = f.not_after - now;
    if (left < expiry_warning_days * day)
        return {status::warn, c.role + " expires in " + days_phrase(left) + " on " + date_of(f.not_after)};
    return {status::pass, c.role + " valid until " + date_of(f.not_after) + ", " + days_phrase(left) + " left"};
}

// Applies `judge` to each certificate: one finding per offending certificate, or one PASS for all.
template <typename Judge>
void per_cert(emitter& e, rule_id id, const endpoint_facts& ep, const std::vector<cert_ref>& certs, Judge judge,
              std::string_view pass_suffix = {}) {
    std::vector<std::string> passed;
    bool any_bad = false;
    for (const auto& c : certs) {
        verdict v = judge(c);
        if (v.s == status::pass) {
            passed.push_back(std::move(v.text));
            continue;
        }
        any_bad = true;
        e.add(id, v.s, c.facts->subject, std::move(v.text),
              v.s == status::unknown ? std::string{} : cert_remediation(id, ep, c));
    }
    if (!any_bad) e.add(id, status::pass, "", join(passed, id == rule_id::validity ? "; " : ", ") + std::string(pass_suffix));
}

void check_chain_trust(emitter& e, const endpoint_facts& ep, const chain_facts& ch) {
    const rule_id id = rule_id::chain_trust;
    const std::string& leaf = ch.served.front().subject;
    if (!ch.verified) {
        e.add(id, status::unknown, leaf, ch.verify_error.empty() ? "chain verification not attempted" : ch.verify_error);
        return;
    }
    if (*ch.verified) {
        std::string ev = "verified to " + quoted(ch.anchor ? short_name(*ch.anchor) : std::string("a trusted root")) +
                         " (trust: " + trust_source(ep) + ")";
        if (ch.publicly_trusted == true) ev += "; publicly trusted";
        e.add(id, status::pass, leaf, ev);
        return;
    }
    std::string where = ch.verify_error_subject.empty() ? std::string{} : " of " + quoted(ch.verify_error_subject);
    if (ch.missing_intermediate) {
        std::string ev = ch.verify_error + ": issuer " + quoted(ch.missing_issuer) + where +
                         " is neither served nor trusted";
        std::string fix = "append the intermediate certificate(s) after the leaf in " +
                          (ep.cert_path.empty() ? std::string("the served chain") : ep.cert_path);
        if (ch.verify_error_depth > 0)
            fix += ", or add its root to " + (ep.trust_path.empty() ? std::string("`trust`") : ep.trust_path);
        e.add(id, status::fail, leaf, ev, fix);
        return;
    }
    std::string ev = ch.verify_error + " at depth " + std::to_string(ch.verify_error_depth) + where;
    std::string fix;
    if (ch.verify_error_depth == 0 && !ch.served.empty() && ch.served.front().self_signed) {
        fix = "replace the self-signed certificate with one issued by a CA the devices trust";
    } else {
        fix = "serve the intermediates after the leaf in " +
              (ep.cert_path.empty() ? std::string("`cert`") : ep.cert_path) +
              " and point `trust` at the devices' root (now: " + trust_source(ep) + ")";
    }
    e.add(id, status::fail, leaf, ev, fix);
}

void check_san(emitter& e, const endpoint_facts& ep, const chain_facts& ch) {
    const rule_id id = rule_id::san;
    const cert_facts& leaf = ch.served.front();
    const std::string host = !ch.hostname.empty() ? ch.hostname : ep.server_name;
    const std::string name_for_fix = !host.empty() ? host : !leaf.common_name.empty() ? leaf.common_name : "the host name";
    const std::string fix = "reissue the certificate with " + name_for_fix + " in subjectAltName" + served_from(ep);
    if (!has_san(leaf)) {
        std::string ev = leaf.common_name.empty()
                             ? std::string("no subjectAltName and no CN")
                             : "no subjectAltName; CN=" + leaf.common_name + " only: iOS 13+ ignores the CN";
        e.add(id, status::fail, leaf.subject, ev, fix);
    } else if (ch.hostname_matches == false) {
        e.add(id, status::fail, leaf.subject, "server_name " + quoted(host) + " not in SAN (" + san_list(leaf) + ")", fix);
    } else if (ch.hostname_matches == true) {
        e.add(id, status::pass, leaf.subject, "server_name " + quoted(host) + " in SAN (" + san_list(leaf) + ")");
    } else if (!host.empty()) {
        e.add(id, status::unknown, leaf.subject,
              "SAN: " + san_list(leaf) + "; could not match server_name " + quoted(host));
    } else {
        e.add(id, status::pass, leaf.subject, "SAN: " + san_list(leaf) + "; no server_name configured to match");
    }
}

void check_eku(emitter& e, const endpoint_facts& ep, const cert_facts& leaf) {
    const rule_id id = rule_id::eku;
    const std::string fix = std::string(rule_for(id).remediation) + served_from(ep);
    if (!leaf.has_eku)
        e.add(id, status::fail, leaf.subject, "no extendedKeyUsage extension", fix);
    else if (!leaf.eku_server_auth)
        e.add(id, status::fail, leaf.subject, "extendedKeyUsage " + join(leaf.eku) + " lacks serverAuth", fix);
    else
        e.add(id, status::pass, leaf.subject, "extendedKeyUsage " + join(leaf.eku));
}

// "90 days", "398 days + 1 s": an RFC 5280 lifetime in seconds, exact.
std::string lifetime_phrase(std::int64_t seconds) {
    const std::int64_t days = seconds / day;
    const std::int64_t rest = seconds % day;
    std::string out = std::to_string(days) + (days == 1 ? " day" : " days");
    if (rest != 0) out += " + " + std::to_string(rest) + " s";
    return out;
}

std::int64_t limit_start(const lifetime_limit& l) { return unix_from_civil(l.year, l.month, l.day); }

// The limits in lifetime_limits that govern a certificate issued at `issued` (the latest of each
// scope whose date has come), in table order.
struct governing_limits {
    const lifetime_limit* every = nullptr;   // Apple's, for every TLS server certificate
    const lifetime_limit* apple_public = nullptr;  // Apple's, for publicly trusted certificates
    const lifetime_limit* forum = nullptr;   // CA/B Forum's (SC-081), publicly trusted
};
governing_limits limits_at(std::int64_t issued) {
    governing_limits g;
    for (const auto& l : lifetime_limits) {
        if (issued < limit_start(l)) continue;
        if (l.scope == lifetime_scope::every_certificate)
            g.every = &l;
        else if (l.refused_by_devices)
            g.apple_public = &l;
        else
            g.forum = &l;
    }
    return g;
}

std::string from_date(const lifetime_limit& l) { return date_of(limit_start(l)); }

// Apple's limits (FAIL: devices refuse) and SC-081's (WARN: the CA may revoke), by issuance date
// (notBefore), counted as RFC 5280 does: notAfter - notBefore + 1 s, 86,400-second days.
void check_lifetime(emitter& e, const endpoint_facts& ep, const chain_facts& ch) {
    const rule_id id = rule_id::lifetime;
    const cert_facts& leaf = ch.served.front();
    if (leaf.not_before == 0 && leaf.not_after == 0) {
        e.add(id, status::unknown, leaf.subject, "validity dates unreadable");
        return;
    }
    const std::int64_t lifetime = leaf.not_after - leaf.not_before + 1;
    const std::string life = "lifetime " + lifetime_phrase(lifetime);
    const governing_limits g = limits_at(leaf.not_before);
    auto over = [&](const lifetime_limit* l) { return l != nullptr && lifetime > std::int64_t{l->max_days} * day; };
    auto fix = [&](const lifetime_limit& l) {
        return "reissue with a validity of " + std::to_string(l.max_days) + " days or less" + served_from(ep);
    };
    const bool is_public = ch.publicly_trusted == true;

    if (over(g.every)) {
        e.add(id, status::fail, leaf.subject,
              life + " (maximum " + std::to_string(g.every->max_days) + " days for certificates issued from " +
                  from_date(*g.every) + ")",
              fix(*g.every));
    } else if (over(g.apple_public) && is_public) {
        e.add(id, status::fail, leaf.subject,
              life + "; publicly trusted certificates issued from " + from_date(*g.apple_public) +
                  " are limited to " + std::to_string(g.apple_public->max_days) + " days",
              fix(*g.apple_public));
    } else if (over(g.apple_public)) {
        e.add(id, status::warn, leaf.subject,
              life + ": accepted from a private CA, would be refused if publicly trusted (maximum " +
                  std::to_string(g.apple_public->max_days) + " days)",
              fix(*g.apple_public));
    } else if (over(g.forum) && is_public) {
        e.add(id, status::warn, leaf.subject,
              life + ": " + std::string(g.forum->source) + " limits publicly trusted certificates issued from " +
                  from_date(*g.forum) + " to " + std::to_string(g.forum->max_days) +
                  " days; the CA broke its rules and may have to revoke it",
              fix(*g.forum));
    } else if (g.every == nullptr && lifetime > std::int64_t{lifetime_limits[0].max_days} * day) {
        e.add(id, status::info, leaf.subject,
              life + ": issued " + date_of(leaf.not_before) + ", before Apple's " +
                  std::to_string(lifetime_limits[0].max_days) + "-day limit (" + from_date(lifetime_limits[0]) +
                  ")");
    } else {
        e.add(id, status::pass, leaf.subject, life);
    }
}

void check_key_match(emitter& e, const endpoint_facts& ep, const chain_facts* ch, const std::string& unknown_why) {
    const rule_id id = rule_id::key_match;
    const std::string subject = ch != nullptr ? ch->served.front().subject : std::string{};
    const std::string key = ep.key_path.empty() ? std::string("the private key") : ep.key_path;
    std::optional<bool> m = ch != nullptr ? ch->key_matches : std::nullopt;
    if (!m) {
        if (ep.key_path.empty()) return;  // no key to check (probe): the rule does not apply
        e.add(id, status::unknown, subject, unknown_why.empty() ? key + " was not checked" : unknown_why);
    } else if (!*m) {
        e.add(id, status::fail, subject, key + " does not match the leaf certificate",
              "point `key` at the private key of the leaf in " +
                  (ep.cert_path.empty() ? std::string("`cert`") : ep.cert_path));
    } else {
        e.add(id, status::pass, subject, key + " matches the leaf certificate");
    }
}

void check_https(emitter& e, const endpoint_facts& ep) {
    const rule_id id = rule_id::https_only;
    if (ep.plaintext && ep.scep_exempt)
        e.add(id, status::info, "", "exempt: SCEP (Apple exempts SCEP)");
    else if (ep.plaintext)
        e.add(id, status::fail, "", "plain HTTP", "serve " + (ep.address.empty() ? ep.name : ep.address) + " over HTTPS");
    else
        e.add(id, status::pass, "", "HTTPS");
}

// enforcement = "report": judges what strict mode would enforce (the live context without what
// report mode adds: TLS 1.0/1.1 and report_mode_legacy_suites), then says plainly that it is not
// enforced: every tls.* PASS or WARN becomes WARN "report-only: ...". A FAIL of the strict part
// stays a FAIL. Certificate rules are judged as always, elsewhere.
void check_report_only(emitter& e, report& r, const endpoint_facts& ep, const context_facts& live) {
    context_facts strict = live;
    strict.min_version = std::max(live.min_version, TLS1_2_VERSION);
    std::erase_if(strict.tls12_suites, [](const std::string& n) {
        return std::find(std::begin(report_mode_legacy_suites), std::end(report_mode_legacy_suites), n) !=
               std::end(report_mode_legacy_suites);
    });
    const std::size_t first = r.findings.size();
    check_version(e, strict);
    check_suites(e, strict);
    check_ems(e, strict);
    for (std::size_t i = first; i < r.findings.size(); ++i) {
        finding& f = r.findings[i];
        if (f.result == status::fail || f.result == status::unknown) continue;
        const char* relaxed = f.rule == rule_id::tls_version ? "TLS 1.0 and 1.1 accepted"
                              : f.rule == rule_id::pfs_suites ? "suites without forward secrecy accepted"
                                                              : "TLS 1.2 without EMS accepted";
        f.result = status::warn;
        f.evidence = std::string("report-only: not enforcing TLS policy (") + relaxed +
                     " and counted as would-refuse); strict mode: " + f.evidence;
        f.remediation = "read the would-refuse handshakes on /status or the dashboard, fix or accept those clients, "
                        "then set enforcement = \"strict\" and reload";
    }
    r.report_only.push_back(ep.name);
}

constexpr rule_id tls_rules[] = {rule_id::tls_version, rule_id::pfs_suites, rule_id::ems};
constexpr rule_id cert_rules[] = {rule_id::key_strength, rule_id::signature_hash, rule_id::validity,
                                  rule_id::self_signed,  rule_id::chain_trust,    rule_id::san,
                                  rule_id::eku,          rule_id::lifetime};

void audit_endpoint(const endpoint_facts& ep, std::int64_t now, report& r) {
    emitter e(ep, r);
    // A plaintext endpoint has no TLS context or certificate to judge: only https_only applies.
    if (ep.plaintext) {
        check_https(e, ep);
        return;
    }

    if (!ep.context) {
        std::string why = ep.context_error.empty() ? "TLS context facts unavailable" : ep.context_error;
        for (rule_id id : tls_rules) e.add(id, status::unknown, "", why);
    } else if (ep.context->report_only) {
        check_report_only(e, r, ep, *ep.context);
    } else {
        check_version(e, *ep.context);
        check_suites(e, *ep.context);
        check_ems(e, *ep.context);
    }

    const chain_facts* ch = ep.chain && !ep.chain->served.empty() ? &*ep.chain : nullptr;
    if (ch == nullptr) {
        std::string why = !ep.chain ? (ep.chain_error.empty() ? "certificate facts unavailable" : ep.chain_error)
                                    : "no certificate served";
        for (rule_id id : cert_rules) e.add(id, status::unknown, "", why);
        check_key_match(e, ep, nullptr, why);
    } else {
        const cert_facts& leaf = ch->served.front();
        per_cert(e, rule_id::key_strength, ep, chain_certs(*ch, true), judge_key);

        std::vector<cert_ref> signed_certs;
        bool root_exempt = false;
        for (auto& c : chain_certs(*ch, false)) {
            // The root's self-signature is never checked by clients, so its hash does not matter.
            if (is_root(*c.facts)) {
                root_exempt = true;
                continue;
            }
            signed_certs.push_back(std::move(c));
        }
        if (signed_certs.empty())
            e.add(rule_id::signature_hash, status::pass, "", "only a self-signed root is served (exempt)");
        else
            per_cert(e, rule_id::signature_hash, ep, signed_certs, judge_signature,
                     root_exempt ? ", served root exempt" : "");

        per_cert(e, rule_id::validity, ep, chain_certs(*ch, false),
                 [now](const cert_ref& c) { return judge_validity(c, now); });

        if (leaf.self_signed)
            e.add(rule_id::self_signed, status::fail, leaf.subject, "leaf is self-signed",
                  std::string(rule_for(rule_id::self_signed).remediation) + served_from(ep));
        else
            e.add(rule_id::self_signed, status::pass, leaf.subject, "issued by " + quoted(leaf.issuer));

        check_chain_trust(e, ep, *ch);
        check_san(e, ep, *ch);
        check_eku(e, ep, leaf);
        check_lifetime(e, ep, *ch);
        check_key_match(e, ep, ch, {});
    }
    check_https(e, ep);
}

}  // namespace

bool report::any(status s) const noexcept {
    return std::any_of(findings.begin(), findings.end(), [s](const finding& f) { return f.result == s; });
}

std::size_t report::count(status s) const noexcept {
    return static_cast<std::size_t>(
        std::count_if(findings.begin(), findings.end(), [s](const finding& f) { return f.result == s; }));
}

report audit(const std::vector<endpoint_facts>& endpoints, std::int64_t now) {
    report r;
    for (const auto& ep : endpoints) {
        r.endpoints.push_back({ep.kind, ep.name, ep.address});
        audit_endpoint(ep, now, r);
    }
    return r;
}

// ---- rendering -------------------------------------------------------------------------------

std::string render_text(const report& r) {
    text_style style;
    for (const auto& rl : rules) style.id_width = std::max(style.id_width, rl.code.size());

    // Endpoint names in order of first appearance (headings first, then any others in findings).
    std::vector<std::string> order;
    auto note = [&](const std::string& name) {
        if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    };
    for (const auto& h : r.endpoints) note(h.name);
    for (const auto& f : r.findings) note(f.endpoint);

    std::string out;
    for (const auto& name : order) {
        auto h = std::find_if(r.endpoints.begin(), r.endpoints.end(), [&](const auto& x) { return x.name == name; });
        if (!out.empty()) out += '\n';
        if (h != r.endpoints.end()) {
            out += (h->kind.empty() ? std::string("listener") : printable(h->kind)) + " " + quoted(printable(name));
            if (!h->address.empty()) out += " " + printable(h->address);
        } else {
            out += "listener " + quoted(printable(name));
        }
        out += '\n';
        for (const auto& f : r.findings) {
            if (f.endpoint != name) continue;
            if (f.id.empty()) {  // a finding made without its code: the rule's
                check c = f;
                c.id = std::string(rule_for(f.rule).code);
                append_text(out, c, style);
            } else {
                append_text(out, f, style);
            }
        }
    }
    std::string verdict = r.any(status::fail) ? "NOT COMPLIANT" : r.any(status::unknown) ? "INCOMPLETE" : "COMPLIANT";
    if (!r.report_only.empty()) {
        std::string names;
        for (const auto& n : r.report_only) names += (names.empty() ? "" : ", ") + quoted(printable(n));
        if (!out.empty()) out += '\n';
        out += "NOT COMPLIANT YET: listener " + names + (r.report_only.size() == 1 ? " is" : " are") +
               " in report mode (enforcement = \"report\"): handshakes Apple's ATS forbids are served and only counted "
               "as would-refuse. Switch to enforcement = \"strict\" (a reload) when they are fixed or accepted.\n";
        if (verdict == "COMPLIANT") verdict = "NOT COMPLIANT YET (report mode)";
    }
    if (!out.empty()) out += '\n';
    out += "summary: " + std::to_string(r.count(status::pass)) + " pass, " + std::to_string(r.count(status::warn)) +
           " warn, " + std::to_string(r.count(status::fail)) + " fail, " + std::to_string(r.count(status::unknown)) +
           " unknown: " + verdict + '\n';
    return out;
}

std::string render_json(const report& r) {
    util::json_writer j;
    j.open('{').key("version").num(1).key("summary").open('{');
    for (status s : {status::pass, status::info, status::warn, status::fail, status::unknown})
        j.key(json_name(s)).num(static_cast<std::int64_t>(r.count(s)));
    j.close('}').key("report_only").open('[');
    for (const auto& n : r.report_only) j.str(n);
    j.close(']').key("findings").open('[');
    for (const auto& f : r.findings) {
        const rule& rl = rule_for(f.rule);
        j.open('{').key("endpoint").str(f.endpoint).key("rule").str(f.id.empty() ? rl.code : std::string_view(f.id));
        append_json_members(j, f);
        j.key("ats_exception").str(rl.ats_exception).close('}');
    }
    j.close(']').close('}');
    return j.take();
}

}  // namespace atsgate::tls
