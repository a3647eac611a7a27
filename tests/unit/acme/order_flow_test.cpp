// The order state machine against a scripted CA: every request is checked (method, URL, JWS
// signature, nonce, kid or jwk, payload), and each test changes one answer of the CA to reach one
// transition: the happy paths, badNonce, Retry-After, reused and failed authorizations, malformed
// challenges, replaces refused, transport errors, the deadline and the poll cap.

#include "proxy/acme/base64url.hpp"
#include "proxy/acme/challenge.hpp"
#include "proxy/acme/order_flow.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <functional>
#include <algorithm>
#include <map>
#include <set>

using namespace atsgate;
using namespace atsgate::acme;
namespace json = boost::json;

namespace {

const std::string ca = "https://ca.test";
const std::string dir_url = ca + "/dir";
// Tokens carry at least 128 bits (RFC 8555 8.1): 22 base64url characters or more, as a real CA's 43.
const std::string token_tail = "-0123456789abcdefghijklmnopqrstuvwxyz";

account_key make_account() {
    std::string err;
    auto k = account_key::from_key(generate_key(key_type::ecdsa_p256, err), err);
    REQUIRE(k);
    return std::move(*k);
}

struct seen_request {
    http_request::verb method;
    std::string url;
    std::string nonce;    // from the protected header
    std::string kid;      // "" when signed with the JWK
    bool jwk = false;
    std::string payload;  // decoded
};

// A scripted ACME CA. Handlers can be replaced per URL; the default ones issue a certificate for
// every order, with each authorization pending until its challenge was answered, then one poll
// "processing" before "valid".
struct fake_ca {
    std::vector<seen_request> log;
    int nonce_counter = 0;
    std::map<std::string, std::function<http_response(const seen_request&)>> handlers;
    std::map<std::string, int> authz_polls;
    std::map<std::string, bool> answered;  // challenge URL -> POSTed {}
    std::vector<std::string> names{"a.example.test", "b.example.test"};
    std::string order_status = "pending";
    int order_polls_after_finalize = 1;
    std::string directory_json = R"({"newNonce":"https://ca.test/nonce","newAccount":"https://ca.test/acct",
        "newOrder":"https://ca.test/order","renewalInfo":"https://ca.test/ari","meta":{"termsOfService":"x"}})";

    std::string nonce() { return "n" + std::to_string(++nonce_counter); }

    http_response ok(int status, std::string body, std::string location = {}) {
        http_response r;
        r.status = status;
        r.body = std::move(body);
        r.location = std::move(location);
        r.replay_nonce = nonce();
        return r;
    }
    http_response problem(int status, std::string type, std::string detail) {
        return ok(status, json::serialize(json::object{{"type", type}, {"detail", detail}}));
    }

    std::string authz_json(const std::string& name, const std::string& status) {
        json::object chal_alpn{{"type", "tls-alpn-01"}, {"url", ca + "/chal/alpn/" + name},
                               {"token", "tok-alpn-" + name.substr(0, 1) + token_tail}, {"status", "pending"}};
        json::object chal_http{{"type", "http-01"}, {"url", ca + "/chal/http/" + name},
                               {"token", "tok-http-" + name.substr(0, 1) + token_tail}, {"status", "pending"}};
        return json::serialize(json::object{{"identifier", json::object{{"type", "dns"}, {"value", name}}},
                                            {"status", status},
                                            {"challenges", json::array{chal_http, chal_alpn}}});
    }
    std::string order_json() {
        json::array authz;
        for (const auto& n : names) authz.push_back(json::string(ca + "/authz/" + n));
        json::object o{{"status", order_status}, {"authorizations", authz}, {"finalize", ca + "/finalize"}};
        if (order_status == "valid") o["certificate"] = ca + "/cert";
        return json::serialize(o);
    }

    fake_ca() {
        handlers[dir_url] = [this](const seen_request&) {
            auto r = ok(200, directory_json);
            r.replay_nonce.clear();  // as pebble and Boulder: no nonce on the directory
            return r;
        };
        handlers[ca + "/nonce"] = [this](const seen_request&) { return ok(200, ""); };
        handlers[ca + "/acct"] = [this](const seen_request&) {
            return ok(201, R"({"status":"valid"})", ca + "/acct/1");
        };
        handlers[ca + "/order"] = [this](const seen_request&) { return ok(201, order_json(), ca + "/order/1"); };
        for (const auto& n : names) {
            handlers[ca + "/authz/" + n] = [this, n](const seen_request&) {
                const bool done = answered[ca + "/chal/alpn/" + n] || answered[ca + "/chal/http/" + n];
                if (!done) return ok(200, authz_json(n, "pending"));
                // One "pending" poll after the answer, with Retry-After, then valid.
                if (authz_polls[n]++ == 0) {
                    auto r = ok(200, authz_json(n, "pending"));
                    r.retry_after = "2";
                    return r;
                }
                return ok(200, authz_json(n, "valid"));
            };
            for (const char* kind : {"alpn", "http"}) {
                const std::string u = ca + "/chal/" + kind + "/" + n;
                handlers[u] = [this, u](const seen_request& r) {
                    REQUIRE(r.payload == "{}");
                    answered[u] = true;
                    return ok(200, R"({"status":"processing"})");
                };
            }
        }
        handlers[ca + "/order/1"] = [this](const seen_request&) {
            bool all = true;
            for (const auto& n : names) all = all && authz_polls[n] >= 2;
            if (order_status == "pending" && all) order_status = "ready";
            if (order_status == "processing" && order_polls_after_finalize-- <= 0) order_status = "valid";
            auto r = ok(200, order_json(), ca + "/order/1");
            if (order_status == "processing") r.retry_after = "1";
            return r;
        };
        handlers[ca + "/finalize"] = [this](const seen_request& r) {
            auto p = json::parse(r.payload).as_object();
            REQUIRE(base64url_decode(p["csr"].as_string()) == std::string("CSR-DER"));
            order_status = "processing";
            return ok(200, order_json(), ca + "/order/1");
        };
        handlers[ca + "/cert"] = [this](const seen_request&) {
            return ok(200, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        };
    }

    // Checks the request like a CA would (signature, nonce) and answers it.
    http_response answer(const http_request& req, const account_key& key, std::set<std::string>& issued_nonces) {
        seen_request s{req.method, req.url, {}, {}, false, {}};
        if (req.method == http_request::verb::post) {
            auto o = json::parse(req.body).as_object();
            const std::string prot(o["protected"].as_string()), payload(o["payload"].as_string());
            auto header = json::parse(*base64url_decode(prot)).as_object();
            REQUIRE(header["url"].as_string() == req.url);
            s.nonce = std::string(header["nonce"].as_string());
            if (header.contains("kid")) s.kid = std::string(header["kid"].as_string());
            s.jwk = header.contains("jwk");
            REQUIRE(s.jwk != !s.kid.empty());
            if (s.jwk) REQUIRE(json::serialize(header["jwk"]) == key.jwk());
            s.payload = *base64url_decode(payload);
            // Every nonce is used once and was issued by us.
            REQUIRE(issued_nonces.erase(s.nonce) == 1);
        }
        log.push_back(s);
        auto it = handlers.find(req.url);
        REQUIRE(it != handlers.end());
        http_response r = it->second(s);
        if (!r.replay_nonce.empty()) issued_nonces.insert(r.replay_nonce);
        return r;
    }
};

struct run_result {
    step last;
    std::vector<std::int64_t> waits;
    std::vector<challenge_task> published;
    int steps = 0;
};

// Drives `flow` against `ca` with a fake clock; `transport_fail(n)` makes request n fail in transport.
run_result drive(order_flow& flow, fake_ca& fca, const account_key& key, std::int64_t& now,
                 std::function<bool(int)> transport_fail = {}) {
    run_result out;
    std::set<std::string> nonces;
    step s = flow.start(now);
    int request_no = 0;
    for (; out.steps < 500; ++out.steps) {
        if (s.what == step::kind::send) {
            if (transport_fail && transport_fail(request_no++)) {
                s = flow.on_transport_error("connect ca.test:443: Connection refused", now, 0.0);
                continue;
            }
            s = flow.on_response(fca.answer(s.request, key, nonces), now);
        } else if (s.what == step::kind::wait) {
            out.waits.push_back(s.wait_ms);
            now += s.wait_ms;
            s = flow.resume(now);
        } else if (s.what == step::kind::publish) {
            out.published = s.tasks;
            s = flow.published(now);
        } else {
            break;
        }
    }
    out.last = s;
    return out;
}

order_params params(std::int64_t now, challenge_kind kind = challenge_kind::tls_alpn_01) {
    order_params p;
    p.directory_url = dir_url;
    p.names = {"a.example.test", "b.example.test"};
    p.challenge = kind;
    p.contact = {"mailto:ops@example.test"};
    p.csr_der = "CSR-DER";
    p.deadline_ms = now + 600'000;
    return p;
}

std::vector<std::string> urls(const fake_ca& fca) {
    std::vector<std::string> out;
    for (const auto& r : fca.log) out.push_back((r.method == http_request::verb::head ? "HEAD " : r.method == http_request::verb::get ? "GET " : "POST ") + r.url);
    return out;
}

}  // namespace

TEST_CASE("order flow: TLS-ALPN-01 happy path, every request checked", "[acme][order]") {
    const account_key key = make_account();
    for (challenge_kind kind : {challenge_kind::tls_alpn_01, challenge_kind::http_01}) {
        INFO(to_string(kind));
        fake_ca fca;
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now, kind));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::done);
        CHECK(r.last.certificate_pem.find("BEGIN CERTIFICATE") != std::string::npos);
        const std::string k = kind == challenge_kind::tls_alpn_01 ? "alpn" : "http";
        CHECK(urls(fca) == std::vector<std::string>{
                               "GET " + dir_url, "HEAD " + ca + "/nonce", "POST " + ca + "/acct",
                               "POST " + ca + "/order", "POST " + ca + "/authz/a.example.test",
                               "POST " + ca + "/authz/b.example.test", "POST " + ca + "/chal/" + k + "/a.example.test",
                               "POST " + ca + "/chal/" + k + "/b.example.test", "POST " + ca + "/authz/a.example.test",
                               "POST " + ca + "/authz/a.example.test", "POST " + ca + "/authz/b.example.test",
                               "POST " + ca + "/authz/b.example.test", "POST " + ca + "/order/1",
                               "POST " + ca + "/finalize", "POST " + ca + "/order/1", "POST " + ca + "/order/1",
                               "POST " + ca + "/cert"});
        // newAccount is signed with the JWK and agrees to the terms; later requests use the kid.
        CHECK(fca.log[2].jwk);
        auto acct = json::parse(fca.log[2].payload).as_object();
        CHECK(acct["termsOfServiceAgreed"].as_bool());
        CHECK(acct["contact"].as_array()[0].as_string() == "mailto:ops@example.test");
        for (std::size_t i = 3; i < fca.log.size(); ++i) CHECK(fca.log[i].kid == ca + "/acct/1");
        auto order = json::parse(fca.log[3].payload).as_object();
        CHECK(order["identifiers"].as_array().size() == 2);
        CHECK(!order.contains("replaces"));
        // POST-as-GET has an empty payload.
        CHECK(fca.log[4].payload.empty());
        CHECK(fca.log.back().payload.empty());
        // The published tasks carry the key authorizations for this account.
        REQUIRE(r.published.size() == 2);
        CHECK(r.published[0].domain == "a.example.test");
        CHECK(r.published[0].kind == kind);
        CHECK(r.published[0].key_authorization == r.published[0].token + "." + key.thumbprint());
        CHECK(flow.tasks().size() == 2);
        // Retry-After 2 s on the authorization polls; after finalize the default 1 s, then Retry-After 1 s.
        CHECK(r.waits == std::vector<std::int64_t>{2000, 2000, 1000, 1000});
        CHECK(flow.account_url() == ca + "/acct/1");
        CHECK(flow.dir().renewal_info == ca + "/ari");
    }
}

TEST_CASE("order flow: badNonce is retried with the fresh nonce, a bounded number of times", "[acme][order]") {
    const account_key key = make_account();
    fake_ca fca;
    int bad = 2;
    auto normal = fca.handlers[ca + "/acct"];
    fca.handlers[ca + "/acct"] = [&](const seen_request& r) {
        if (bad-- > 0) return fca.problem(400, "urn:ietf:params:acme:error:badNonce", "JWS has an invalid anti-replay nonce");
        return normal(r);
    };
    std::int64_t now = 1'800'000'000'000;
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    CHECK(r.last.what == step::kind::done);
    // Three newAccount POSTs, each with a different nonce (the one from the error response).
    std::vector<std::string> acct_nonces;
    for (const auto& s : fca.log)
        if (s.url == ca + "/acct") acct_nonces.push_back(s.nonce);
    REQUIRE(acct_nonces.size() == 3);
    CHECK(acct_nonces[0] != acct_nonces[1]);
    CHECK(acct_nonces[1] != acct_nonces[2]);

    fake_ca always;
    always.handlers[ca + "/acct"] = [&](const seen_request&) {
        return always.problem(400, "urn:ietf:params:acme:error:badNonce", "bad nonce");
    };
    order_flow flow2(key, params(now));
    auto r2 = drive(flow2, always, key, now);
    REQUIRE(r2.last.what == step::kind::failed);
    CHECK(r2.last.error == "POST " + ca + "/acct: 400 urn:ietf:params:acme:error:badNonce: bad nonce");
    CHECK(std::count_if(always.log.begin(), always.log.end(), [](const seen_request& s) { return s.url == ca + "/acct"; }) == 6);
}

TEST_CASE("order flow: the badNonce retries are counted per request, so polls after retries go on",
          "[acme][order]") {
    // Every POST is answered badNonce three times before its real answer (a CA refusing many
    // nonces, as pebble with PEBBLE_WFE_NONCEREJECT=30 now and then). The polls of an
    // authorization and of the order repeat one request after a wait: each poll has its own five
    // retries. (They once shared them with the poll before, and the order failed on a poll.)
    const account_key key = make_account();
    fake_ca fca;
    std::map<std::string, int> posts;
    for (auto& [url, handler] : fca.handlers) {
        if (url == dir_url || url == ca + "/nonce") continue;
        auto normal = handler;
        handler = [&fca, &posts, normal, u = url](const seen_request& r) {
            if (posts[u]++ % 4 != 3)
                return fca.problem(400, "urn:ietf:params:acme:error:badNonce", "JWS has an invalid anti-replay nonce");
            return normal(r);
        };
    }
    std::int64_t now = 1'800'000'000'000;
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    INFO(r.last.error);
    CHECK(r.last.what == step::kind::done);
    CHECK(posts[ca + "/authz/a.example.test"] >= 8);  // polled: at least two answered requests
    CHECK(posts[ca + "/order/1"] >= 8);
}

TEST_CASE("order flow: the nonce is fetched again when a response carried none", "[acme][order]") {
    const account_key key = make_account();
    fake_ca fca;
    auto normal = fca.handlers[ca + "/acct"];
    fca.handlers[ca + "/acct"] = [&](const seen_request& r) {
        auto resp = normal(r);
        resp.replay_nonce.clear();
        return resp;
    };
    std::int64_t now = 1'800'000'000'000;
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    CHECK(r.last.what == step::kind::done);
    CHECK(urls(fca)[3] == "HEAD " + ca + "/nonce");
}

TEST_CASE("order flow: Retry-After on 429/503: short waits are honoured, long ones end the order", "[acme][order]") {
    const account_key key = make_account();
    std::int64_t now = 1'800'000'000'000;
    {
        fake_ca fca;
        int limited = 1;
        auto normal = fca.handlers[ca + "/order"];
        fca.handlers[ca + "/order"] = [&](const seen_request& r) {
            if (limited-- > 0) {
                auto resp = fca.problem(503, "urn:ietf:params:acme:error:rateLimited", "slow down");
                resp.retry_after = "3";
                return resp;
            }
            return normal(r);
        };
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        CHECK(r.last.what == step::kind::done);
        REQUIRE(!r.waits.empty());
        CHECK(r.waits[0] == 3000);
    }
    {
        fake_ca fca;
        fca.handlers[ca + "/order"] = [&](const seen_request&) {
            auto resp = fca.problem(429, "urn:ietf:params:acme:error:rateLimited", "too many certificates");
            resp.retry_after = "3600";
            return resp;
        };
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.retry_after_s == 3600);
        CHECK(r.last.error.find("rateLimited: too many certificates") != std::string::npos);
    }
}

TEST_CASE("order flow: authorizations already valid are not challenged again", "[acme][order]") {
    const account_key key = make_account();
    fake_ca fca;
    for (const auto& n : fca.names) {
        fca.authz_polls[n] = 2;
        fca.handlers[ca + "/authz/" + n] = [&fca, n](const seen_request&) { return fca.ok(200, fca.authz_json(n, "valid")); };
    }
    std::int64_t now = 1'800'000'000'000;
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    CHECK(r.last.what == step::kind::done);
    CHECK(r.published.empty());
    for (const auto& s : fca.log) CHECK(s.url.find("/chal/") == std::string::npos);
}

TEST_CASE("order flow: failures are reported with the CA's reason", "[acme][order]") {
    const account_key key = make_account();
    std::int64_t now = 1'800'000'000'000;
    SECTION("validation fails") {
        fake_ca fca;
        fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request&) {
            if (!fca.answered[ca + "/chal/alpn/a.example.test"]) return fca.ok(200, fca.authz_json("a.example.test", "pending"));
            auto a = json::parse(fca.authz_json("a.example.test", "invalid")).as_object();
            a["challenges"].as_array()[1].as_object()["error"] =
                json::object{{"type", "urn:ietf:params:acme:error:connection"}, {"detail", "Connection refused"}};
            return fca.ok(200, json::serialize(a));
        };
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error ==
              "tls-alpn-01 validation of a.example.test failed (invalid): urn:ietf:params:acme:error:connection: Connection refused");
    }
    SECTION("no challenge of the configured type") {
        fake_ca fca;
        fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request&) {
            auto a = json::parse(fca.authz_json("a.example.test", "pending")).as_object();
            a["challenges"].as_array().pop_back();  // only http-01 left
            return fca.ok(200, json::serialize(a));
        };
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "the CA offers no tls-alpn-01 challenge for a.example.test");
    }
    SECTION("a token outside the base64url alphabet") {
        fake_ca fca;
        fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request&) {
            auto a = json::parse(fca.authz_json("a.example.test", "pending")).as_object();
            a["challenges"].as_array()[0].as_object()["token"] = "../../etc/passwd";
            return fca.ok(200, json::serialize(a));
        };
        order_flow flow(key, params(now, challenge_kind::http_01));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "authorization for a.example.test: malformed challenge (token or URL)");
        CHECK(r.published.empty());
    }
    SECTION("not a directory") {
        fake_ca fca;
        fca.directory_json = R"({"hello":"world"})";
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "GET " + dir_url + ": not an ACME directory (newNonce, newAccount, newOrder)");
    }
    SECTION("the order becomes invalid at finalize") {
        fake_ca fca;
        fca.handlers[ca + "/finalize"] = [&](const seen_request&) {
            return fca.problem(403, "urn:ietf:params:acme:error:badCSR", "CSR names do not match");
        };
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "POST " + ca + "/finalize: 403 urn:ietf:params:acme:error:badCSR: CSR names do not match");
    }
    SECTION("the account is deactivated") {
        fake_ca fca;
        fca.handlers[ca + "/acct"] = [&](const seen_request&) { return fca.ok(200, R"({"status":"deactivated"})", ca + "/acct/1"); };
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "the ACME account " + ca + "/acct/1 is deactivated");
    }
    SECTION("the download is not PEM") {
        fake_ca fca;
        fca.handlers[ca + "/cert"] = [&](const seen_request&) { return fca.ok(200, "<html>"); };
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "the certificate " + ca + "/cert is not a PEM chain");
    }
}

TEST_CASE("order flow: ARI replaces is sent, and dropped once when the CA refuses it", "[acme][order][ari]") {
    const account_key key = make_account();
    std::int64_t now = 1'800'000'000'000;
    fake_ca fca;
    int refused = 0;
    auto normal = fca.handlers[ca + "/order"];
    fca.handlers[ca + "/order"] = [&](const seen_request& r) {
        auto p = json::parse(r.payload).as_object();
        if (p.contains("replaces")) {
            CHECK(p["replaces"].as_string() == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
            ++refused;
            return fca.problem(409, "urn:ietf:params:acme:error:alreadyReplaced", "already replaced");
        }
        return normal(r);
    };
    auto p = params(now);
    p.replaces = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    order_flow flow(key, p);
    auto r = drive(flow, fca, key, now);
    CHECK(r.last.what == step::kind::done);
    CHECK(refused == 1);
}

TEST_CASE("order flow: bounded in time, polls and transport errors", "[acme][order]") {
    const account_key key = make_account();
    SECTION("transport errors back off, then give up") {
        fake_ca fca;
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now, [](int) { return true; });
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "connect ca.test:443: Connection refused");
        CHECK(r.waits == std::vector<std::int64_t>{500, 1000, 2000});
    }
    SECTION("one transport error is retried") {
        fake_ca fca;
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now, [](int n) { return n == 3; });
        CHECK(r.last.what == step::kind::done);
    }
    SECTION("an authorization that stays pending hits the poll cap") {
        fake_ca fca;
        fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request&) { return fca.ok(200, fca.authz_json("a.example.test", "pending")); };
        std::int64_t now = 1'800'000'000'000;
        auto p = params(now);
        p.max_polls = 5;
        order_flow flow(key, p);
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "authorization for a.example.test still pending after 5 polls");
    }
    SECTION("the deadline ends a slow order") {
        fake_ca fca;
        fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request&) {
            auto resp = fca.ok(200, fca.authz_json("a.example.test", "pending"));
            resp.retry_after = "50";
            return resp;
        };
        std::int64_t now = 1'800'000'000'000;
        auto p = params(now);
        p.deadline_ms = now + 120'000;
        order_flow flow(key, p);
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error.find("did not complete in time") != std::string::npos);
        CHECK(now <= p.deadline_ms);
    }
    SECTION("no names, or a deadline already passed") {
        std::int64_t now = 1'800'000'000'000;
        auto p = params(now);
        p.names.clear();
        order_flow flow(key, p);
        CHECK(flow.start(now).what == step::kind::failed);
        auto p2 = params(now);
        p2.deadline_ms = now - 1;
        order_flow flow2(key, p2);
        CHECK(flow2.start(now).what == step::kind::failed);
    }
}

TEST_CASE("directory and problem documents", "[acme][order]") {
    auto d = parse_directory(R"({"newNonce":"https://x/n","newAccount":"https://x/a","newOrder":"https://x/o"})");
    REQUIRE(d);
    CHECK(d->renewal_info.empty());
    CHECK_FALSE(parse_directory(R"({"newNonce":"ftp://x/n","newAccount":"https://x/a","newOrder":"https://x/o"})"));
    CHECK_FALSE(parse_directory("not json"));
    auto p = parse_problem(R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"x"})");
    REQUIRE(p);
    CHECK(p->type == "urn:ietf:params:acme:error:badNonce");
    CHECK_FALSE(parse_problem("{}"));
}

// ---- A hostile CA: every byte of its answers is input to check (a compromised CA, a man in the
// middle on a private network, a mistyped directory URL). ----

TEST_CASE("order flow: an authorization for a name that was not ordered is refused, nothing published",
          "[acme][order][hostile]") {
    const account_key key = make_account();
    for (challenge_kind kind : {challenge_kind::tls_alpn_01, challenge_kind::http_01}) {
        struct row {
            const char* label;
            std::string type, value_a, value_b;
            const char* error;
        };
        const std::vector<row> rows = {
            {"another name", "dns", "evil.example.test", "b.example.test", "not one of the ordered names"},
            {"a name that only extends an ordered one", "dns", "a.example.test.evil.test", "b.example.test",
             "not one of the ordered names"},
            {"an IP identifier", "ip", "127.0.0.1", "b.example.test", "not one of the ordered names"},
            {"no identifier type", "", "a.example.test", "b.example.test", "not one of the ordered names"},
            {"the same name twice", "dns", "a.example.test", "a.example.test", "a second authorization for a.example.test"},
        };
        for (const auto& rw : rows) {
            INFO(to_string(kind) << ": " << rw.label);
            fake_ca fca;
            auto forge = [&fca, &rw](const std::string& value, const std::string& name) {
                auto a = json::parse(fca.authz_json(name, "pending")).as_object();
                a["identifier"] = json::object{{"type", rw.type}, {"value", value}};
                return fca.ok(200, json::serialize(a));
            };
            fca.handlers[ca + "/authz/a.example.test"] = [&, forge](const seen_request&) { return forge(rw.value_a, "a.example.test"); };
            fca.handlers[ca + "/authz/b.example.test"] = [&, forge](const seen_request&) { return forge(rw.value_b, "b.example.test"); };
            std::int64_t now = 1'800'000'000'000;
            order_flow flow(key, params(now, kind));
            auto r = drive(flow, fca, key, now);
            REQUIRE(r.last.what == step::kind::failed);
            CHECK(r.last.error.find(rw.error) != std::string::npos);
            CHECK(r.published.empty());  // no challenge certificate or answer was made
        }
    }
    // The CA may spell an ordered name in another case: the task carries our spelling.
    fake_ca fca;
    auto normal = fca.handlers[ca + "/authz/a.example.test"];
    fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request& s) {
        auto resp = normal(s);
        auto a = json::parse(resp.body).as_object();
        a["identifier"].as_object()["value"] = "A.Example.TEST";
        resp.body = json::serialize(a);
        return resp;
    };
    std::int64_t now = 1'800'000'000'000;
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    REQUIRE(r.last.what == step::kind::done);
    REQUIRE(r.published.size() == 2);
    CHECK(r.published[0].domain == "a.example.test");
}

TEST_CASE("order flow: an order with more authorizations than names is refused", "[acme][order][hostile]") {
    const account_key key = make_account();
    fake_ca fca;
    fca.names.push_back("c.example.test");  // the CA's order lists three authorizations for our two names
    fca.handlers[ca + "/order"] = [&](const seen_request&) { return fca.ok(201, fca.order_json(), ca + "/order/1"); };
    std::int64_t now = 1'800'000'000'000;
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    REQUIRE(r.last.what == step::kind::failed);
    CHECK(r.last.error == "newOrder: 3 authorizations for 2 names");
    for (const auto& s : fca.log) CHECK(s.url.find("/authz/") == std::string::npos);
}

TEST_CASE("order flow: every URL from the CA must be https on the directory's origin", "[acme][order][hostile]") {
    // Decision (https_url.hpp): one origin. Each row moves one URL of the CA's answers elsewhere;
    // the order fails before anything is sent there, and the error names the URL.
    const account_key key = make_account();
    struct row {
        const char* label;
        std::function<void(fake_ca&)> change;
        std::string bad_url;
    };
    auto replace_in_directory = [](const std::string& from, const std::string& to) {
        return [from, to](fake_ca& f) {
            const auto at = f.directory_json.find(from);
            REQUIRE(at != std::string::npos);
            f.directory_json.replace(at, from.size(), to);
        };
    };
    auto rewrite_body = [](const std::string& url, const std::string& key_name, std::string value) {
        return [url, key_name, value](fake_ca& f) {
            auto normal = f.handlers[url];
            f.handlers[url] = [normal, key_name, value](const seen_request& s) {
                auto resp = normal(s);
                auto o = json::parse(resp.body).as_object();
                o[key_name] = json::string(value);
                resp.body = json::serialize(o);
                return resp;
            };
        };
    };
    auto rewrite_location = [](const std::string& url, std::string value) {
        return [url, value](fake_ca& f) {
            auto normal = f.handlers[url];
            f.handlers[url] = [normal, value](const seen_request& s) {
                auto resp = normal(s);
                resp.location = value;
                return resp;
            };
        };
    };
    const std::vector<row> rows = {
        {"newOrder on another host", replace_in_directory("https://ca.test/order", "https://evil.test/order"), ""},
        {"newAccount in plaintext", replace_in_directory("https://ca.test/acct", "http://ca.test/acct"), ""},
        {"newNonce on another port", replace_in_directory("https://ca.test/nonce", "https://ca.test:8443/nonce"), ""},
        {"renewalInfo on another host", replace_in_directory("https://ca.test/ari", "https://10.0.0.1/ari"), ""},
        {"the account URL (kid) on another host", rewrite_location(ca + "/acct", "https://evil.test/acct/1"),
         "https://evil.test/acct/1"},
        {"the order URL in plaintext", rewrite_location(ca + "/order", "http://ca.test/order/1"), "http://ca.test/order/1"},
        {"finalize on another host", rewrite_body(ca + "/order", "finalize", "https://169.254.169.254/latest"),
         "https://169.254.169.254/latest"},
        {"an authorization on another host",
         [](fake_ca& f) {
             auto normal = f.handlers[ca + "/order"];
             f.handlers[ca + "/order"] = [normal](const seen_request& s) {
                 auto resp = normal(s);
                 auto o = json::parse(resp.body).as_object();
                 o["authorizations"].as_array()[1] = "https://internal.test/admin/delete";
                 resp.body = json::serialize(o);
                 return resp;
             };
         },
         "https://internal.test/admin/delete"},
        {"a challenge with userinfo",
         [](fake_ca& f) {
             f.handlers[ca + "/authz/a.example.test"] = [&f](const seen_request&) {
                 auto a = json::parse(f.authz_json("a.example.test", "pending")).as_object();
                 for (auto& c : a["challenges"].as_array()) c.as_object()["url"] = "https://ca.test@evil.test/chal";
                 return f.ok(200, json::serialize(a));
             };
         },
         ""},
        {"the certificate on another host",
         [](fake_ca& f) {
             auto normal = f.handlers[ca + "/order/1"];
             f.handlers[ca + "/order/1"] = [normal](const seen_request& s) {
                 auto resp = normal(s);
                 auto o = json::parse(resp.body).as_object();
                 if (o.contains("certificate")) o["certificate"] = "https://evil.test/cert";
                 resp.body = json::serialize(o);
                 return resp;
             };
         },
         "https://evil.test/cert"},
    };
    for (const auto& rw : rows) {
        INFO(rw.label);
        fake_ca fca;
        rw.change(fca);
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        INFO(r.last.error);
        if (!rw.bad_url.empty())
            CHECK(r.last.error == "refused to follow the CA to " + rw.bad_url +
                                      ": not an https URL on the origin of the directory " + dir_url);
        for (const auto& s : fca.log) CHECK(s.url.starts_with(ca + "/"));
    }
    // The host compares case-insensitively; a default port spelled out is the same origin.
    fake_ca fca;
    fca.directory_json = R"({"newNonce":"https://CA.test/nonce","newAccount":"https://ca.TEST/acct",
        "newOrder":"https://ca.test/order"})";
    std::int64_t now = 1'800'000'000'000;
    fca.handlers["https://CA.test/nonce"] = fca.handlers[ca + "/nonce"];
    fca.handlers["https://ca.TEST/acct"] = fca.handlers[ca + "/acct"];
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    CHECK(r.last.what == step::kind::done);
}

TEST_CASE("order flow: a token shorter than 128 bits or outside base64url is refused", "[acme][order][hostile]") {
    const account_key key = make_account();
    for (std::string token : {std::string("abc"), std::string(21, 'A'), std::string("..%2F..%2Fetc"),
                              std::string("AAAAAAAAAAAAAAAAAAAAAAAA/x"), std::string(257, 'A')}) {
        INFO(token);
        fake_ca fca;
        fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request&) {
            auto a = json::parse(fca.authz_json("a.example.test", "pending")).as_object();
            for (auto& c : a["challenges"].as_array()) c.as_object()["token"] = token;
            return fca.ok(200, json::serialize(a));
        };
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now, challenge_kind::http_01));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "authorization for a.example.test: malformed challenge (token or URL)");
        CHECK(r.published.empty());
    }
}

TEST_CASE("order flow: text from the CA reaches errors (and so logs) escaped and bounded", "[acme][order][hostile]") {
    const account_key key = make_account();
    auto clean = [](const std::string& s) {
        for (unsigned char c : s)
            if (c < 0x20 || c == 0x7F) return false;
        return true;
    };
    SECTION("a problem document") {
        fake_ca fca;
        fca.handlers[ca + "/finalize"] = [&](const seen_request&) {
            return fca.problem(403, "urn:ietf:params:acme:error:badCSR\r\n2026-12-03 [info] forged",
                               "no\n[error] forged line\x1b[2J" + std::string(100'000, 'x'));
        };
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(clean(r.last.error));
        CHECK(r.last.error.find("badCSR\\x0D\\x0A2026-12-03 [info] forged") != std::string::npos);
        CHECK(r.last.error.find("no\\x0A[error] forged line\\x1B[2J") != std::string::npos);
        CHECK(r.last.error.size() < 1000);
    }
    SECTION("a status, an embedded error") {
        fake_ca fca;
        fca.handlers[ca + "/authz/a.example.test"] = [&](const seen_request&) {
            auto a = json::parse(fca.authz_json("a.example.test", "revoked\n[warn] x")).as_object();
            a["challenges"].as_array()[1].as_object()["error"] =
                json::object{{"type", "t\x07"}, {"detail", "d\r"}};
            return fca.ok(200, json::serialize(a));
        };
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "authorization for a.example.test is revoked\\x0A[warn] x: t\\x07: d\\x0D");
    }
    SECTION("an order status") {
        fake_ca fca;
        auto normal = fca.handlers[ca + "/order/1"];
        fca.handlers[ca + "/order/1"] = [&](const seen_request& s) {
            auto resp = normal(s);
            auto o = json::parse(resp.body).as_object();
            o["status"] = "weird\r\nstatus";
            resp.body = json::serialize(o);
            return resp;
        };
        std::int64_t now = 1'800'000'000'000;
        order_flow flow(key, params(now));
        auto r = drive(flow, fca, key, now);
        REQUIRE(r.last.what == step::kind::failed);
        CHECK(r.last.error == "the order " + ca + "/order/1 has status \"weird\\x0D\\x0Astatus\"");
    }
}

TEST_CASE("order flow: a Replay-Nonce that is not base64url is ignored", "[acme][order][hostile]") {
    const account_key key = make_account();
    fake_ca fca;
    auto normal = fca.handlers[ca + "/acct"];
    fca.handlers[ca + "/acct"] = [&](const seen_request& r) {
        auto resp = normal(r);
        resp.replay_nonce = "not\"a nonce";
        return resp;
    };
    std::int64_t now = 1'800'000'000'000;
    order_flow flow(key, params(now));
    auto r = drive(flow, fca, key, now);
    CHECK(r.last.what == step::kind::done);
    REQUIRE(fca.log.size() > 4);
    CHECK(urls(fca)[3] == "HEAD " + ca + "/nonce");  // a fresh one instead
    for (const auto& s : fca.log) CHECK(s.nonce != "not\"a nonce");
}
