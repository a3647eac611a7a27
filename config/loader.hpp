#pragma once
// config/: the control plane's entry point. Owns the schema structs (config.hpp), the description
// of every key (schema.hpp), reading and validating a TOML document into them (reader, read_*.cpp,
// resolve.cpp) and Diagnostic. May use: std and toml++ only; toml++ stays inside this folder
// (nothing outside includes reader.hpp or sees a toml type). Other layers take the validated
// config and point their own diagnostics at the file through origin_of() (config.hpp).

#include "config/config.hpp"
#include "config/diagnostic.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace atsgate::config {

struct load_result {
    std::optional<config> value;  // set iff diags holds no error (warnings may be present)
    diagnostics diags;            // every problem found, in file order; never stops at the first
};

// Reads and validates the file at `path`. Relative file paths inside it (cert, key, trust) are
// resolved against the config file's directory and stored absolute. An unreadable config file is
// one diagnostic without line/column. Thread-safe; no global state.
load_result load_file(const std::string& path);

// Same, for TOML text already in memory. `path` names it in diagnostics and anchors relative
// file paths. Used by tests and by `check` on stdin.
load_result load_string(std::string_view toml_text, const std::string& path);

}  // namespace atsgate::config
