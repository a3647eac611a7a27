#pragma once
// Which member of an upstream takes the next attempt of a request. Pure (no clock, no I/O): the
// caller says which members are usable now and which this request has already tried.
//
// Panic mode: when no member is usable at all (every one is marked down by health checks or
// ejected after connect failures), the members are tried anyway instead of answering 503. A pool
// is never left with nothing to try: a single backend restarting for a moment must not turn into
// fail_timeout of 503s once it is back. This is what nginx does for a lone server (max_fails is
// ignored) and what Envoy's panic threshold does for a pool (route to all hosts when too few are
// healthy; here the threshold is "none healthy").

#include "proxy/upstream/balancer.hpp"

#include <cstddef>
#include <optional>

namespace atsgate::cluster {

struct member_choice {
    std::optional<std::size_t> index;  // nullopt: nothing left to try for this request
    bool panic = false;                // chosen although no member was usable
};

// `usable(i)`: member i may take traffic now; `tried(i)`: this request already failed to connect
// to member i. A usable untried member is chosen by the balancer's weights; when none is usable
// at all, an untried one regardless of health (panic). When some member is usable but every usable
// one was tried, nothing is chosen: the unusable ones are not a fallback for a healthy pool.
template <typename Usable, typename Tried>
member_choice choose_member(upstream::balancer& b, Usable&& usable, Tried&& tried) {
    if (auto i = b.pick([&](std::size_t m) { return !tried(m) && usable(m); })) return {i, false};
    for (std::size_t m = 0; m < b.size(); ++m)
        if (usable(m)) return {};
    auto i = b.pick([&](std::size_t m) { return !tried(m); });
    return {i, i.has_value()};
}

}  // namespace atsgate::cluster
