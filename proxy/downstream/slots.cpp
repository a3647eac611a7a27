#include "proxy/downstream/slots.hpp"

#include "proxy/downstream/worker_context.hpp"

namespace atsgate::downstream {

bool connection_slots::make_room(worker_context& self) {
    if (shedding_.load(std::memory_order_seq_cst) >= waiting_.load(std::memory_order_seq_cst))
        return true;  // a shed is on its way for every waiting client
    // The worker whose longest-idle connection has been idle longest (relaxed reads: a race can
    // at worst pick the second-oldest).
    worker_context* best = nullptr;
    std::int64_t oldest = registry::none;
    for (worker_context* w : workers_) {
        const std::int64_t since = w->connections().oldest_idle_since();
        if (since < oldest) {
            oldest = since;
            best = w;
        }
    }
    shedding_.fetch_add(1, std::memory_order_seq_cst);
    if (best == nullptr || best == &self) {  // (nullptr: nothing idle elsewhere, or not registered)
        if (self.shed_idle()) return true;
        shedding_.fetch_sub(1, std::memory_order_seq_cst);
        return false;
    }
    net::asio::post(best->io(), [this, best] {
        // Gone busy meanwhile: no slot will come from it, so the waiting client may shed again.
        if (!best->shed_idle()) shedding_.fetch_sub(1, std::memory_order_seq_cst);
    });
    return true;
}

}  // namespace atsgate::downstream
