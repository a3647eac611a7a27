#pragma once
// Opens `warm` keep-alive connections from this worker to every upstream member in advance, so
// even the first request after a start or a reload reuses a connected (and TLS-established)
// backend connection. Best effort: a member that is down is simply not warmed (logged at debug);
// requests then connect on demand as usual. Runs on the worker's thread.

#include "proxy/downstream/worker_context.hpp"
#include "proxy/snapshot/snapshot.hpp"

#include <memory>

namespace atsgate::downstream {

void warm_upstreams(worker_context& worker, std::shared_ptr<const snapshot::snapshot> snap);

}  // namespace atsgate::downstream
