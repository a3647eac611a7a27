#include "proxy/proxyproto/errc.hpp"

#include <string>

namespace atsgate::proxyproto {

namespace {
class category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "atsgate.proxyproto"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::ok: return "ok";
            case errc::not_proxy_protocol: return "no PROXY protocol header";
            case errc::v1_too_long: return "PROXY v1 header without CRLF within 107 bytes";
            case errc::v1_bad_protocol: return "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN";
            case errc::v1_bad_address: return "PROXY v1 address invalid or of the wrong family";
            case errc::v1_bad_port: return "PROXY v1 port invalid";
            case errc::v1_malformed: return "PROXY v1 header malformed";
            case errc::v2_bad_version: return "PROXY v2 version is not 2";
            case errc::v2_bad_command: return "PROXY v2 command is neither LOCAL nor PROXY";
            case errc::v2_bad_family: return "PROXY v2 address family unknown";
            case errc::v2_bad_transport: return "PROXY v2 transport is not a stream";
            case errc::v2_bad_length: return "PROXY v2 length shorter than its address block";
            case errc::v2_too_long: return "PROXY v2 header too long";
            case errc::v2_bad_checksum: return "PROXY v2 CRC32C checksum mismatch";
        }
        return "unknown PROXY protocol error";
    }
};
}  // namespace

const boost::system::error_category& category() noexcept {
    static const category_impl instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    switch (e) {
        case errc::ok: return "ok";
        case errc::not_proxy_protocol: return "not_proxy_protocol";
        case errc::v1_too_long: return "v1_too_long";
        case errc::v1_bad_protocol: return "v1_bad_protocol";
        case errc::v1_bad_address: return "v1_bad_address";
        case errc::v1_bad_port: return "v1_bad_port";
        case errc::v1_malformed: return "v1_malformed";
        case errc::v2_bad_version: return "v2_bad_version";
        case errc::v2_bad_command: return "v2_bad_command";
        case errc::v2_bad_family: return "v2_bad_family";
        case errc::v2_bad_transport: return "v2_bad_transport";
        case errc::v2_bad_length: return "v2_bad_length";
        case errc::v2_too_long: return "v2_too_long";
        case errc::v2_bad_checksum: return "v2_bad_checksum";
    }
    return "unknown";
}

}  // namespace atsgate::proxyproto
