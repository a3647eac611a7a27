// Fuzz target: the pure parts of tls/handshake_gate: decide(), select_group(), classify_failure()
// and to_string(refusal). decide() runs on every ClientHello; its facts are derived from what a
// client sent, so every combination must give a clean answer.
//
// Input: bytes consumed by FuzzedDataProvider into a gate_policy, a client_hello_facts, a
// gate_config (SNI table: names lower-cased and sorted as tls/server_context.cpp builds them) and
// an SNI host name.
// decide() is checked against the ATS rules it implements (handshake_gate.hpp, README):
// - a refusal is one of protocol_version (alert 70), no_pfs_suite / no_shared_group / no_ems
//   (alert 40); no refusal means alert 0;
// - soundness: accepted only if the negotiated version (1.3 preferred) has a shared suite, a
//   shared group (TLS 1.3: supported_groups present; 1.2: absent or shared) and, on 1.2, EMS;
// - completeness: such an offer is never refused; no_ems only ever on TLS 1.2;
// - only the fields decide() documents matter (legacy/max version, suite count, SNI do not).
// select_group() is checked against a linear, case-insensitive search of the same table.

#include "fuzz_check.hpp"

#include "tls/handshake_gate.hpp"

#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <optional>
#include <string>

namespace tls = atsgate::tls;

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

void check_decide(FuzzedDataProvider& fdp) {
    tls::gate_policy policy;
    policy.allow_tls12 = fdp.ConsumeBool();
    policy.allow_tls13 = fdp.ConsumeBool();
    policy.tls12_suite_count = fdp.ConsumeIntegralInRange<std::uint8_t>(0, 24);
    for (auto& s : policy.tls12_suites) s = fdp.ConsumeIntegral<std::uint16_t>();
    policy.tls13_suite_count = fdp.ConsumeIntegralInRange<std::uint8_t>(0, 4);
    for (auto& s : policy.tls13_suites) s = fdp.ConsumeIntegral<std::uint16_t>();
    policy.group_count = fdp.ConsumeIntegralInRange<std::uint8_t>(0, 4);
    for (auto& g : policy.groups) g = fdp.ConsumeIntegral<std::uint16_t>();

    tls::client_hello_facts h;
    h.legacy_version = fdp.ConsumeIntegral<std::uint16_t>();
    h.max_version = fdp.ConsumeIntegral<std::uint16_t>();
    h.supported_versions_ext = fdp.ConsumeBool();
    h.offers_tls12 = fdp.ConsumeBool();
    h.offers_tls13 = fdp.ConsumeBool();
    h.suite_count = fdp.ConsumeIntegral<std::uint16_t>();
    h.shared_tls12_suite = fdp.ConsumeBool();
    h.shared_tls13_suite = fdp.ConsumeBool();
    h.groups_ext = fdp.ConsumeBool();
    h.shared_group = fdp.ConsumeBool();
    h.ems = fdp.ConsumeBool();
    const std::string sni = fdp.ConsumeRandomLengthString(80);
    std::copy_n(sni.data(), std::min(sni.size(), h.sni.size()), h.sni.begin());  // not NUL-terminated: never read

    const tls::gate_decision d = tls::decide(h, policy);
    switch (d.reason) {
        case tls::refusal::none: FUZZ_CHECK(d.alert == 0, "accepted with alert %u", d.alert); break;
        case tls::refusal::protocol_version: FUZZ_CHECK(d.alert == 70, "protocol_version alert %u", d.alert); break;
        case tls::refusal::no_pfs_suite:
        case tls::refusal::no_shared_group:
        case tls::refusal::no_ems: FUZZ_CHECK(d.alert == 40, "handshake_failure alert %u", d.alert); break;
        default: FUZZ_CHECK(false, "decide() gave refusal %d", static_cast<int>(d.reason));
    }

    const bool v13 = policy.allow_tls13 && h.offers_tls13;
    const bool v12 = !v13 && policy.allow_tls12 && h.offers_tls12;
    const bool ok13 = v13 && h.shared_tls13_suite && h.groups_ext && h.shared_group;
    const bool ok12 = v12 && h.shared_tls12_suite && (!h.groups_ext || h.shared_group) && h.ems;
    if (d.reason == tls::refusal::none) FUZZ_CHECK(ok13 || ok12, "an offer ATS forbids was accepted");
    if (ok13 || ok12) FUZZ_CHECK(d.reason == tls::refusal::none, "a compliant offer was refused: %d",
                                 static_cast<int>(d.reason));
    if (!v13 && !v12) FUZZ_CHECK(d.reason == tls::refusal::protocol_version, "no common version but %d",
                                 static_cast<int>(d.reason));
    if (d.reason == tls::refusal::no_ems) FUZZ_CHECK(v12 && !h.ems, "no_ems outside TLS 1.2 or with EMS");

    // Fields decide() does not use must not change its answer.
    tls::client_hello_facts other = h;
    other.legacy_version = static_cast<std::uint16_t>(~h.legacy_version);
    other.max_version = static_cast<std::uint16_t>(~h.max_version);
    other.supported_versions_ext = !h.supported_versions_ext;
    other.suite_count = static_cast<std::uint16_t>(h.suite_count + 1);
    other.sni.fill('x');
    const tls::gate_decision d2 = tls::decide(other, policy);
    FUZZ_CHECK(d2.reason == d.reason && d2.alert == d.alert, "decide() depends on unused fields");

    // classify_failure(): a gate refusal wins; otherwise exactly one of a refusal and a failure,
    // and an alert only for client_alert.
    tls::handshake_record rec;
    rec.hello = h;
    rec.hello_seen = true;
    rec.reason = d.reason;
    const int reason_code = fdp.ConsumeIntegral<int>();
    const tls::failure_class c = tls::classify_failure(rec, reason_code);
    if (d.reason != tls::refusal::none) FUZZ_CHECK(c.reason == d.reason, "classify_failure ignored the gate's refusal");
    FUZZ_CHECK((c.reason == tls::refusal::none) != (c.failure == tls::handshake_failure::none),
               "classified as refusal %d and failure %d", static_cast<int>(c.reason), static_cast<int>(c.failure));
    FUZZ_CHECK(static_cast<std::size_t>(c.reason) < tls::refusal_count &&
                   static_cast<std::size_t>(c.failure) < tls::handshake_failure_count,
               "out of range: %d / %d", static_cast<int>(c.reason), static_cast<int>(c.failure));
    FUZZ_CHECK((c.alert >= 0) == (c.failure == tls::handshake_failure::client_alert) && c.alert < 256,
               "alert %d for failure %d", c.alert, static_cast<int>(c.failure));
}

void check_select(FuzzedDataProvider& fdp) {
    tls::gate_config cfg;
    const std::size_t groups = fdp.ConsumeIntegralInRange<std::size_t>(1, 4);
    cfg.groups.resize(groups);
    cfg.refuse_unknown_sni = fdp.ConsumeBool();
    auto names = [&](std::vector<tls::sni_name>& out) {
        const std::size_t n = fdp.ConsumeIntegralInRange<std::size_t>(0, 8);
        for (std::size_t i = 0; i < n; ++i) {
            std::string name = fdp.ConsumeRandomLengthString(24);
            for (char& ch : name) ch = lower(ch);  // as server_context.cpp's lower_ascii
            out.push_back({name, fdp.ConsumeIntegralInRange<std::size_t>(0, groups - 1)});
        }
        // As server_context.cpp sorts them.
        std::sort(out.begin(), out.end(), [](const tls::sni_name& a, const tls::sni_name& b) { return a.name < b.name; });
    };
    names(cfg.exact);
    names(cfg.wildcard);
    const std::string sni = fdp.ConsumeRandomLengthString(40);

    const std::optional<std::size_t> got = tls::select_group(cfg, sni);
    if (got) FUZZ_CHECK(*got < groups, "group %zu of %zu", *got, groups);
    if (sni.empty()) FUZZ_CHECK(got == std::size_t{0}, "no SNI must get the default group");
    if (!cfg.refuse_unknown_sni) FUZZ_CHECK(got.has_value(), "refused without refuse_unknown_sni");
    if (sni.empty() || (groups == 1 && !cfg.refuse_unknown_sni)) return;

    // Linear reference: exact (case-insensitive), then a one-label wildcard, then the default.
    std::optional<std::size_t> want;
    bool found = false;
    for (const auto& e : cfg.exact)
        if (ieq(sni, e.name)) {
            found = true;
            // Duplicate names in different groups: any of them is a valid answer.
            if (got == e.group) want = e.group;
            else if (!want) want = e.group;
        }
    const auto dot = sni.find('.');
    if (!found && dot != std::string::npos && dot > 0) {
        const std::string_view suffix = std::string_view(sni).substr(dot + 1);
        for (const auto& e : cfg.wildcard)
            if (ieq(suffix, e.name)) {
                found = true;
                if (got == e.group) want = e.group;
                else if (!want) want = e.group;
            }
    }
    if (!found && !cfg.refuse_unknown_sni) want = 0;
    if (got != want) {
        auto dump = [](const char* what, const std::vector<tls::sni_name>& v) {
            for (const auto& e : v) {
                std::fprintf(stderr, "%s: \"", what);
                for (unsigned char ch : e.name) std::fprintf(stderr, ch >= 0x20 && ch < 0x7f ? "%c" : "\\x%02x", ch);
                std::fprintf(stderr, "\" -> %zu\n", e.group);
            }
        };
        dump("exact", cfg.exact);
        dump("wildcard", cfg.wildcard);
    }
    FUZZ_CHECK(got == want, "select_group(\"%s\") = %d, linear search says %d", sni.c_str(),
               got ? static_cast<int>(*got) : -1, want ? static_cast<int>(*want) : -1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    const auto r = static_cast<tls::refusal>(fdp.ConsumeIntegral<std::uint8_t>());
    FUZZ_CHECK(!tls::to_string(r).empty(), "to_string(refusal %d) empty", static_cast<int>(r));
    check_decide(fdp);
    check_select(fdp);
    return 0;
}
