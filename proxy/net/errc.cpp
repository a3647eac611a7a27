#include "proxy/net/errc.hpp"

#include <string>

namespace atsgate::net {

namespace {
class category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "atsgate.net"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::ok: return "ok";
            case errc::tls_handshake_failed: return "TLS handshake failed";
            case errc::tls_protocol_error: return "TLS protocol error";
            case errc::truncated: return "connection closed without TLS close_notify";
            case errc::tls_resource: return "could not allocate TLS state";
            case errc::timeout: return "timed out";
        }
        return "unknown net error";
    }
};
}  // namespace

const boost::system::error_category& category() noexcept {
    static const category_impl instance;
    return instance;
}

}  // namespace atsgate::net
