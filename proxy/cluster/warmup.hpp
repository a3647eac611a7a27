#pragma once
// Opens `warm` keep-alive connections from this worker to every upstream member in advance, so
// even the first request after a start or a reload reuses a connected (and TLS-established)
// backend connection. Best effort: a member that is down is simply not warmed (logged at debug);
// requests then connect on demand as usual. Stops when the worker drains. Runs on the worker's
// thread; each new connection is counted in `connects` (the worker's upstream_connects).

#include "proxy/cluster/worker_upstreams.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <atomic>
#include <cstdint>
#include <memory>

namespace atsgate::cluster {

void warm_upstreams(worker_upstreams& upstreams, std::shared_ptr<const snapshot::snapshot> snap,
                    std::atomic<std::uint64_t>& connects);

}  // namespace atsgate::cluster
