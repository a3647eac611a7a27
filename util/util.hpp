#pragma once
// util/: the one home for small text helpers that several layers need, so none keeps its own
// copy: JSON string literals and a JSON object writer (json.hpp), hex encoding (hex.hpp),
// host:port with IPv6 brackets (host_port.hpp), HTML text (html.hpp), joining and UTF-8
// sequences (text.hpp). Owns nothing else: no
// protocol, no policy, no I/O. May use: std only; every other layer (config included) may use it.
// Find a copy before writing one: `duplicates` (see the tool library) lists repeated code.

#include "util/hex.hpp"
#include "util/html.hpp"
#include "util/host_port.hpp"
#include "util/json.hpp"
#include "util/text.hpp"
