#include "proxy/downstream/slots.hpp"

#include "proxy/downstream/worker_context.hpp"

namespace atsgate::downstream {

bool connection_slots::shed_one(worker_context& self) {
    if (self.shed_idle()) return true;
    worker_context* best = nullptr;
    std::size_t most = 0;
    for (worker_context* w : workers_) {
        if (w == &self) continue;
        const std::size_t n = w->connections().idle_count();
        if (n > most) {
            most = n;
            best = w;
        }
    }
    if (best == nullptr) return false;
    net::asio::post(best->io(), [best] { best->shed_idle(); });
    return true;
}

}  // namespace atsgate::downstream
