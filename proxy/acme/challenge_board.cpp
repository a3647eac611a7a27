#include "proxy/acme/challenge_board.hpp"

#include <algorithm>
#include <cctype>

namespace atsgate::acme {
namespace {
std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}
}  // namespace

bool challenge_board::publish(const std::vector<challenge_task>& tasks, std::int64_t now, std::string& err) {
    std::vector<std::pair<std::string, std::shared_ptr<const challenge_certificate>>> certs;
    for (const auto& t : tasks) {
        if (t.kind != challenge_kind::tls_alpn_01) continue;
        auto c = tls_alpn01_certificate(t.domain, t.key_authorization, now, err);
        if (!c) return false;
        certs.emplace_back(lower(t.domain), std::make_shared<const challenge_certificate>(std::move(*c)));
    }
    std::lock_guard lock(mutex_);
    for (auto& [d, c] : certs) alpn_[d] = std::move(c);
    for (const auto& t : tasks)
        if (t.kind == challenge_kind::http_01) http_[t.token] = t.key_authorization;
    return true;
}

void challenge_board::withdraw(const std::vector<challenge_task>& tasks) {
    std::lock_guard lock(mutex_);
    for (const auto& t : tasks) {
        if (t.kind == challenge_kind::http_01)
            http_.erase(t.token);
        else
            alpn_.erase(lower(t.domain));
    }
}

std::shared_ptr<const challenge_certificate> challenge_board::tls_alpn01(std::string_view domain) const {
    const std::string d = lower(domain);
    std::lock_guard lock(mutex_);
    auto it = alpn_.find(d);
    return it == alpn_.end() ? nullptr : it->second;
}

bool challenge_board::find(std::string_view sni, ossl::ptr<X509>& cert, ossl::ptr<EVP_PKEY>& key) const {
    auto c = tls_alpn01(sni);
    if (!c) return false;
    cert = ossl::up_ref(c->cert.get());
    key = ossl::up_ref(c->key.get());
    return true;
}

std::optional<std::string> challenge_board::http01(std::string_view token) const {
    std::lock_guard lock(mutex_);
    auto it = http_.find(token);
    if (it == http_.end()) return std::nullopt;
    return it->second;
}

std::size_t challenge_board::size() const {
    std::lock_guard lock(mutex_);
    return alpn_.size() + http_.size();
}

}  // namespace atsgate::acme
