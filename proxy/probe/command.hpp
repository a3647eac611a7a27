#pragma once
// proxy/probe/: `atsgate probe`: gathering facts from remote servers (gather.cpp, the per-target
// run on a bounded thread pool, over tls_client.hpp and blocking_io.hpp: sockets with deadlines),
// judging them (judge.cpp, cert.* through tls::audit), reading profiles (plist, CMS) and the
// reports (text, JSON, HTML). Independent of the serving layers. May use: tls, http (the response
// parser), util.
//
// `atsgate probe`: option parsing, input collection (targets, --from-file, --profile), the run
// and the report. main() dispatches here; everything probe-specific lives in this layer.

#include <cstdio>
#include <string_view>
#include <vector>

namespace atsgate::probe {

constexpr int exit_pass = 0;   // nothing FAILs
constexpr int exit_fail = 1;   // some check FAILs
constexpr int exit_usage = 2;  // usage error or unreadable input (file, profile, --ca)

// Runs `atsgate probe` with the arguments after "probe". Prints the report on stdout and usage
// or input errors on stderr. Returns the exit code above. Not thread-safe (one per process).
int command_main(const std::vector<std::string_view>& args);

// The `atsgate probe --help` text.
void print_help(std::FILE* out);

}  // namespace atsgate::probe
