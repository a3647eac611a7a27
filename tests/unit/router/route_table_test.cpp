// router::route_table: each listener forwards to its own upstream, whatever the target.

#include "proxy/router/route_table.hpp"

#include <catch2/catch.hpp>

using namespace atsgate;

TEST_CASE("route_table: listener -> its upstream", "[unit][router]") {
    config::config cfg;
    cfg.upstreams.resize(2);
    cfg.listeners.resize(2);
    cfg.listeners[0].upstream_index = 1;
    cfg.listeners[1].upstream_index = 0;
    const router::route_table t(cfg);
    for (const char* target : {"/", "/mdm/checkin", "/mdm/server?x=1", "*"}) {
        DYNAMIC_SECTION(target) {
            http::request_head h;
            h.target = target;
            CHECK(t.match(0, h).upstream == 1);
            CHECK(t.match(1, h).upstream == 0);
        }
    }
}
