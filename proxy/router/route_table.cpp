#include "proxy/router/route_table.hpp"

#include <algorithm>
#include <cassert>

namespace atsgate::router {

route_table::route_table(const config::config& cfg) {
    by_listener_.reserve(cfg.listeners.size());
    for (const auto& l : cfg.listeners) {
        std::vector<route> routes;
        routes.push_back(route{"/", l.upstream_index});
        std::stable_sort(routes.begin(), routes.end(),
                         [](const route& a, const route& b) { return a.path_prefix.size() > b.path_prefix.size(); });
        by_listener_.push_back(std::move(routes));
    }
}

decision route_table::match(std::size_t listener, const http::request_head& head) const noexcept {
    assert(listener < by_listener_.size());
    const auto& routes = by_listener_[listener];
    const std::string_view target = head.target;
    for (const auto& r : routes) {
        if (target.substr(0, r.path_prefix.size()) == r.path_prefix) return decision{r.upstream};
    }
    // "*" (OPTIONS *) matches no path prefix: it goes to the listener's default upstream.
    return decision{routes.empty() ? 0 : routes.back().upstream};
}

}  // namespace atsgate::router
