// cluster::choose_member: healthy members by weight, members a request already tried are skipped,
// and panic mode (no member usable at all: try them anyway) with the balancer's once-per-episode
// panic flag.
#include "proxy/cluster/member_choice.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using atsgate::cluster::choose_member;
using atsgate::upstream::balancer;

namespace {

struct pool_state {
    std::string usable;  // '1' per usable member, '0' per down/ejected one
    std::string tried;   // '1' per member this request already tried
};

auto choose(balancer& b, const pool_state& s) {
    return choose_member(
        b, [&](std::size_t i) { return s.usable[i] == '1'; }, [&](std::size_t i) { return s.tried[i] == '1'; });
}

}  // namespace

TEST_CASE("cluster::choose_member", "[unit][cluster]") {
    struct row {
        const char* label;
        pool_state state;
        std::vector<std::size_t> allowed;  // any of these may be chosen; empty: nothing
        bool panic;
    };
    const row rows[] = {
        {"all usable", {"111", "000"}, {0, 1, 2}, false},
        {"one usable", {"010", "000"}, {1}, false},
        {"the usable ones were tried: no fallback to unusable ones", {"110", "110"}, {}, false},
        {"none usable: panic picks any", {"000", "000"}, {0, 1, 2}, true},
        {"none usable, some tried: panic picks an untried one", {"000", "101"}, {1}, true},
        {"none usable, all tried: nothing left", {"000", "111"}, {}, false},
        {"single member, ejected: tried anyway", {"0", "0"}, {0}, true},
        {"single member, tried: nothing left", {"0", "1"}, {}, false},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        balancer b(std::vector<std::uint32_t>(r.state.usable.size(), 1));
        const auto c = choose(b, r.state);
        CHECK(c.panic == r.panic);
        if (r.allowed.empty()) {
            CHECK_FALSE(c.index.has_value());
        } else {
            REQUIRE(c.index.has_value());
            CHECK(std::find(r.allowed.begin(), r.allowed.end(), *c.index) != r.allowed.end());
        }
    }
}

TEST_CASE("cluster::choose_member: panic mode follows the weights", "[unit][cluster]") {
    balancer b({3, 1});
    int first = 0;
    for (int i = 0; i < 8; ++i) {
        const auto c = choose(b, {"00", "00"});
        REQUIRE(c.panic);
        first += *c.index == 0 ? 1 : 0;
    }
    CHECK(first == 6);  // 3:1
}

TEST_CASE("upstream::balancer panic flag changes once per episode", "[unit][cluster]") {
    balancer b({1});
    CHECK_FALSE(b.in_panic());
    CHECK_FALSE(b.leave_panic());
    CHECK(b.enter_panic());
    CHECK_FALSE(b.enter_panic());  // still in panic: not logged again
    CHECK(b.in_panic());
    CHECK(b.leave_panic());
    CHECK_FALSE(b.leave_panic());
}
