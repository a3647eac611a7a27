#include "proxy/acme/order_flow.hpp"

#include "proxy/acme/base64url.hpp"
#include "proxy/acme/challenge.hpp"
#include "proxy/acme/https_url.hpp"
#include "proxy/acme/timing.hpp"
#include "util/text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace atsgate::acme {
namespace json = boost::json;

namespace {

constexpr std::string_view bad_nonce_type = "urn:ietf:params:acme:error:badNonce";
constexpr std::int64_t default_poll_ms = 1000;
// RFC 8555 8.1: a token has at least 128 bits of entropy, i.e. 22 base64url characters or more.
constexpr std::size_t min_token_chars = 22;
constexpr std::size_t max_token_chars = 256;

// Text from the CA (problem details, statuses, identifiers) as it may appear in an error, which
// is logged: no control bytes, bounded.
std::string ca_text(std::string_view s) { return util::log_safe(s, 200); }

std::optional<json::object> parse_object(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::string str(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string{};
}

// "detail" of an embedded problem object (an authorization's challenge "error", an order's "error").
std::string embedded_problem(const json::object& o) {
    const json::value* e = o.if_contains("error");
    if (e == nullptr || !e->is_object()) return {};
    std::string type = ca_text(str(e->as_object(), "type"));
    std::string detail = ca_text(str(e->as_object(), "detail"));
    if (type.empty()) return detail;
    return detail.empty() ? type : type + ": " + detail;
}

bool ascii_iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace

std::string_view to_string(challenge_kind k) noexcept {
    return k == challenge_kind::http_01 ? "http-01" : "tls-alpn-01";
}

std::optional<directory> parse_directory(std::string_view text, std::string_view directory_url) {
    auto o = parse_object(text);
    if (!o) return std::nullopt;
    directory d;
    d.new_nonce = str(*o, "newNonce");
    d.new_account = str(*o, "newAccount");
    d.new_order = str(*o, "newOrder");
    d.renewal_info = str(*o, "renewalInfo");
    // Without a directory URL: each URL on its own origin, i.e. https only.
    auto ok = [&](const std::string& u) { return on_origin(u, directory_url.empty() ? std::string_view(u) : directory_url); };
    if (!ok(d.new_nonce) || !ok(d.new_account) || !ok(d.new_order)) return std::nullopt;
    if (!d.renewal_info.empty() && !ok(d.renewal_info)) return std::nullopt;
    return d;
}

std::optional<problem> parse_problem(std::string_view text) {
    auto o = parse_object(text);
    if (!o) return std::nullopt;
    problem p{ca_text(str(*o, "type")), ca_text(str(*o, "detail"))};
    if (p.type.empty() && p.detail.empty()) return std::nullopt;
    return p;
}

order_flow::order_flow(const account_key& key, order_params p) : key_(key), p_(std::move(p)) {}

step order_flow::fail(std::string why, std::int64_t retry_after_s) {
    state_ = state::failed;
    step s;
    s.what = step::kind::failed;
    s.error = std::move(why);
    s.retry_after_s = retry_after_s;
    return s;
}

step order_flow::send_get(std::string url) {
    if (!on_origin(url, p_.directory_url)) return refuse_url(url);
    pending_ = pending{http_request::verb::get, std::move(url), {}, false, {}};
    bad_nonce_ = 0;
    step s;
    s.what = step::kind::send;
    s.request = http_request{http_request::verb::get, pending_.url, {}, {}};
    return s;
}

step order_flow::send_post(std::string url, std::string payload, bool use_jwk, std::string accept) {
    if (!on_origin(url, p_.directory_url)) return refuse_url(url);
    pending_ = pending{http_request::verb::post, std::move(url), std::move(payload), use_jwk, std::move(accept)};
    bad_nonce_ = 0;
    return sign_and_send();
}

step order_flow::sign_and_send() {
    step s;
    s.what = step::kind::send;
    if (pending_.method != http_request::verb::post) {
        s.request = http_request{pending_.method, pending_.url, {}, pending_.accept};
        return s;
    }
    if (nonce_.empty()) {
        fetching_nonce_ = true;
        s.request = http_request{http_request::verb::head, dir_.new_nonce, {}, {}};
        return s;
    }
    std::string err;
    std::string jws = key_.sign(pending_.url, nonce_, pending_.use_jwk ? std::string_view{} : std::string_view(kid_),
                                pending_.payload, err);
    nonce_.clear();  // a nonce is good for one request only
    if (jws.empty()) return fail("cannot sign the request to " + pending_.url + ": " + err);
    s.request = http_request{http_request::verb::post, pending_.url, std::move(jws), pending_.accept};
    return s;
}

step order_flow::refuse_url(std::string_view url) {
    return fail("refused to follow the CA to " + ca_text(url) + ": not an https URL on the origin of the directory " +
                p_.directory_url);
}

step order_flow::wait_then(std::int64_t ms, std::int64_t now_ms) {
    if (now_ms + ms > p_.deadline_ms)
        return fail("the order did not complete in time (last step: " + pending_.url + ")");
    step s;
    s.what = step::kind::wait;
    s.wait_ms = ms;
    return s;
}

std::string order_flow::describe(const http_response& r) const {
    std::string out = std::to_string(r.status);
    if (auto pr = parse_problem(r.body)) {
        if (!pr->type.empty()) out += " " + pr->type;
        if (!pr->detail.empty()) out += ": " + pr->detail;
    }
    return out;
}

step order_flow::problem_failure(const http_response& r, const std::string& what, std::int64_t now_ms) {
    const auto retry = parse_retry_after(r.retry_after, now_ms / 1000);
    return fail(what + " " + pending_.url + ": " + describe(r), retry ? *retry : -1);
}

step order_flow::start(std::int64_t now_ms) {
    if (p_.names.empty()) return fail("no names to order");
    if (now_ms >= p_.deadline_ms) return fail("the order deadline has already passed");
    state_ = state::directory;
    return send_get(p_.directory_url);
}

step order_flow::on_transport_error(const std::string& what, std::int64_t now_ms, double jitter) {
    if (finished()) return fail(what);
    if (++transport_errors_ > 3) return fail(what);
    return wait_then(backoff_ms(transport_errors_, 1000, 8000, jitter), now_ms);
}

step order_flow::resume(std::int64_t now_ms) {
    if (finished()) return fail("the order has already ended");
    if (now_ms > p_.deadline_ms) return fail("the order did not complete in time (last step: " + pending_.url + ")");
    if (fetching_nonce_) {
        step s;
        s.what = step::kind::send;
        s.request = http_request{http_request::verb::head, dir_.new_nonce, {}, {}};
        return s;
    }
    return sign_and_send();
}

step order_flow::published(std::int64_t now_ms) {
    if (state_ != state::publish) return fail("published() outside the publish step");
    if (now_ms > p_.deadline_ms) return fail("the order did not complete in time");
    state_ = state::respond;
    authz_index_ = 0;
    // RFC 8555 7.5.1: an empty JSON object tells the CA the response is ready.
    return send_post(challenge_urls_[0], "{}");
}

step order_flow::on_response(const http_response& r, std::int64_t now_ms) {
    if (finished()) return fail("response after the order ended");
    // RFC 8555 6.5.1: a nonce is base64url; clients must ignore invalid values. (It is JSON-quoted
    // into the next request either way; this keeps junk out of it.)
    if (!r.replay_nonce.empty() && r.replay_nonce.size() <= 256 && is_base64url(r.replay_nonce)) nonce_ = r.replay_nonce;
    if (fetching_nonce_) {
        fetching_nonce_ = false;
        if ((r.status != 200 && r.status != 204) || nonce_.empty())
            return fail("newNonce " + dir_.new_nonce + " gave no Replay-Nonce (HTTP " + std::to_string(r.status) + ")");
        transport_errors_ = 0;
        return sign_and_send();
    }
    if (now_ms > p_.deadline_ms) return fail("the order did not complete in time (last step: " + pending_.url + ")");
    transport_errors_ = 0;
    if (r.status >= 400) {
        auto pr = parse_problem(r.body);
        // RFC 8555 6.5: a badNonce error carries a fresh nonce; retry the same request with it.
        if (pr && pr->type == bad_nonce_type && pending_.method == http_request::verb::post &&
            bad_nonce_ < p_.max_bad_nonce) {
            ++bad_nonce_;
            const unsigned keep = bad_nonce_;
            step s = sign_and_send();
            bad_nonce_ = keep;
            return s;
        }
        // Rate limited or unavailable: wait as told, if that is short, then repeat the request.
        if (r.status == 429 || r.status == 503) {
            const auto retry = parse_retry_after(r.retry_after, now_ms / 1000);
            if (retry && *retry * 1000 <= p_.max_retry_after_ms && server_waits_ < 3) {
                ++server_waits_;
                return wait_then(*retry * 1000, now_ms);
            }
        }
        // RFC 9773 5: a CA may refuse "replaces" (already replaced, unknown certificate): order
        // without it rather than not renew at all.
        if (state_ == state::order && !p_.replaces.empty() && !tried_without_replaces_ && r.status != 429 &&
            r.status < 500) {
            tried_without_replaces_ = true;
            p_.replaces.clear();
            json::array ids;
            for (const auto& n : p_.names) ids.push_back(json::object{{"type", "dns"}, {"value", n}});
            return send_post(dir_.new_order, json::serialize(json::object{{"identifiers", std::move(ids)}}));
        }
        return problem_failure(r, pending_.method == http_request::verb::post ? "POST" : "GET", now_ms);
    }
    server_waits_ = 0;
    bad_nonce_ = 0;  // answered: a poll that repeats this request after a wait has its own retries
    return handle(r, now_ms);
}

step order_flow::handle(const http_response& r, std::int64_t now_ms) {
    switch (state_) {
        case state::directory: return on_directory(r);
        case state::account: return on_account(r);
        case state::order: return on_order(r, now_ms);
        case state::authz_fetch: return on_authz_fetch(r, now_ms);
        case state::respond: return on_respond();
        case state::authz_poll: return on_authz_poll(r, now_ms);
        case state::order_ready:
        case state::order_valid:
        case state::finalize: return on_order_status(r, now_ms);
        case state::download: return on_download(r);
        case state::publish:
        case state::done:
        case state::failed:
            break;
    }
    return fail("unexpected response in this state");
}

// directory: the directory object gives newNonce/newAccount/newOrder; register the account next.
step order_flow::on_directory(const http_response& r) {
    if (r.status != 200) return fail("GET " + pending_.url + ": HTTP " + std::to_string(r.status));
    if (!parse_directory(r.body))
        return fail("GET " + pending_.url + ": not an ACME directory (newNonce, newAccount, newOrder)");
    auto d = parse_directory(r.body, p_.directory_url);
    if (!d)
        return fail("GET " + pending_.url + ": the directory lists URLs on another origin; refused (every "
                    "ACME URL must be on the directory's https origin)");
    dir_ = std::move(*d);
    state_ = state::account;
    json::object payload{{"termsOfServiceAgreed", true}};
    if (!p_.contact.empty()) {
        json::array c;
        for (const auto& x : p_.contact) c.push_back(json::string(x));
        payload["contact"] = std::move(c);
    }
    return send_post(dir_.new_account, json::serialize(payload), true);
}

// account: the account URL (Location) becomes the kid; order the names next.
step order_flow::on_account(const http_response& r) {
    if (r.location.empty()) return fail("newAccount " + pending_.url + ": no account URL (Location)");
    if (!on_origin(r.location, p_.directory_url)) return refuse_url(r.location);
    auto acct = parse_object(r.body);
    if (acct && str(*acct, "status") != "" && str(*acct, "status") != "valid")
        return fail("the ACME account " + r.location + " is " + ca_text(str(*acct, "status")));
    kid_ = r.location;
    state_ = state::order;
    json::array ids;
    for (const auto& n : p_.names) ids.push_back(json::object{{"type", "dns"}, {"value", n}});
    json::object payload{{"identifiers", std::move(ids)}};
    if (!p_.replaces.empty()) payload["replaces"] = p_.replaces;
    return send_post(dir_.new_order, json::serialize(payload));
}

// order: the order URL, finalize URL and authorizations; fetch each authorization (or, for an
// order that is already ready or further, go on from its status).
step order_flow::on_order(const http_response& r, std::int64_t now_ms) {
    auto o = parse_object(r.body);
    if (!o || r.location.empty()) return fail("newOrder " + pending_.url + ": no order object or URL");
    if (!on_origin(r.location, p_.directory_url)) return refuse_url(r.location);
    order_url_ = r.location;
    finalize_url_ = str(*o, "finalize");
    if (finalize_url_.empty()) return fail("newOrder: the order has no finalize URL");
    if (!on_origin(finalize_url_, p_.directory_url)) return refuse_url(finalize_url_);
    authz_urls_.clear();
    if (const auto* a = o->if_contains("authorizations"); a != nullptr && a->is_array()) {
        // RFC 8555 7.1.3: one authorization per identifier; more is not an order for our names.
        if (a->as_array().size() > p_.names.size())
            return fail("newOrder: " + std::to_string(a->as_array().size()) + " authorizations for " +
                        std::to_string(p_.names.size()) + " names");
        for (const auto& u : a->as_array()) {
            if (!u.is_string() || !on_origin(u.as_string(), p_.directory_url))
                return refuse_url(u.is_string() ? std::string_view(u.as_string()) : std::string_view("(not a string)"));
            authz_urls_.emplace_back(u.as_string());
        }
    }
    const std::string status = str(*o, "status");
    if (status == "invalid") return fail("the new order is invalid: " + embedded_problem(*o));
    if (status == "ready" || status == "valid" || status == "processing") {
        state_ = state::order_ready;
        polls_ = 0;
        return on_order_status(r, now_ms);  // the order object is already at hand
    }
    if (authz_urls_.empty()) return fail("newOrder: a pending order without authorizations");
    state_ = state::authz_fetch;
    authz_index_ = 0;
    return send_post(authz_urls_[0], "");
}

// authz_fetch: one authorization; a pending one yields a challenge task, a valid one is skipped.
step order_flow::on_authz_fetch(const http_response& r, std::int64_t now_ms) {
    auto a = parse_object(r.body);
    if (!a) return fail("authorization " + pending_.url + ": not a JSON object");
    // The name comes from the CA: it must be one of the ordered names (the challenge
    // certificate or answer is made for it), each once. From here on `domain` is our own
    // spelling of it, never the CA's.
    std::string id_type, id_value;
    if (const auto* id = a->if_contains("identifier"); id != nullptr && id->is_object()) {
        id_type = str(id->as_object(), "type");
        id_value = str(id->as_object(), "value");
    }
    const auto ordered = std::find_if(p_.names.begin(), p_.names.end(),
                                      [&](const std::string& n) { return ascii_iequal(n, id_value); });
    if (id_type != "dns" || ordered == p_.names.end())
        return fail("authorization " + pending_.url + " is for " + ca_text(id_type) + " \"" + ca_text(id_value) +
                    "\", not one of the ordered names");
    const std::string domain = *ordered;
    if (std::find(authz_names_.begin(), authz_names_.end(), domain) != authz_names_.end())
        return fail("authorization " + pending_.url + ": a second authorization for " + domain);
    authz_names_.push_back(domain);
    const std::string status = str(*a, "status");
    if (status == "pending") {
        const json::value* ch = a->if_contains("challenges");
        const json::object* chosen = nullptr;
        if (ch != nullptr && ch->is_array())
            for (const auto& c : ch->as_array())
                if (c.is_object() && str(c.as_object(), "type") == to_string(p_.challenge)) chosen = &c.as_object();
        if (chosen == nullptr)
            return fail("the CA offers no " + std::string(to_string(p_.challenge)) + " challenge for " + domain);
        const std::string token = str(*chosen, "token");
        const std::string url = str(*chosen, "url");
        if (!is_base64url(token) || token.size() < min_token_chars || token.size() > max_token_chars ||
            !on_origin(url, p_.directory_url))
            return fail("authorization for " + domain + ": malformed challenge (token or URL)");
        tasks_.push_back({domain, token, key_authorization(token, key_.thumbprint()), p_.challenge});
        challenge_urls_.push_back(url);
        pending_authz_.push_back(pending_.url);
    } else if (status != "valid") {
        std::string why;
        if (const auto* ch = a->if_contains("challenges"); ch != nullptr && ch->is_array())
            for (const auto& c : ch->as_array())
                if (c.is_object() && why.empty()) why = embedded_problem(c.as_object());
        return fail("authorization for " + domain + " is " + (status.empty() ? "unknown" : ca_text(status)) +
                    (why.empty() ? "" : ": " + why));
    }
    if (++authz_index_ < authz_urls_.size()) return send_post(authz_urls_[authz_index_], "");
    return after_authz_fetch(now_ms);
}

// respond: the CA took the answer to one challenge; answer the next, then poll the authorizations.
step order_flow::on_respond() {
    if (++authz_index_ < challenge_urls_.size()) return send_post(challenge_urls_[authz_index_], "{}");
    state_ = state::authz_poll;
    authz_index_ = 0;
    polls_ = 0;
    return send_post(pending_authz_[0], "");
}

// authz_poll: one pending authorization, polled until valid (then the next, then the order).
step order_flow::on_authz_poll(const http_response& r, std::int64_t now_ms) {
    auto a = parse_object(r.body);
    if (!a) return fail("authorization " + pending_.url + ": not a JSON object");
    const std::string status = ca_text(str(*a, "status"));
    const std::string& domain = tasks_[authz_index_].domain;  // the name this authorization was for
    if (status == "valid") {
        polls_ = 0;
        if (++authz_index_ < pending_authz_.size()) return send_post(pending_authz_[authz_index_], "");
        state_ = state::order_ready;
        return send_post(order_url_, "");
    }
    if (status == "pending" || status == "processing") {
        if (++polls_ > p_.max_polls) return fail("authorization for " + domain + " still " + status + " after " +
                                                 std::to_string(p_.max_polls) + " polls");
        const auto retry = parse_retry_after(r.retry_after, now_ms / 1000);
        return wait_then(retry ? std::min(*retry * 1000, p_.max_retry_after_ms) : default_poll_ms, now_ms);
    }
    std::string why;
    if (const auto* ch = a->if_contains("challenges"); ch != nullptr && ch->is_array())
        for (const auto& c : ch->as_array())
            if (c.is_object() && str(c.as_object(), "type") == to_string(p_.challenge))
                why = embedded_problem(c.as_object());
    return fail(std::string(to_string(p_.challenge)) + " validation of " + domain + " failed (" + status + ")" +
                (why.empty() ? "" : ": " + why));
}

// order_ready, finalize, order_valid: the order object; finalize once ready, download once valid,
// else poll it.
step order_flow::on_order_status(const http_response& r, std::int64_t now_ms) {
    auto o = parse_object(r.body);
    if (!o) return fail("order " + pending_.url + ": not a JSON object");
    const std::string status = ca_text(str(*o, "status"));
    if (status == "invalid") return fail("the order " + order_url_ + " is invalid: " + embedded_problem(*o));
    if (status == "ready" && state_ == state::order_ready) {
        state_ = state::finalize;
        return send_post(finalize_url_, json::serialize(json::object{{"csr", base64url(p_.csr_der)}}));
    }
    if (status == "valid") {
        certificate_url_ = str(*o, "certificate");
        if (certificate_url_.empty()) return fail("the valid order has no certificate URL");
        if (!on_origin(certificate_url_, p_.directory_url)) return refuse_url(certificate_url_);
        state_ = state::download;
        return send_post(certificate_url_, "", false, "application/pem-certificate-chain");
    }
    if (status == "pending" || status == "processing" || status == "ready") {
        if (state_ == state::finalize) state_ = state::order_valid;
        if (++polls_ > p_.max_polls)
            return fail("the order is still " + status + " after " + std::to_string(p_.max_polls) + " polls");
        pending_ = pending{http_request::verb::post, order_url_, {}, false, {}};
        const auto retry = parse_retry_after(r.retry_after, now_ms / 1000);
        return wait_then(retry ? std::min(*retry * 1000, p_.max_retry_after_ms) : default_poll_ms, now_ms);
    }
    return fail("the order " + order_url_ + " has status \"" + status + "\"");
}

// download: the PEM chain; done.
step order_flow::on_download(const http_response& r) {
    if (r.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        return fail("the certificate " + certificate_url_ + " is not a PEM chain");
    state_ = state::done;
    step s;
    s.what = step::kind::done;
    s.certificate_pem = r.body;
    return s;
}

step order_flow::after_authz_fetch(std::int64_t) {
    if (tasks_.empty()) {  // every authorization is already valid (reused)
        state_ = state::order_ready;
        polls_ = 0;
        return send_post(order_url_, "");
    }
    state_ = state::publish;
    step s;
    s.what = step::kind::publish;
    s.tasks = tasks_;
    return s;
}

}  // namespace atsgate::acme
