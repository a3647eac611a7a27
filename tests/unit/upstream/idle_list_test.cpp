// upstream::idle_list: every transition of the pool's pure bookkeeping (take/put/expire/evict/clear),
// with a fake clock. Connections are plain ints here: the state machine never looks inside them.

#include "proxy/upstream/idle_list.hpp"

#include <catch2/catch.hpp>

#include <vector>

using atsgate::upstream::idle_list;
using namespace std::chrono_literals;
using clock_type = idle_list<int>::clock;

namespace {
const clock_type::time_point t0{};

struct collector {
    std::vector<int> closed;
    void operator()(int&& c) { closed.push_back(c); }
};
}  // namespace

TEST_CASE("idle_list: empty list lends nothing", "[unit][pool]") {
    idle_list<int> l(4, 30s);
    collector dropped;
    CHECK_FALSE(l.take(t0, std::ref(dropped)).has_value());
    CHECK(dropped.closed.empty());
    CHECK(l.size() == 0);
}

TEST_CASE("idle_list: LIFO lending of fresh connections", "[unit][pool]") {
    idle_list<int> l(4, 30s);
    collector dropped;
    CHECK_FALSE(l.put(1, t0).has_value());
    CHECK_FALSE(l.put(2, t0 + 1s).has_value());
    CHECK_FALSE(l.put(3, t0 + 2s).has_value());
    CHECK(l.size() == 3);
    CHECK(l.take(t0 + 3s, std::ref(dropped)) == 3);  // newest first: warmest, least likely closed
    CHECK(l.take(t0 + 3s, std::ref(dropped)) == 2);
    CHECK(l.size() == 1);
    CHECK(dropped.closed.empty());
}

TEST_CASE("idle_list: expired connections are dropped, never lent", "[unit][pool]") {
    idle_list<int> l(4, 30s);
    collector dropped;
    l.put(1, t0);
    l.put(2, t0 + 10s);
    l.put(3, t0 + 20s);
    SECTION("at exactly max_age the oldest is expired") {
        CHECK(l.take(t0 + 30s, std::ref(dropped)) == 3);
        CHECK(dropped.closed == std::vector<int>{1});
        CHECK(l.size() == 1);
    }
    SECTION("all expired: nothing lent, all closed in age order") {
        CHECK_FALSE(l.take(t0 + 60s, std::ref(dropped)).has_value());
        CHECK(dropped.closed == std::vector<int>{1, 2, 3});
        CHECK(l.size() == 0);
    }
    SECTION("drop_expired without taking") {
        l.drop_expired(t0 + 45s, std::ref(dropped));
        CHECK(dropped.closed == std::vector<int>{1, 2});
        CHECK(l.size() == 1);
    }
}

TEST_CASE("idle_list: a full list evicts its oldest entry", "[unit][pool]") {
    idle_list<int> l(2, 30s);
    CHECK_FALSE(l.put(1, t0).has_value());
    CHECK_FALSE(l.put(2, t0 + 1s).has_value());
    auto evicted = l.put(3, t0 + 2s);
    REQUIRE(evicted.has_value());
    CHECK(*evicted == 1);
    CHECK(l.size() == 2);
    collector dropped;
    CHECK(l.take(t0 + 3s, std::ref(dropped)) == 3);
    CHECK(l.take(t0 + 3s, std::ref(dropped)) == 2);
}

TEST_CASE("idle_list: capacity 0 keeps nothing", "[unit][pool]") {
    idle_list<int> l(0, 30s);
    auto back = l.put(7, t0);
    REQUIRE(back.has_value());
    CHECK(*back == 7);
    CHECK(l.size() == 0);
}

TEST_CASE("idle_list: clear closes every idle connection (drain)", "[unit][pool]") {
    idle_list<int> l(4, 30s);
    l.put(1, t0);
    l.put(2, t0);
    collector dropped;
    l.clear(std::ref(dropped));
    CHECK(dropped.closed == std::vector<int>{1, 2});
    CHECK(l.size() == 0);
    CHECK_FALSE(l.take(t0, std::ref(dropped)).has_value());
}

TEST_CASE("idle_list: a returned connection is idle again from its return time", "[unit][pool]") {
    idle_list<int> l(4, 30s);
    collector dropped;
    l.put(1, t0);
    auto c = l.take(t0 + 29s, std::ref(dropped));
    REQUIRE(c == 1);
    l.put(*c, t0 + 40s);  // back after a long request
    CHECK(l.take(t0 + 65s, std::ref(dropped)) == 1);  // 25 s idle since its return: still fresh
    CHECK(dropped.closed.empty());
}
