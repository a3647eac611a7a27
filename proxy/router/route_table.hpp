#pragma once
// Routing as a pure function: (listener, request head) -> route decision. Built once per snapshot
// from the validated config; immutable afterwards; no allocation on match.
//
// Foundation scope: each listener forwards everything to its one upstream. The table is already
// shaped for per-listener host/path-prefix routes (longest prefix wins) so later routes slot in
// without changing callers.

#include "config/config.hpp"
#include "proxy/http/message.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace atsgate::router {

struct decision {
    std::size_t upstream = 0;  // index into config::upstreams / the snapshot's upstream pools
};

class route_table {
public:
    route_table() = default;
    explicit route_table(const config::config& cfg);

    // The decision for a request on listener `listener` (index into config::listeners).
    // Precondition: listener < listener count (checked by assert; callers take it from the snapshot).
    decision match(std::size_t listener, const http::request_head& head) const noexcept;

private:
    struct route {
        std::string path_prefix;  // "/" matches everything
        std::size_t upstream = 0;
    };
    std::vector<std::vector<route>> by_listener_;  // routes sorted by prefix length, longest first
};

}  // namespace atsgate::router
