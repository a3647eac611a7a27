#pragma once
// The challenges being validated right now, published by the ACME task and looked up by the
// listeners: TLS-ALPN-01 certificates by domain (the https listener's ClientHello gate, on an
// "acme-tls/1" handshake) and HTTP-01 key authorizations by token (the plaintext listener, on
// GET /.well-known/acme-challenge/<token>). Thread-safe: one mutex; lookups happen only for ACME
// validation traffic, never on the ordinary request path.

#include "proxy/acme/challenge.hpp"
#include "proxy/acme/order_flow.hpp"
#include "tls/handshake_gate.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::acme {

class challenge_board : public tls::acme_challenges {
public:
    // tls::acme_challenges: the TLS-ALPN-01 certificate for `sni`, for the listeners' gate.
    bool find(std::string_view sni, ossl::ptr<X509>& cert, ossl::ptr<EVP_PKEY>& key) const override;

    // Installs `tasks` (TLS-ALPN-01 tasks get their validation certificate built here). False with
    // `err` if a certificate cannot be built; nothing is installed then.
    bool publish(const std::vector<challenge_task>& tasks, std::int64_t now, std::string& err);
    // Removes `tasks` (tokens and domains) again.
    void withdraw(const std::vector<challenge_task>& tasks);

    // The TLS-ALPN-01 certificate for `domain` (case-insensitive), or null.
    std::shared_ptr<const challenge_certificate> tls_alpn01(std::string_view domain) const;
    // The HTTP-01 key authorization for `token`, if published.
    std::optional<std::string> http01(std::string_view token) const;
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const challenge_certificate>, std::less<>> alpn_;  // lower-case domain
    std::map<std::string, std::string, std::less<>> http_;                                    // token -> key authz
};

}  // namespace atsgate::acme
