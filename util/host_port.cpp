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

std::string_view host_without_port(std::string_view authority) noexcept {
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
    }
    const auto colon = authority.rfind(':');
    return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

split_authority split_host_port(std::string_view authority) noexcept {
    std::size_t colon = std::string_view::npos;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close != std::string_view::npos && close + 1 < authority.size() && authority[close + 1] == ':')
            colon = close + 1;
    } else {
        colon = authority.find(':');
    }
    return {authority.substr(0, colon), colon == std::string_view::npos ? std::string_view{} : authority.substr(colon + 1)};
}

}  // namespace atsgate::util
