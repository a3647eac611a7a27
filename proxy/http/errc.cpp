#include "proxy/http/errc.hpp"

#include <string>

namespace atsgate::http {

namespace {
class category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "atsgate.http"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::ok: return "ok";
            case errc::bad_request: return "malformed request";
            case errc::head_too_large: return "request head too large";
            case errc::too_many_headers: return "too many header fields";
            case errc::body_too_large: return "request body too large";
            case errc::bad_chunk: return "invalid chunked encoding";
            case errc::smuggling: return "ambiguous message framing";
            case errc::missing_host: return "missing or repeated Host header";
            case errc::bad_target: return "request target is not origin-form";
            case errc::method_not_allowed: return "method not allowed";
            case errc::unsupported_version: return "unsupported HTTP version";
            case errc::bad_response: return "malformed response from upstream";
            case errc::response_head_too_large: return "upstream response head too large";
        }
        return "unknown http error";
    }
};
}  // namespace

const boost::system::error_category& category() noexcept {
    static const category_impl instance;
    return instance;
}

std::uint16_t status_for(errc e) noexcept {
    switch (e) {
        case errc::ok: return 200;
        case errc::head_too_large:
        case errc::too_many_headers: return 431;
        case errc::body_too_large: return 413;
        case errc::method_not_allowed: return 405;
        case errc::unsupported_version: return 505;
        case errc::bad_response:
        case errc::response_head_too_large: return 502;
        case errc::bad_request:
        case errc::bad_chunk:
        case errc::smuggling:
        case errc::missing_host:
        case errc::bad_target: return 400;
    }
    return 400;
}

}  // namespace atsgate::http
