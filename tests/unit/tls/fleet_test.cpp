// tls/fleet: the per-listener counters count each offer in its bucket; the recent-refusals ring
// keeps the last 200, newest first, with text fields made printable and bounded.

#include "tls/fleet.hpp"

#include <catch2/catch.hpp>

#include <openssl/tls1.h>

#include <cstring>
#include <string>

using namespace atsgate::tls;

namespace {

client_hello_facts hello(std::uint16_t max_version, bool ems, const char* sni, bool mlkem) {
    client_hello_facts h;
    h.max_version = max_version;
    h.ems = ems;
    std::strncpy(h.sni.data(), sni, h.sni.size() - 1);
    h.mlkem = mlkem;
    return h;
}

}  // namespace

TEST_CASE("fleet: offers are counted by highest version and feature", "[unit][fleet]") {
    fleet_counters f;
    f.count_hello(hello(TLS1_3_VERSION, true, "mdm.example.com", true));
    f.count_hello(hello(TLS1_3_VERSION, true, "", false));
    f.count_hello(hello(TLS1_2_VERSION, false, "mdm.example.com", false));
    f.count_hello(hello(TLS1_1_VERSION, false, "", false));
    f.count_hello(hello(0x0300, false, "", false));  // SSLv3
    using fc = fleet_counters;
    CHECK(fc::get(f.hellos) == 5);
    CHECK(fc::get(f.offered_max[static_cast<std::size_t>(version_bucket::tls13)]) == 2);
    CHECK(fc::get(f.offered_max[static_cast<std::size_t>(version_bucket::tls12)]) == 1);
    CHECK(fc::get(f.offered_max[static_cast<std::size_t>(version_bucket::tls11)]) == 1);
    CHECK(fc::get(f.offered_max[static_cast<std::size_t>(version_bucket::tls10)]) == 0);
    CHECK(fc::get(f.offered_max[static_cast<std::size_t>(version_bucket::older)]) == 1);
    CHECK(fc::get(f.ems_offered) == 2);
    CHECK(fc::get(f.sni_present) == 2);
    CHECK(fc::get(f.mlkem_offered) == 1);
}

TEST_CASE("fleet: version buckets and group names", "[unit][fleet]") {
    CHECK(to_string(bucket_of(TLS1_3_VERSION)) == "TLSv1.3");
    CHECK(to_string(bucket_of(TLS1_VERSION)) == "TLSv1.0");
    CHECK(to_string(bucket_of(0x7f1c)) == "older");  // a draft or unknown version
    CHECK(group_name(group_x25519mlkem768) == "X25519MLKEM768");
    CHECK(group_name(0x001D) == "x25519");
    CHECK(group_name(0x0a0a) == "0x0a0a");  // anything else by number
}

TEST_CASE("fleet: the refusal log keeps the last 200, newest first", "[unit][fleet]") {
    refusal_log log;
    CHECK(log.recent().empty());
    for (int i = 0; i < 250; ++i)
        log.push(make_refused(1000 + i, "mdm", "127.0.0.1:" + std::to_string(i), hello(TLS1_2_VERSION, false, "", false),
                              refusal::no_ems, i % 2 == 1));
    const auto r = log.recent();
    REQUIRE(r.size() == refusal_log::capacity);
    CHECK(r.front().at == 1249);
    CHECK(std::string(r.front().client.data()) == "127.0.0.1:249");
    CHECK(r.front().would_refuse);
    CHECK(r.back().at == 1050);
    for (std::size_t i = 1; i < r.size(); ++i) CHECK(r[i - 1].at == r[i].at + 1);
}

TEST_CASE("fleet: an entry's text is printable and bounded", "[unit][fleet]") {
    auto h = hello(TLS1_2_VERSION, false, "a\x01\x7f<b>", false);
    h.suite_count = 7;
    h.group_count = 2;
    h.groups[0] = group_x25519mlkem768;
    h.groups[1] = 0x001D;
    const std::string long_listener(200, 'l');
    const auto e = make_refused(5, long_listener, "[::1]:443", h, refusal::protocol_version, false);
    CHECK(std::string(e.listener.data()) == std::string(e.listener.size() - 1, 'l'));
    CHECK(std::string(e.sni.data()) == "a?" "?<b>");  // escaping for HTML/JSON is the renderer's job
    CHECK(std::string(e.client.data()) == "[::1]:443");
    CHECK(e.max_version == TLS1_2_VERSION);
    CHECK(e.suites == 7);
    CHECK_FALSE(e.ems);
    CHECK(e.group_count == 2);
    CHECK(e.groups[0] == group_x25519mlkem768);
    CHECK(e.reason == refusal::protocol_version);
}
