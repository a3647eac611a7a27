// connection_slots::make_room: at max_connections each waiting client gets one shed, however long
// the worker holding the idle connection takes to carry it out. The accept loop asks every 10 ms;
// on a loaded machine the other worker's thread may not run for longer than that, and shedding at
// every ask closed one more idle connection per 10 ms for the same client (integration.limits saw
// its younger idle connection closed too). The io_contexts here are run by hand: "the other worker
// has not run yet" is exact.

#include "proxy/downstream/slots.hpp"
#include "proxy/downstream/worker_context.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

using namespace atsgate::downstream;

namespace {

struct two_workers {
    boost::asio::io_context io1, io2;
    worker_context w1{io1}, w2{io2};
    connection_slots slots;
    two_workers() {
        slots.add_worker(w1);
        slots.add_worker(w2);
    }
    // A connection that holds a slot and is idle on `w` (no socket: a shed only marks it).
    void idle_on(worker_context& w, registry_node& n) {
        REQUIRE(slots.try_acquire(100));
        w.connections().add(n);
        w.connections().set_idle(n, true);
    }
    // The shed connection's coroutine ends: unregistered, its slot given back.
    void ends(worker_context& w, registry_node& n) {
        w.connections().remove(n);
        slots.release(n.shed);
    }
    std::uint64_t shed(worker_context& w) { return stats::get(w.counters().connections_shed); }
};

}  // namespace

TEST_CASE("slots: one shed per waiting client while the holding worker has not run", "[unit][downstream]") {
    two_workers t;
    registry_node oldest, younger;
    t.idle_on(t.w2, oldest);
    t.idle_on(t.w2, younger);
    const std::uint32_t limit = 2;
    {
        const connection_slots::waiter waiting(t.slots);
        REQUIRE_FALSE(t.slots.try_acquire(limit));
        for (int tick = 0; tick < 5; ++tick) CHECK(t.slots.make_room(t.w1));  // w2's thread is busy meanwhile
        CHECK(t.slots.sheds_in_flight() == 1);
        t.io2.poll();
        CHECK(oldest.shed);
        CHECK_FALSE(younger.shed);
        CHECK(t.shed(t.w2) == 1);
        CHECK(t.slots.make_room(t.w1));  // still in flight until its slot is back
        t.io2.poll();
        CHECK_FALSE(younger.shed);
        t.ends(t.w2, oldest);
        CHECK(t.slots.sheds_in_flight() == 0);
        CHECK(t.slots.try_acquire(limit));
    }
    CHECK_FALSE(younger.shed);
    CHECK(t.shed(t.w2) == 1);
}

TEST_CASE("slots: a shed on the waiting worker's own thread is not repeated either", "[unit][downstream]") {
    two_workers t;
    registry_node a, b;
    t.idle_on(t.w1, a);
    t.idle_on(t.w1, b);
    const connection_slots::waiter waiting(t.slots);
    REQUIRE_FALSE(t.slots.try_acquire(2));
    CHECK(t.slots.make_room(t.w1));
    CHECK(a.shed);
    CHECK(t.slots.make_room(t.w1));  // a's coroutine has not ended yet
    CHECK_FALSE(b.shed);
    CHECK(t.shed(t.w1) == 1);
    t.ends(t.w1, a);
    CHECK(t.slots.try_acquire(2));
}

TEST_CASE("slots: two waiting clients get two sheds, oldest first", "[unit][downstream]") {
    two_workers t;
    registry_node a, b, c;
    t.idle_on(t.w2, a);
    t.idle_on(t.w1, b);
    t.idle_on(t.w2, c);
    const connection_slots::waiter first(t.slots), second(t.slots);
    REQUIRE_FALSE(t.slots.try_acquire(3));
    CHECK(t.slots.make_room(t.w1));  // a, posted to w2
    t.io2.poll();                    // (the worker marks it; its oldest-idle hint moves on)
    CHECK(t.slots.make_room(t.w1));  // b, the next oldest: our own
    CHECK(t.slots.make_room(t.w1));  // two in flight for two clients: nothing more
    t.io2.poll();
    CHECK(a.shed);
    CHECK(b.shed);
    CHECK_FALSE(c.shed);
    CHECK(t.slots.sheds_in_flight() == 2);
}

TEST_CASE("slots: a shed that finds its connection busy lets the client shed again", "[unit][downstream]") {
    two_workers t;
    registry_node a, b;
    t.idle_on(t.w2, a);
    t.idle_on(t.w1, b);
    const connection_slots::waiter waiting(t.slots);
    REQUIRE_FALSE(t.slots.try_acquire(2));
    CHECK(t.slots.make_room(t.w1));          // a, posted to w2 ...
    t.w2.connections().set_idle(a, false);   // ... whose bytes arrive first: busy, never shed
    t.io2.poll();
    CHECK_FALSE(a.shed);
    CHECK(t.slots.sheds_in_flight() == 0);
    CHECK(t.slots.make_room(t.w1));          // so the next idle one goes
    CHECK(b.shed);
}

TEST_CASE("slots: nothing idle anywhere: no shed, the client waits", "[unit][downstream]") {
    two_workers t;
    registry_node a;
    REQUIRE(t.slots.try_acquire(1));
    t.w1.connections().add(a);  // busy
    const connection_slots::waiter waiting(t.slots);
    CHECK_FALSE(t.slots.make_room(t.w1));
    CHECK(t.slots.sheds_in_flight() == 0);
    CHECK_FALSE(a.shed);
    t.w1.connections().remove(a);
}
