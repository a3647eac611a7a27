#include "util/host_port.hpp"

namespace atsgate::util {

std::string bracketed(std::string_view host) {
    if (host.find(':') == std::string_view::npos) return std::string(host);
    std::string out;
    out.reserve(host.size() + 2);
    out += '[';
    out += host;
    out += ']';
    return out;
}

std::string host_port(std::string_view host, std::uint16_t port) {
    return bracketed(host) + ":" + std::to_string(port);
}

std::string authority(std::string_view scheme, std::string_view host, std::uint16_t port) {
    const bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    return default_port ? bracketed(host) : host_port(host, port);
}

}  // namespace atsgate::util
