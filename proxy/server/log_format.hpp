#pragma once
// [server] log_format: the layout of the event log (stderr, spdlog's default logger) and of the
// access log (stdout, one logger per worker). The field names are documented in the README
// ("Logs") and only ever added to, never renamed.
//
//   text  event:  2026-11-29T06:26:53.895+00:00 info listener mdm: https://0.0.0.0:443 -> legacy
//         access: 2026-11-29T06:26:53.895+00:00 127.0.0.1 "PUT /mdm/checkin HTTP/1.1" 200 295 rt=...
//   json  event:  {"time":"2026-11-29T06:26:53.895+00:00","level":"info","msg":"listener mdm: ..."}
//         access: {"time":"...","client":"127.0.0.1","method":"PUT","target":"/mdm/checkin",...}

#include "config/config.hpp"

#include <spdlog/logger.h>

namespace atsgate::server {

// The event log's layout (process-wide; spdlog's sinks serialise the switch). Used at start and
// on every reload.
void set_event_log_format(config::log_format f);

// A worker's access logger layout; call on that worker's thread (it is the only writer). The
// connection writes the fields to match (downstream::worker_context::access_log_json()).
void set_access_log_format(spdlog::logger& access, config::log_format f);

}  // namespace atsgate::server
