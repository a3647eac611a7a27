#pragma once
// A control-plane problem report: config, certificate loading, snapshot build.
// Control-plane code collects every problem as a diagnostic and returns them all; it never stops
// at the first one.

#include <cstdint>
#include <string>
#include <vector>

namespace atsgate::config {

// Where a value came from. line/column are 1-based; 0 means "unknown" (e.g. a default value).
struct source_pos {
    std::string file;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

enum class severity {
    error,    // the config cannot be used
    warning,  // the config works but the operator should act
};

struct diagnostic {
    severity level = severity::error;
    source_pos where;      // file, line, column of the offending key or value
    std::string key_path;  // e.g. "listener[1].min_version"; empty when the problem is the whole file
    std::string message;   // e.g. `listener[1].min_version is "1.1", must be "1.2" or "1.3"`
    std::string hint;      // optional remediation / rule, rendered in parentheses

    // "proxy.toml:14:9: listener[1].min_version is "1.1", must be "1.2" or "1.3" (ATS: TLS 1.2+)".
    // Missing line/column collapse to "proxy.toml: ..."; a warning gets "warning: " after the position.
    std::string to_string() const;
};

using diagnostics = std::vector<diagnostic>;

inline bool has_errors(const diagnostics& d) {
    for (const auto& x : d)
        if (x.level == severity::error) return true;
    return false;
}

}  // namespace atsgate::config
