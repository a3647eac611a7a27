#pragma once
// The process's data plane: one io_context and thread per worker, each with its own acceptors
// (SO_REUSEPORT), upstream pools, counters and access-log buffer; a control thread (the caller's)
// handling signals, the drain and the admin endpoint.

#include "proxy/snapshot/snapshot.hpp"

#include <memory>

namespace atsgate::server {

// Binds every listener (and [admin]), serves until SIGINT/SIGTERM, drains gracefully (stop
// accepting, finish in-flight requests up to server.drain_timeout, then close the rest; a second
// signal stops at once) and prints the counters. Returns the process exit code: 0 after a clean
// shutdown, 1 when a socket could not be bound (nothing is served then).
// Call from the main thread; blocks until shutdown.
int run(std::shared_ptr<const snapshot::snapshot> initial);

}  // namespace atsgate::server
