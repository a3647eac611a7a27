#include "proxy/downstream/slots.hpp"

#include "proxy/downstream/worker_context.hpp"

namespace atsgate::downstream {

bool connection_slots::shed_one(worker_context& self) {
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
    if (best == nullptr) return self.shed_idle();  // not registered (tests): only our own
    if (best == &self) return self.shed_idle();
    net::asio::post(best->io(), [best] { best->shed_idle(); });
    return true;
}

}  // namespace atsgate::downstream
