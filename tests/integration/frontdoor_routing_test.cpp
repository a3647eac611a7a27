// Production front door (issue 5): host and longest-prefix routing, static replies, weighted
// splits, sticky splits, and the blue/green weight switch under load — with several real demo
// backends, told apart by the X-Backend header each one sends and by their request logs.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

std::string upstream_table(const std::string& name, const backend& be) {
    return "\n[[upstream]]\nname = \"" + name + "\"\nurl = \"" + be.url() + "\"\n";
}

std::string get(std::string_view target, std::string_view host = "127.0.0.1", std::string_view extra = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n" + std::string(extra) + "\r\n";
}

// The backend that answered `req` on `c` (its X-Backend header), or "status N" for a local reply.
std::string answered_by(tls_client& c, const std::string& req) {
    const auto r = c.request(req);
    const std::string who = header_value(r.data, "x-backend");
    return who.empty() ? "status " + std::to_string(status_of(r.data)) : who;
}

// Opens a keep-alive connection; REQUIREs the handshake.
void open(tls_client& c, std::uint16_t port) {
    const auto hs = c.connect(port);
    INFO(hs.error);
    REQUIRE(hs.ok);
}

}  // namespace

TEST_CASE("frontdoor routing: host and longest path prefix pick the upstream, static replies and 404",
          "[integration][frontdoor][routing]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend legacy(env, "legacy"), a(env, "a"), b(env, "b"), c(env, "c"), d(env, "d");
    auto cfg = env.default_config(legacy.url());
    cfg.listeners[0].extra = R"(
[[listener.route]]
path = "/mdm"
upstream = "a"
[[listener.route]]
path = "/mdm/checkin"
upstream = "b"
[[listener.route]]
host = "enroll.example.test"
upstream = "c"
[[listener.route]]
host = "*.devices.example.test"
path = "/mdm"
upstream = "d"
[[listener.route]]
name = "well-known"
path = "/.well-known/com.apple.remotemanagement"
static_status = 200
static_content_type = "application/json"
static_body = '{"Servers":[{"Version":"mdm-byod","BaseURL":"https://mdm.example.test/byod"}]}'
)";
    // A second listener with routes only: what no route matches is 404 there.
    listener_spec only = cfg.listeners[0];
    only.name = "routes-only";
    only.upstream = "";
    only.extra = "[[listener.route]]\npath = \"/mdm\"\nupstream = \"a\"\n";
    cfg.listeners.push_back(only);
    cfg.extra = upstream_table("a", a) + upstream_table("b", b) + upstream_table("c", c) + upstream_table("d", d);
    proxy px(env, cfg);

    struct row {
        const char* host;
        const char* target;
        const char* who;
    };
    const std::vector<row> rows = {
        {"127.0.0.1", "/mdm/server", "a"},
        {"127.0.0.1", "/mdm", "a"},
        {"127.0.0.1", "/mdm/checkin", "b"},                     // the longer prefix wins
        {"127.0.0.1", "/mdm/checkin?mode=x", "b"},              // the query is not part of the path
        {"127.0.0.1", "/mdm/checkin/x", "b"},
        {"127.0.0.1", "/md", "legacy"},                         // no route: the default upstream
        {"127.0.0.1", "/other", "legacy"},
        {"127.0.0.1", "/?p=/mdm", "legacy"},
        {"enroll.example.test", "/mdm/checkin", "c"},           // an exact host beats host-less routes
        {"ENROLL.example.test:443", "/anything", "c"},          // case-insensitive, port ignored
        {"x.devices.example.test", "/mdm/checkin", "d"},        // wildcard host before host-less
        {"x.devices.example.test", "/other", "legacy"},         // wildcard route's prefix does not match
        {"a.b.devices.example.test", "/mdm/checkin", "b"},      // one label only: host-less routes apply
        {"devices.example.test", "/mdm/server", "a"},
    };
    tls_client cl;
    open(cl, px.port());
    for (const auto& r : rows) {
        INFO(r.host << " " << r.target);
        CHECK(answered_by(cl, get(r.target, r.host)) == r.who);
    }
    // Each backend got exactly the requests routed to it.
    std::map<std::string, std::size_t> want;
    for (const auto& r : rows) ++want[r.who];
    CHECK(a.request_lines().size() == want["a"]);
    CHECK(b.request_lines().size() == want["b"]);
    CHECK(c.request_lines().size() == want["c"]);
    CHECK(d.request_lines().size() == want["d"]);
    CHECK(legacy.request_lines().size() == want["legacy"]);
    CHECK(b.received("GET /mdm/checkin?mode=x HTTP/1.1"));

    // The static route is answered by atsgate itself, with a real client.
    const auto head = env.path("well-known.head");
    const auto wk = curl(env, {"-D", head.string(), px.url("/.well-known/com.apple.remotemanagement?user-identifier=u")});
    INFO(wk.describe());
    CHECK(wk.exit_code == 0);
    CHECK(status_of(read_text(head)) == 200);
    CHECK(header_value(read_text(head), "content-type") == "application/json");
    CHECK(header_value(read_text(head), "x-backend").empty());
    CHECK(wk.out == R"({"Servers":[{"Version":"mdm-byod","BaseURL":"https://mdm.example.test/byod"}]})");
    const auto wk_head = cl.request("HEAD /.well-known/com.apple.remotemanagement HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(wk_head.data) == 200);
    CHECK(body_of(wk_head.data).empty());
    CHECK(answered_by(cl, get("/mdm/server")) == "a");  // the connection is still usable

    // The routes-only listener: a route, else 404 from atsgate.
    tls_client only_cl;
    open(only_cl, px.port(1));
    CHECK(answered_by(only_cl, get("/mdm/server")) == "a");
    CHECK(answered_by(only_cl, get("/other")) == "status 404");
    CHECK(answered_by(only_cl, get("/mdm/server")) == "a");

    // /status is valid JSON and shows the routes, the static one with its status.
    const auto status_file = env.write("status.json", body_of(px.admin("GET", "/status")));
    const auto parsed = run_command({"python3", "-c",
                                     "import json, sys\n"
                                     "s = json.load(open(sys.argv[1]))\n"
                                     "for l in s['listeners']:\n"
                                     "    for r in l['routes']:\n"
                                     "        print(l['name'], r['path'], r.get('host', ''), [t['upstream'] for t in r['targets']], r.get('static_status', '-'))\n",
                                     status_file.string()});
    INFO(parsed.describe() << "\n" << read_text(status_file));
    CHECK(parsed.exit_code == 0);
    CHECK(parsed.out.find("mdm /mdm/checkin  ['b'] -\n") != std::string::npos);
    CHECK(parsed.out.find("mdm / enroll.example.test ['c'] -\n") != std::string::npos);
    CHECK(parsed.out.find("mdm /.well-known/com.apple.remotemanagement  [] 200\n") != std::string::npos);
    CHECK(parsed.out.find("routes-only /mdm  ['a'] -\n") != std::string::npos);

    // Nothing else reached any backend.
    CHECK(a.request_lines().size() == want["a"] + 3);
    CHECK(legacy.request_lines().size() == want["legacy"]);
    for (const backend* be : {&a, &b, &c, &d, &legacy}) CHECK_FALSE(be->received(".well-known"));
}

TEST_CASE("frontdoor routing: a weighted split sends each side its share within tolerance",
          "[integration][frontdoor][routing]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend legacy(env, "legacy"), blue(env, "blue"), green(env, "green");
    auto cfg = env.default_config(legacy.url());
    cfg.listeners[0].extra = R"(
[[listener.route]]
name = "split"
path = "/status"
split = [ { upstream = "blue", weight = 3 }, { upstream = "green", weight = 1 } ]
)";
    cfg.extra = upstream_table("blue", blue) + upstream_table("green", green);
    proxy px(env, cfg);

    // 400 requests over 4 keep-alive connections (spread over both workers). Green's share is
    // binomial(400, 1/4): mean 100, standard deviation 8.7; the bounds are 4.6 deviations away.
    constexpr int connections = 4, per_connection = 100;
    std::map<std::string, int> seen;
    for (int i = 0; i < connections; ++i) {
        tls_client cl;
        open(cl, px.port());
        for (int n = 0; n < per_connection; ++n) ++seen[answered_by(cl, get("/status/204"))];
    }
    INFO("blue " << seen["blue"] << ", green " << seen["green"]);
    CHECK(seen["blue"] + seen["green"] == connections * per_connection);
    CHECK(seen["green"] >= 60);
    CHECK(seen["green"] <= 140);
    CHECK(blue.request_lines().size() == static_cast<std::size_t>(seen["blue"]));
    CHECK(green.request_lines().size() == static_cast<std::size_t>(seen["green"]));
    CHECK(legacy.request_lines().empty());
}

TEST_CASE("frontdoor routing: sticky splits keep each device on one side, a weight change moves only devices it must",
          "[integration][frontdoor][routing]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend legacy(env, "legacy"), blue(env, "blue"), green(env, "green");
    // Device certificates for the client_cert-sticky listener.
    std::vector<cert_files> devices;
    for (int i = 0; i < 12; ++i) {
        auto s = test_env::leaf_spec();
        s.common_name = "device-" + std::to_string(i);
        s.san_dns = {};
        s.san_ip = {};
        s.usage = atsgate::test::eku::client_auth;
        s.fresh_key = true;
        devices.push_back(env.issue("device-" + std::to_string(i), s));
    }
    auto cfg = env.default_config(legacy.url());
    cfg.listeners[0].extra = R"(
[[listener.route]]
name = "by-header"
path = "/status"
split = [ { upstream = "blue", weight = 1 }, { upstream = "green", weight = 1 } ]
sticky = "header:X-Device-Id"
[[listener.route]]
name = "by-segment"
path = "/enroll/"
split = [ { upstream = "blue", weight = 1 }, { upstream = "green", weight = 1 } ]
sticky = "path_segment:2"
)";
    listener_spec mtls = cfg.listeners[0];
    mtls.name = "mtls";
    mtls.extra = R"(client_auth = "optional"
[[listener.route]]
name = "by-cert"
path = "/status"
split = [ { upstream = "blue", weight = 1 }, { upstream = "green", weight = 1 } ]
sticky = "client_cert"
)";
    cfg.listeners.push_back(mtls);
    cfg.extra = upstream_table("blue", blue) + upstream_table("green", green);
    proxy px(env, cfg);

    // header: 40 devices, 3 requests each, each on a new connection (so on either worker).
    constexpr int device_count = 40;
    auto side_of = [&](int device) {
        std::set<std::string> sides;
        for (int n = 0; n < 3; ++n) {
            tls_client cl;
            open(cl, px.port());
            sides.insert(answered_by(cl, get("/status/204", "127.0.0.1", "X-Device-Id: dev-" + std::to_string(device) + "\r\n")));
        }
        INFO("device " << device);
        CHECK(sides.size() == 1);
        return *sides.begin();
    };
    std::map<int, std::string> before;
    std::map<std::string, int> count;
    for (int d = 0; d < device_count; ++d) ++count[before[d] = side_of(d)];
    INFO("blue " << count["blue"] << ", green " << count["green"]);
    CHECK(count["blue"] + count["green"] == device_count);
    CHECK(count["blue"] > 0);  // 2^-39 to fail by chance
    CHECK(count["green"] > 0);

    // Green's weight goes up: devices on green stay there; some blue ones move (each with
    // probability 1/2, so all ~20 staying is ~1e-6); nobody moves to blue.
    const auto sw = px.admin("POST", "/routes/mdm/by-header/weights?green=3");
    INFO(sw);
    REQUIRE(status_of(sw) == 200);
    int moved = 0;
    for (int d = 0; d < device_count; ++d) {
        const auto now = side_of(d);
        INFO("device " << d << " was on " << before[d]);
        if (before[d] == "green") CHECK(now == "green");
        if (now != before[d]) ++moved;
    }
    CHECK(moved > 0);

    // path_segment:2 — /enroll/<device>/...: the segment is the key, the rest of the path is not.
    std::map<std::string, int> seg_count;
    for (int d = 0; d < 20; ++d) {
        std::set<std::string> sides;
        tls_client cl;
        open(cl, px.port());
        for (const char* rest : {"/a", "/b", "", "/c?x=1"})
            sides.insert(answered_by(cl, get("/enroll/SERIAL" + std::to_string(d) + rest)));
        CHECK(sides.size() == 1);
        ++seg_count[*sides.begin()];
    }
    CHECK(seg_count["blue"] > 0);
    CHECK(seg_count["green"] > 0);

    // client_cert: the certificate's fingerprint is the key, across connections.
    std::map<std::string, int> cert_count;
    for (std::size_t d = 0; d < devices.size(); ++d) {
        std::set<std::string> sides;
        for (int n = 0; n < 3; ++n) {
            tls_client_options o;
            o.cert_file = devices[d].cert;
            o.key_file = devices[d].key;
            tls_client cl(o);
            open(cl, px.port(1));
            sides.insert(answered_by(cl, get("/status/204")));
        }
        INFO("device certificate " << d);
        CHECK(sides.size() == 1);
        ++cert_count[*sides.begin()];
    }
    CHECK(cert_count["blue"] > 0);  // 2^-11 to fail by chance
    CHECK(cert_count["green"] > 0);
    CHECK(legacy.request_lines().empty());
}

TEST_CASE("frontdoor routing: a blue/green switch under load moves traffic with zero failed requests",
          "[integration][frontdoor][routing]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend legacy(env, "legacy"), blue(env, "blue"), green(env, "green");
    auto cfg = env.default_config(legacy.url());
    cfg.listeners[0].extra = R"(
[[listener.route]]
name = "enroll"
path = "/status"
split = [ { upstream = "blue", weight = 100 }, { upstream = "green", weight = 0 } ]
)";
    cfg.extra = upstream_table("blue", blue) + upstream_table("green", green);
    proxy px(env, cfg);

    // Two clients, 300 requests each on one keep-alive connection, while the weights switch.
    constexpr int clients = 2, per_client = 300;
    std::atomic<int> done{0};
    std::mutex m;
    std::vector<std::vector<std::string>> answers(clients);  // per client, in order: backend or failure
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            std::vector<std::string> mine;
            tls_client cl;
            const auto hs = cl.connect(px.port());
            for (int n = 0; n < per_client; ++n) {
                if (!hs.ok) {
                    mine.push_back("handshake failed");
                    continue;
                }
                const auto r = cl.request(get("/status/204"));
                const int st = status_of(r.data);
                mine.push_back(st >= 200 && st < 300 ? header_value(r.data, "x-backend")
                                                     : "status " + std::to_string(st) + (r.closed ? " closed" : ""));
                ++done;
            }
            std::lock_guard lock(m);
            answers[i] = std::move(mine);
        });
    }
    // Switch once the load is well under way (but far from done).
    const bool started = poll_until([&] { return done.load() >= 100; }, 30000ms, 1ms);
    const auto sw = px.admin("POST", "/routes/mdm/enroll/weights?blue=0&green=100");
    const int switched_at = done.load();
    for (auto& t : threads) t.join();
    INFO(sw);
    REQUIRE(started);
    REQUIRE(status_of(sw) == 200);
    CHECK(body_of(sw).find("\"weights\":{\"blue\":0,\"green\":100}") != std::string::npos);
    INFO("switched after " << switched_at << " of " << clients * per_client << " requests");
    REQUIRE(switched_at < clients * per_client - 100);

    std::map<std::string, int> total;
    for (int i = 0; i < clients; ++i) {
        INFO("client " << i);
        REQUIRE(answers[i].size() == static_cast<std::size_t>(per_client));
        // Every request succeeded; each client moves from blue to green once and never back.
        bool on_green = false;
        int flips = 0;
        for (const auto& who : answers[i]) {
            ++total[who];
            CHECK((who == "blue" || who == "green"));
            if (who == "green" && !on_green) {
                on_green = true;
                ++flips;
            }
            if (on_green) CHECK(who == "green");
        }
        CHECK(answers[i].back() == "green");
        CHECK(flips == 1);
    }
    INFO("blue " << total["blue"] << ", green " << total["green"]);
    CHECK(total["blue"] + total["green"] == clients * per_client);
    CHECK(total["blue"] >= 100);
    CHECK(total["green"] >= 100);
    CHECK(px.counter("atsgate_responses_total{class=\"5xx\"}") == 0);
    // (counted after the reply is written: poll)
    CHECK(px.wait_for_counter("atsgate_responses_total{class=\"2xx\"}", clients * per_client) == clients * per_client);
    // New connections go to green only.
    tls_client fresh;
    open(fresh, px.port());
    for (int n = 0; n < 10; ++n) CHECK(answered_by(fresh, get("/status/204")) == "green");

    // A reload goes back to the file's weights for new connections.
    REQUIRE(status_of(px.admin("POST", "/reload")) == 200);
    CHECK(px.admin("GET", "/status").find(R"("targets":[{"upstream":"blue","weight":100},{"upstream":"green","weight":0}])") !=
          std::string::npos);
    tls_client after_reload;
    open(after_reload, px.port());
    for (int n = 0; n < 10; ++n) CHECK(answered_by(after_reload, get("/status/204")) == "blue");
}
