#include "config/diagnostic.hpp"

namespace atsgate::config {

std::string diagnostic::to_string() const {
    std::string out = where.file.empty() ? std::string("<config>") : where.file;
    if (where.line != 0) {
        out += ':';
        out += std::to_string(where.line);
        if (where.column != 0) {
            out += ':';
            out += std::to_string(where.column);
        }
    }
    out += ": ";
    if (level == severity::warning) out += "warning: ";
    out += message;
    if (!hint.empty()) {
        out += " (";
        out += hint;
        out += ')';
    }
    return out;
}

}  // namespace atsgate::config
