// upstream::balancer: smooth weighted round robin (nginx's algorithm, ngx_http_upstream_round_robin.c
// ngx_http_upstream_get_peer) over the members usable at each pick.

#include "proxy/upstream/balancer.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

using atsgate::upstream::balancer;

namespace {

// `n` picks with the members in `down` unusable; members are named 'a', 'b', ... ('-' = nullopt).
std::string picks(balancer& b, std::size_t n, const std::vector<std::size_t>& down = {}) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto p = b.pick([&](std::size_t m) { return std::find(down.begin(), down.end(), m) == down.end(); });
        out += p ? static_cast<char>('a' + *p) : '-';
    }
    return out;
}

}  // namespace

TEST_CASE("balancer: smooth weighted round robin sequences", "[upstream][balancer]") {
    struct row {
        const char* label;
        std::vector<std::uint32_t> weights;
        std::vector<std::size_t> down;
        std::string expected;  // one full cycle, then repeated
    };
    const row rows[] = {
        // The sequence nginx documents for weights 5, 1, 1 (the commit introducing smooth WRR, 2012).
        {"5:1:1 is nginx's a a b a c a a", {5, 1, 1}, {}, "aabacaa"},
        {"1:1:1 is plain round robin", {1, 1, 1}, {}, "abc"},
        {"one member", {7}, {}, "a"},
        {"2:1 interleaves", {2, 1}, {}, "aba"},
        {"ties go to the earlier member", {1, 1}, {}, "ab"},
        {"3:2 spreads the heavier one", {3, 2}, {}, "abab" "a"},
        {"5:1:1 with b unusable: 5:1 over a and c", {5, 1, 1}, {1}, "aaacaa"},
        {"5:1:1 with a unusable: b and c alternate", {5, 1, 1}, {0}, "bc"},
        {"1000:1 (the member weight range)", {1000, 1}, {}, std::string(500, 'a') + "b" + std::string(500, 'a')},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            balancer b(r.weights);
            CHECK(b.size() == r.weights.size());
            CHECK(picks(b, r.expected.size(), r.down) == r.expected);
            // The state returns to zero after a full cycle: the same sequence again.
            CHECK(picks(b, r.expected.size(), r.down) == r.expected);
        }
    }
}

TEST_CASE("balancer: each member gets exactly its weight per cycle", "[upstream][balancer]") {
    const std::vector<std::uint32_t> weights{4, 7, 1, 3, 10};
    balancer b(weights);
    std::uint32_t total = 0;
    for (auto w : weights) total += w;
    for (int cycle = 0; cycle < 3; ++cycle) {
        std::map<char, std::uint32_t> count;
        for (char c : picks(b, total)) ++count[c];
        for (std::size_t i = 0; i < weights.size(); ++i) CHECK(count[static_cast<char>('a' + i)] == weights[i]);
    }
}

TEST_CASE("balancer: unusable members are skipped, never picked", "[upstream][balancer]") {
    balancer b({5, 1, 1});
    SECTION("a member going down mid-cycle") {
        CHECK(picks(b, 2) == "aa");
        const std::string while_a_down = picks(b, 6, {0});
        CHECK(while_a_down.find('a') == std::string::npos);
        CHECK(while_a_down.find('-') == std::string::npos);
    }
    SECTION("only one member usable") {
        CHECK(picks(b, 5, {0, 2}) == "bbbbb");
        CHECK(picks(b, 3, {0, 1}) == "ccc");
    }
    SECTION("every member unusable: nullopt, and the state is untouched") {
        CHECK(picks(b, 3, {0, 1, 2}) == "---");
        CHECK(picks(b, 7) == "aabacaa");  // as from a fresh balancer
    }
    SECTION("a member coming back takes its share again") {
        CHECK(picks(b, 7, {0}).find('a') == std::string::npos);
        std::map<char, int> count;
        for (char c : picks(b, 70)) ++count[c];
        CHECK(count['a'] >= 45);  // 5/7 of 70 = 50, give or take the credit b and c built up
        CHECK(count['b'] + count['c'] == 70 - count['a']);
    }
}

TEST_CASE("balancer: no members", "[upstream][balancer]") {
    balancer b({});
    CHECK(b.size() == 0);
    CHECK_FALSE(b.pick([](std::size_t) { return true; }).has_value());
}
