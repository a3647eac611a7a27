// HTTP/1.1 through the real proxy to the real backend: byte-exact bodies in both directions and
// both framings, keep-alive, forwarded and hop-by-hop headers, local error replies, request
// smuggling attempts, and the Location rewrite.

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t mib = 1024 * 1024;

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// curl ... -o /dev/null -w '%{http_code}': the status as a number (0 if curl got none).
int curl_status(const test_env& env, std::vector<std::string> args, command_result* out = nullptr) {
    args.insert(args.begin(), {"-o", "/dev/null", "-w", "%{http_code}"});
    auto r = curl(env, args);
    if (out != nullptr) *out = r;
    return std::atoi(r.out.c_str());
}

// The value of header `name` (case-insensitive) in a dumped response head, or "" if absent.
std::string header_of(const std::string& head, const std::string& name) {
    std::istringstream in(head);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos || lower(line.substr(0, colon)) != lower(name)) continue;
        const auto v = line.find_first_not_of(' ', colon + 1);
        return v == std::string::npos ? std::string{} : line.substr(v);
    }
    return {};
}

// The headers the backend received, from its /headers JSON (parsed by python3's json module):
// lower-case name -> values in order.
std::multimap<std::string, std::string> backend_headers(const std::string& json_file) {
    const auto r = run_command({"python3", "-c",
                                "import json, sys\n"
                                "for k, v in json.load(open(sys.argv[1]))['headers']: print(k.lower() + '\\t' + v)\n",
                                json_file});
    if (r.exit_code != 0) throw std::runtime_error("cannot parse " + json_file + ": " + r.describe());
    std::multimap<std::string, std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        const auto tab = line.find('\t');
        if (tab != std::string::npos) out.emplace(line.substr(0, tab), line.substr(tab + 1));
    }
    return out;
}

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// Uploads `file` (`size` bytes whose SHA-256 is `want`) to /sha256 and checks the backend's
// "<sha256> <length>" answer. Returns curl's result (stderr holds -v output).
command_result check_upload(const test_env& env, const proxy& px, const fs::path& file, std::uint64_t size,
                            const std::string& want, const std::string& method, bool chunked,
                            milliseconds timeout = 60000ms) {
    // Chunked uploads stream from stdin: curl 7.88 never ends a chunked upload of an empty file
    // given with -T FILE (no last chunk), while -T - always does.
    command_options o;
    o.timeout = timeout;
    std::vector<std::string> args = {"-v", "-X", method, "-T"};
    if (chunked) {
        args.insert(args.end(), {"-", "-H", "Transfer-Encoding: chunked"});
        o.stdin_path = file;
    } else {
        args.push_back(file.string());
    }
    args.push_back(px.url("/sha256"));
    auto r = curl(env, args, o);
    INFO(method << (chunked ? " chunked " : " Content-Length ") << size << " B: " << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out == want + " " + std::to_string(size) + "\n");
    // The request really used the framing under test.
    if (chunked)
        CHECK(lower(r.err).find("> transfer-encoding: chunked") != std::string::npos);
    else
        CHECK(lower(r.err).find("> content-length: " + std::to_string(size)) != std::string::npos);
    return r;
}

// Downloads /bytes/N (chunked or with Content-Length), hashing the stream as it arrives, and
// checks the bytes and the framing the client saw.
void check_download(const test_env& env, const proxy& px, std::uint64_t n, bool chunked,
                    milliseconds timeout = 60000ms) {
    INFO("GET /bytes/" << n << (chunked ? " chunked" : " Content-Length"));
    sha256 h;
    std::uint64_t got = 0;
    command_options o;
    o.timeout = timeout;
    o.on_stdout = [&](std::string_view piece) {
        h.update(piece);
        got += piece.size();
    };
    const auto head_file = env.path("download-head.txt");
    const auto r = curl(env, {"-D", head_file.string(), px.url("/bytes/" + std::to_string(n) + (chunked ? "?chunked=1" : ""))}, o);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(got == n);
    CHECK(h.hex() == pattern_sha256(n));
    const auto head = read_text(head_file);
    CHECK(status_of(head) == 200);
    if (chunked) {
        CHECK(lower(header_of(head, "transfer-encoding")) == "chunked");
        CHECK(header_of(head, "content-length").empty());
    } else {
        CHECK(header_of(head, "content-length") == std::to_string(n));
    }
}

// A proxy with one worker (so that the order of requests on its upstream connection is the
// order in which they were sent) in front of `be`.
config_spec one_worker(const test_env& env, const backend& be) {
    auto c = env.default_config(be.url());
    c.workers = 1;
    return c;
}

}  // namespace

TEST_CASE("http: 0 B and 1 MiB bodies are byte-exact up and down in both framings", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    for (const std::uint64_t size : {std::uint64_t{0}, mib}) {
        const auto file = env.path("upload-" + std::to_string(size) + ".bin");
        const auto want = write_pattern_file(file, size, size + 7);
        for (const char* method : {"PUT", "POST"})
            for (bool chunked : {false, true}) check_upload(env, px, file, size, want, method, chunked);
        for (bool chunked : {false, true}) check_download(env, px, size, chunked);

        // /echo sends the body back: both directions in one exchange.
        sha256 h;
        command_options o;
        o.on_stdout = [&](std::string_view piece) { h.update(piece); };
        const auto r = curl(env, {"-T", file.string(), "-H", "Content-Type: application/x-plist", px.url("/echo")}, o);
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        CHECK(h.hex() == want);
    }
}

TEST_CASE("http: request body bytes that arrive with the head are counted", "[integration][http]") {
    // Found by bench/soak: atsgate_request_body_bytes_total counted only the body bytes streamed
    // after the head, so a body that came in the same TLS record as its head (most small uploads,
    // MDM check-ins) was forwarded but never counted. Here each request is one record.
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, one_worker(env, be));
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    const auto cl = c.request("PUT /sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" +
                              std::string(100, 'a'));
    INFO(cl.data);
    CHECK(status_of(cl.data) == 200);
    CHECK(cl.data.ends_with(" 100\n"));
    const auto chunked = c.request("POST /sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "1e\r\n" + std::string(30, 'b') + "\r\n14\r\n" + std::string(20, 'c') +
                                   "\r\n0\r\n\r\n");
    INFO(chunked.data);
    CHECK(status_of(chunked.data) == 200);
    CHECK(chunked.data.ends_with(" 50\n"));
    // Payload bytes only (no chunk framing), each counted once.
    CHECK(px.counter("atsgate_request_body_bytes_total") == 150);
}

TEST_CASE("http: HEAD keeps Content-Length and sends no body", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    // HEAD then GET on one connection: if a body followed the HEAD response, the GET's response
    // would not parse.
    REQUIRE(c.write("HEAD /bytes/1048576 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    "GET /bytes/10 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const auto head = c.read_response(5000ms, true);
    INFO(head.data);
    CHECK(status_of(head.data) == 200);
    CHECK(header_of(head.data, "content-length") == "1048576");
    CHECK(head.data.size() == head.data.find("\r\n\r\n") + 4);
    const auto get = c.read_response();
    INFO(get.data);
    CHECK(status_of(get.data) == 200);
    CHECK(header_of(get.data, "content-length") == "10");
    CHECK(get.data.substr(get.data.size() - 10) == std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", 10));
    CHECK(px.counter("atsgate_handshakes_total") == 1);
}

TEST_CASE("http: Expect 100-continue is answered and not forwarded", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto file = env.path("upload.bin");
    const auto want = write_pattern_file(file, mib);
    const auto r = curl(env, {"-v", "-T", file.string(), "-H", "Expect: 100-continue", "--expect100-timeout", "60",
                              px.url("/sha256")});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out == want + " 1048576\n");
    CHECK(r.err.find("< HTTP/1.1 100 Continue") != std::string::npos);

    // The backend gets the body but no Expect header.
    const auto json = env.path("headers.json");
    const auto h = curl(env, {"-T", file.string(), "-H", "Expect: 100-continue", "-o", json.string(), px.url("/headers")});
    INFO(h.describe());
    REQUIRE(h.exit_code == 0);
    const auto seen = backend_headers(json.string());
    CHECK(seen.count("expect") == 0);
    CHECK(read_text(json).find("\"body_length\": 1048576") != std::string::npos);
}

TEST_CASE("http: 200 MiB uploads stream byte-exact with Content-Length and chunked", "[integration][http][slow]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    constexpr std::uint64_t size = 200 * mib;
    const auto file = env.path("upload-200MiB.bin");  // written once, streamed by curl each time
    const auto want = write_pattern_file(file, size, 42);
    const auto cl = check_upload(env, px, file, size, want, "PUT", false, 240000ms);
    CHECK(cl.err.find("< HTTP/1.1 100 Continue") != std::string::npos);  // curl asks for big bodies
    check_upload(env, px, file, size, want, "POST", true, 240000ms);
    CHECK(px.counter("atsgate_request_body_bytes_total") == 2 * size);
    fs::remove(file);
}

TEST_CASE("http: 200 MiB downloads stream byte-exact with Content-Length and chunked", "[integration][http][slow]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    constexpr std::uint64_t size = 200 * mib;
    check_download(env, px, size, false, 240000ms);
    check_download(env, px, size, true, 240000ms);
    CHECK(px.counter("atsgate_response_body_bytes_total") == 2 * size);
}

TEST_CASE("http: several requests in one curl run share one connection", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto before = px.scrape();
    const auto r = curl(env, {"-o", env.path("1").string(), px.url("/mdm/enroll"),  //
                              "-o", env.path("2").string(), px.url("/bytes/1000"),  //
                              "-o", env.path("3").string(), px.url("/bytes/5000?chunked=1"),  //
                              "-o", env.path("4").string(), px.url("/status/204")});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    const auto after = px.scrape();
    auto delta = [&](const char* series) { return after.get(series) - before.get(series); };
    CHECK(delta("atsgate_handshakes_total") == 1);
    CHECK(delta("atsgate_requests_total") == 4);
    // Responses are counted after they are written: poll (a plain read raced under ctest -j2).
    const auto ok_before = before.get("atsgate_responses_total{class=\"2xx\"}");
    CHECK(px.wait_for_counter("atsgate_responses_total{class=\"2xx\"}", ok_before + 4) == ok_before + 4);
    CHECK(read_text(env.path("1")).find("Legacy MDM demo enrollment") != std::string::npos);
    CHECK(read_text(env.path("2")).size() == 1000);
    CHECK(read_text(env.path("3")).size() == 5000);
    CHECK(be.request_lines().size() == 4);
}

TEST_CASE("http: a close-delimited backend body reaches the client chunked on a kept connection",
          "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    REQUIRE(c.write("GET /close HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const auto first = c.read_response();
    INFO(first.data);
    CHECK(status_of(first.data) == 200);
    CHECK(lower(header_of(first.data, "transfer-encoding")) == "chunked");
    CHECK(header_of(first.data, "connection").empty());
    CHECK(first.data.find("closed-delimited body\n") != std::string::npos);
    // The client connection stays usable although the backend closed its own.
    REQUIRE(c.write("GET /bytes/3 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
    const auto second = c.read_until_close();
    CHECK(status_of(second.data) == 200);
    CHECK(second.data.substr(second.data.size() - 3) == std::string("\x00\x01\x02", 3));
    CHECK(px.counter("atsgate_handshakes_total") == 1);
}

TEST_CASE("http: the backend sees forwarded headers and no hop-by-hop headers", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto json = env.path("headers.json");
    const auto r = curl(env, {"-o", json.string(),                                  //
                              "-H", "Connection: keep-alive, X-Hop-Secret",         //
                              "-H", "X-Hop-Secret: must not pass",                  //
                              "-H", "Keep-Alive: timeout=5",                        //
                              "-H", "TE: trailers",                                 //
                              "-H", "Upgrade: websocket",                           //
                              "-H", "Proxy-Connection: keep-alive",                 //
                              "-H", "X-Forwarded-Proto: http",                      // client-sent: replaced
                              "-H", "X-Forwarded-Host: evil.example",               // client-sent: replaced
                              "-H", "X-End-To-End: kept",                           //
                              px.url("/headers")});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    INFO(read_text(json));
    const auto seen = backend_headers(json.string());
    auto only = [&](const std::string& name) {
        const auto [b, e] = seen.equal_range(name);
        std::vector<std::string> v;
        for (auto it = b; it != e; ++it) v.push_back(it->second);
        return v;
    };
    const std::string host = "127.0.0.1:" + std::to_string(px.port());
    CHECK(only("x-forwarded-for") == std::vector<std::string>{"127.0.0.1"});
    CHECK(only("x-forwarded-proto") == std::vector<std::string>{"https"});
    CHECK(only("x-forwarded-host") == std::vector<std::string>{host});
    CHECK(only("host") == std::vector<std::string>{host});
    CHECK(only("x-end-to-end") == std::vector<std::string>{"kept"});
    for (const char* hop : {"connection", "x-hop-secret", "keep-alive", "te", "upgrade", "proxy-connection",
                            "transfer-encoding"}) {
        INFO(hop);
        CHECK(seen.count(hop) == 0);
    }

    // A client-sent X-Forwarded-For is kept and the peer appended.
    const auto r2 = curl(env, {"-o", json.string(), "-H", "X-Forwarded-For: 203.0.113.7", px.url("/headers")});
    REQUIRE(r2.exit_code == 0);
    const auto seen2 = backend_headers(json.string());
    CHECK(seen2.count("x-forwarded-for") == 1);
    CHECK(seen2.find("x-forwarded-for")->second == "203.0.113.7, 127.0.0.1");
}

TEST_CASE("http: a backend that is down gives 502", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl");
    test_env env;
    const auto nobody = free_port();  // nothing listens there
    proxy px(env, env.default_config("http://127.0.0.1:" + std::to_string(nobody)));
    const auto before = px.counter("atsgate_upstream_connect_errors_total");
    command_result r;
    CHECK(curl_status(env, {px.url("/mdm/enroll")}, &r) == 502);
    CHECK(r.exit_code == 0);
    CHECK(px.counter("atsgate_upstream_connect_errors_total") == before + 1);
    // The client connection survives a 502 for a bodiless request: the next one gets 502 too.
    CHECK(curl_status(env, {px.url("/a"), "-o", "/dev/null", px.url("/b")}, &r) == 502502);
    CHECK(px.counter("atsgate_handshakes_total") == 2);
}

TEST_CASE("http: a backend that closes without answering gives 502 and a log line that says so",
          "[integration][http]") {
    // The backend accepts, reads the request and closes without one byte of a response. The log
    // said "sent a bad response ... malformed response from upstream": nothing was malformed.
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.upstream_extra = "warm = 0";  // no connection opened in advance: the first request's is fresh
    proxy px(env, cfg);
    const std::string said = "upstream legacy closed the connection before sending a response to GET /hangup";
    auto count = [](const std::string& text, const std::string& needle) {
        std::size_t n = 0;
        for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
        return n;
    };
    const auto hangup = "GET /hangup HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    SECTION("on a fresh upstream connection: 502, no retry") {
        tls_client c;
        REQUIRE(c.connect(px.port()).ok);
        const auto r = c.request(hangup);
        INFO(r.data);
        CHECK(status_of(r.data) == 502);
        CHECK(poll_until([&] { return px.proc().stderr_text().find(said) != std::string::npos; }, 5000ms));
        const auto log = px.proc().stderr_text();
        INFO(log);
        CHECK(log.find(" warning " + said + "\n") != std::string::npos);
        CHECK(log.find("bad response") == std::string::npos);
        CHECK(px.counter("atsgate_upstream_bad_responses_total") == 0);
        CHECK(px.counter("atsgate_upstream_retries_total") == 0);
        CHECK(count(join(be.request_lines(), "\n"), "GET /hangup") == 1);
    }
    SECTION("on a pooled keep-alive connection: retried once on a fresh one (idempotent), then 502") {
        // The backend may have closed a pooled connection just as the request left (the keep-alive
        // race): an idempotent request that got nothing back is sent once more on a new connection,
        // as nginx and HAProxy do. This backend closes that one too, so the client gets 502.
        tls_client c;
        REQUIRE(c.connect(px.port()).ok);
        REQUIRE(status_of(c.request("GET /status/204 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").data) == 204);
        const auto r = c.request(hangup);
        INFO(r.data);
        CHECK(status_of(r.data) == 502);
        CHECK(px.wait_for_counter("atsgate_upstream_retries_total", 1) == 1);
        CHECK(px.counter("atsgate_upstream_reuses_total") == 1);
        CHECK(count(join(be.request_lines(), "\n"), "GET /hangup") == 2);
        CHECK(poll_until([&] { return px.proc().stderr_text().find(said) != std::string::npos; }, 5000ms));
        const auto log = px.proc().stderr_text();
        INFO(log);
        CHECK(count(log, said) == 1);  // the retried attempt is not an operator's concern
        CHECK(log.find("bad response") == std::string::npos);
    }
}

TEST_CASE("http: a backend that resets the connection gives 502 and a log line with the reason",
          "[integration][http]") {
    // The backend reads the request and answers with a TCP RST. Before, the client got 502 and the
    // event log said nothing at all about why.
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.upstream_extra = "warm = 0";  // the request's upstream connection is fresh: no stale retry
    proxy px(env, cfg);
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    const auto r = c.request("GET /reset HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    INFO(r.data);
    CHECK(status_of(r.data) == 502);
    const std::string said = ": reading the response to GET /reset failed: Connection reset by peer";
    CHECK(poll_until([&] { return px.proc().stderr_text().find(said) != std::string::npos; }, 5000ms));
    const auto log = px.proc().stderr_text();
    INFO(log);
    CHECK(log.find(" warning upstream ") != std::string::npos);
    CHECK(log.find("bad response") == std::string::npos);
    CHECK(px.counter("atsgate_upstream_retries_total") == 0);
}

TEST_CASE("http: a backend that answers bytes that are no response gives 502, counted as a bad response",
          "[integration][http]") {
    // The first byte is already wrong, so the parser consumed nothing: this was counted as an I/O
    // error and, on a pooled connection, retried as if the connection had been stale.
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.upstream_extra = "warm = 0";
    proxy px(env, cfg);
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    REQUIRE(status_of(c.request("GET /status/204 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").data) == 204);
    const auto r = c.request("GET /garbage HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");  // on the pooled connection
    INFO(r.data);
    CHECK(status_of(r.data) == 502);
    CHECK(px.wait_for_counter("atsgate_upstream_bad_responses_total", 1) == 1);
    CHECK(px.counter("atsgate_upstream_reuses_total") == 1);
    CHECK(px.counter("atsgate_upstream_retries_total") == 0);
    const auto lines = join(be.request_lines(), "\n");
    INFO(lines);
    CHECK(lines.find("GET /garbage") == lines.rfind("GET /garbage"));  // sent once
    CHECK(poll_until([&] { return px.proc().stderr_text().find("upstream legacy sent a bad response to GET /garbage") !=
                                  std::string::npos; },
                     5000ms));
}

TEST_CASE("http: a backend slower than response_timeout gives 504", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto c = env.default_config(be.url());
    c.upstream_extra = "response_timeout = \"1s\"";
    proxy px(env, c);
    const auto before = px.counter("atsgate_upstream_timeouts_total");
    const auto start = clock::now();
    command_result r;
    CHECK(curl_status(env, {px.url("/slow?ms=4000")}, &r) == 504);
    const auto elapsed = clock::now() - start;
    INFO(r.describe());
    CHECK(elapsed >= 900ms);
    CHECK(elapsed < 3500ms);  // answered at the 1 s deadline, not when the backend finished
    CHECK(px.counter("atsgate_upstream_timeouts_total") == before + 1);
    // Within the deadline it is served.
    CHECK(curl_status(env, {px.url("/slow?ms=100")}) == 200);
}

TEST_CASE("http: local replies honour Connection: close and HTTP/1.0", "[integration][http]") {
    // Issue 9 item 7 (RFC 9112 section 9.6): a reply atsgate writes itself (404, static, 502, ...)
    // must close the connection when the request asked for it, like a relayed response does.
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    const auto nobody = free_port();  // nothing listens there: 502
    auto c = env.default_config("http://127.0.0.1:" + std::to_string(nobody));
    c.upstream_extra = "max_fails = 0";
    c.listeners[0].upstream = "";  // routes only: what no route matches is 404
    c.listeners[0].extra = "[[listener.route]]\npath = \"/static\"\nstatic_status = 200\n"
                           "static_content_type = \"text/plain\"\nstatic_body = \"static\\n\"\n"
                           "[[listener.route]]\npath = \"/down\"\nupstream = \"legacy\"\n";
    proxy px(env, c);
    struct row {
        const char* label;
        std::string request;
        int status;
        bool closes;
    };
    const std::vector<row> rows = {
        {"404, keep-alive", "GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n", 404, false},
        {"404, Connection: close", "GET /nothing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404, true},
        {"404, HTTP/1.0", "GET /nothing HTTP/1.0\r\nHost: a\r\n\r\n", 404, true},
        {"static, Connection: close", "GET /static HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200, true},
        {"static, HTTP/1.0", "GET /static HTTP/1.0\r\n\r\n", 200, true},
        {"static, HTTP/1.0 keep-alive", "GET /static HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, false},
        {"502, Connection: close", "GET /down HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 502, true},
        {"502, keep-alive", "GET /down HTTP/1.1\r\nHost: a\r\n\r\n", 502, false},
    };
    for (const auto& r : rows) {
        INFO(r.label);
        tls_client cl;
        REQUIRE(cl.connect(px.port()).ok);
        const auto res = cl.request(r.request);
        INFO(res.data);
        CHECK(status_of(res.data) == r.status);
        CHECK((header_value(res.data, "connection") == "close") == r.closes);
        if (r.closes) {
            CHECK(cl.read_until_close(3000ms).closed);
        } else {
            // Still open: a second request on the same connection is answered.
            CHECK(status_of(cl.request("GET /static HTTP/1.1\r\nHost: a\r\n\r\n").data) == 200);
        }
    }
}

TEST_CASE("http: a malformed request gets 400 and the connection is closed", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const auto before = px.counter("atsgate_bad_requests_total");
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    REQUIRE(c.write("GET /mdm/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nThis is not a header\r\n\r\n"));
    const auto r = c.read_until_close();
    INFO(r.data);
    CHECK(status_of(r.data) == 400);
    CHECK(header_of(r.data, "connection") == "close");
    CHECK(r.closed);
    CHECK_FALSE(r.timed_out);
    CHECK(px.counter("atsgate_bad_requests_total") == before + 1);
    CHECK(be.request_lines().empty());
}

TEST_CASE("http: an oversized request head gets 431", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.limits = "header_bytes = 2048\nheader_count = 20";
    proxy px(env, cfg);

    // Too many bytes (curl), then too many fields.
    CHECK(curl_status(env, {"-H", "X-Big: " + std::string(4000, 'a'), px.url("/mdm/enroll")}) == 431);
    std::vector<std::string> many;
    for (int i = 0; i < 30; ++i) many.insert(many.end(), {"-H", "X-Field-" + std::to_string(i) + ": v"});
    many.push_back(px.url("/mdm/enroll"));
    CHECK(curl_status(env, many) == 431);
    // Just under the limit passes.
    CHECK(curl_status(env, {"-H", "X-Big: " + std::string(1500, 'a'), px.url("/mdm/enroll")}) == 200);

    // And the connection is closed after the 431.
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    REQUIRE(c.write("GET /mdm/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n"));
    const auto r = c.read_until_close();
    CHECK(status_of(r.data) == 431);
    CHECK(r.closed);
    CHECK(be.request_lines().size() == 1);  // only the one under the limit
}

TEST_CASE("http: a body over limits.body_bytes gets 413", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    cfg.limits = "body_bytes = \"64k\"";
    proxy px(env, cfg);
    const auto at_limit = env.path("64k.bin");
    const auto want = write_pattern_file(at_limit, 64 * 1024);
    // Big enough that the client is still sending when the 413 comes back.
    const auto over = env.path("16m.bin");
    write_pattern_file(over, 16 * mib);

    // Exactly the limit passes, in both framings.
    check_upload(env, px, at_limit, 64 * 1024, want, "PUT", false);
    check_upload(env, px, at_limit, 64 * 1024, want, "PUT", true);
    const auto forwarded = be.request_lines().size();

    // Content-Length over the limit: refused from the head, before anything is forwarded.
    tls_client c;
    REQUIRE(c.connect(px.port()).ok);
    REQUIRE(c.write("PUT /sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 65537\r\n\r\n"));
    const auto r = c.read_until_close();
    INFO(r.data);
    CHECK(status_of(r.data) == 413);
    CHECK(r.closed);
    CHECK(be.request_lines().size() == forwarded);

    // The same through curl, which waits for 100-continue and gets the 413 instead.
    command_result cr;
    CHECK(curl_status(env, {"-T", over.string(), px.url("/sha256")}, &cr) == 413);
    CHECK(cr.exit_code == 0);
    CHECK(be.request_lines().size() == forwarded);

    // Without Expect the client is still sending its body when the 413 comes; the proxy must let
    // it read the answer (RFC 9112 section 9.6) instead of resetting the connection under it.
    for (int i = 0; i < 5; ++i) {
        const int status = curl_status(env, {"-T", over.string(), "-H", "Expect:", px.url("/sha256")}, &cr);
        INFO("Content-Length without Expect, attempt " << i << ": " << cr.describe());
        CHECK(status == 413);
        CHECK(cr.exit_code == 0);
    }
    CHECK(be.request_lines().size() == forwarded);

    // Chunked over the limit: refused while streaming (the backend sees the head, never the end).
    command_options o;
    o.stdin_path = over;
    for (int i = 0; i < 5; ++i) {
        cr = curl(env, {"-o", "/dev/null", "-w", "%{http_code}", "-T", "-", "-H", "Transfer-Encoding: chunked",
                        px.url("/sha256")},
                  o);
        INFO("chunked, attempt " << i << ": " << cr.describe());
        CHECK(cr.out == "413");
        CHECK(cr.exit_code == 0);
    }
}

TEST_CASE("http: smuggling attempts get 400 and the hidden request never reaches the backend",
          "[integration][http][smuggling]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, one_worker(env, be));

    struct vector_case {
        const char* label;
        std::string prefix;  // the request(s) before the hidden one
    };
    // The hidden request each vector tries to slip past the proxy's framing.
    auto hidden = [](int i) { return "GET /smuggled-" + std::to_string(i) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"; };
    const std::string host = "Host: 127.0.0.1\r\n";
    const std::vector<vector_case> cases = {
        {"CL + TE", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"TE + CL", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 47\r\n\r\n0\r\n\r\n"},
        {"two different Content-Length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 0\r\nContent-Length: 47\r\n\r\n"},
        {"two equal Content-Length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 47\r\nContent-Length: 47\r\n\r\n"},
        {"Content-Length list", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 0, 47\r\n\r\n"},
        {"signed Content-Length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: +47\r\n\r\n"},
        {"obs-fold", "POST /echo HTTP/1.1\r\n" + host + "X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
        {"obs-fold in Transfer-Encoding", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
        {"space before colon", "POST /echo HTTP/1.1\r\n" + host + "Content-Length : 47\r\n\r\n"},
        {"tab before colon", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"},
        {"bad chunk size", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
        {"chunk size overflow", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n10000000000000001\r\nab\r\n0\r\n\r\n"},
        {"chunk without CRLF", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"},
        {"NUL in a header value", "GET /echo HTTP/1.1\r\n" + host + std::string("X-Nul: a\0b\r\n\r\n", 14)},
        {"bare LF line ends", "GET /echo HTTP/1.1\n" + std::string("Host: 127.0.0.1\n\n")},
        {"bare LF inside the head", "GET /echo HTTP/1.1\r\n" + host + "X-A: 1\nX-B: 2\r\n\r\n"},
        {"bare CR inside the head", "GET /echo HTTP/1.1\r\n" + host + "X-A: 1\rX-B: 2\r\n\r\n"},
        {"Transfer-Encoding: chunked, identity", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
        {"Transfer-Encoding: identity", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n"},
        {"Transfer-Encoding twice", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"Transfer-Encoding: xchunked", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
        {"chunked in HTTP/1.0", "POST /echo HTTP/1.0\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 47\r\n\r\n0\r\n\r\n"},
        {"two Host fields", "GET /echo HTTP/1.1\r\n" + host + "Host: evil.example\r\n\r\n"},
        {"request line with two spaces", "GET  /echo HTTP/1.1\r\n" + host + "\r\n"},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& v = cases[i];
        INFO("vector " << i << ": " << v.label);
        const auto lines_before = be.request_lines().size();
        tls_client c;
        REQUIRE(c.connect(px.port()).ok);
        REQUIRE(c.write(v.prefix + hidden(static_cast<int>(i))));  // one write, one TLS record
        const auto r = c.read_until_close();
        INFO("reply: " << r.data);
        CHECK(status_line(r.data) == "HTTP/1.1 400 Bad Request");
        CHECK(r.data.find("HTTP/1.1", 1) == std::string::npos);  // one response only
        CHECK(r.closed);
        CHECK_FALSE(r.timed_out);

        // A sentinel after it on the same worker: once the backend has logged the sentinel, any
        // request the proxy had forwarded before it has been logged too.
        tls_client s;
        REQUIRE(s.connect(px.port()).ok);
        const std::string sentinel = "/sentinel-" + std::to_string(i);
        REQUIRE(s.write("GET " + sentinel + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
        CHECK(status_of(s.read_until_close().data) == 404);
        const auto lines = be.request_lines();
        REQUIRE(lines.size() > lines_before);
        CHECK(lines.back().find(sentinel) != std::string::npos);
        CHECK_FALSE(be.received("/smuggled-" + std::to_string(i)));
        // Nothing of the refused request reached the backend at all.
        CHECK(lines.size() == lines_before + 1);
    }
}

TEST_CASE("http: a request-shaped body is forwarded as body only", "[integration][http][smuggling]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, one_worker(env, be));
    const std::string inner = "GET /inner-request HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (bool chunked : {false, true}) {
        INFO((chunked ? "chunked" : "Content-Length"));
        tls_client c;
        REQUIRE(c.connect(px.port()).ok);
        std::string req = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
        if (chunked) {
            std::ostringstream size;
            size << std::hex << inner.size();
            req += "Transfer-Encoding: chunked\r\n\r\n" + size.str() + "\r\n" + inner + "\r\n0\r\n\r\n";
        } else {
            req += "Content-Length: " + std::to_string(inner.size()) + "\r\n\r\n" + inner;
        }
        REQUIRE(c.write(req));
        const auto r = c.read_until_close();
        INFO(r.data);
        CHECK(status_of(r.data) == 200);
        CHECK(r.data.size() >= inner.size());
        CHECK(r.data.substr(r.data.size() - inner.size()) == inner);
    }
    CHECK(be.request_lines() == std::vector<std::string>{"POST /echo HTTP/1.1", "POST /echo HTTP/1.1"});
}

TEST_CASE("http: a plaintext Location to the proxy's own host is rewritten to https", "[integration][http]") {
    ATSGATE_SKIP_UNLESS_TOOLS("curl", "python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    const std::string own = "127.0.0.1:" + std::to_string(px.port());
    auto location_for = [&](const std::string& to) {
        const auto head = env.path("redirect-head.txt");
        const auto r = curl(env, {"-o", "/dev/null", "-D", head.string(), px.url("/redirect?to=" + url_encode(to))});
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        const auto text = read_text(head);
        CHECK(status_of(text) == 302);
        return header_of(text, "location");
    };
    struct row {
        std::string to, expected;
        bool rewritten, plaintext;
    };
    const std::vector<row> rows = {
        // The Host the client used, port included.
        {"http://" + own + "/mdm/enroll?x=1", "https://" + own + "/mdm/enroll?x=1", true, false},
        // The listener's server_name on the default http port.
        {"http://localhost/mdm/checkin", "https://" + own + "/mdm/checkin", true, false},
        // Foreign hosts are left alone (and counted); https and relative ones are not touched.
        {"http://mdm.example.org/enroll", "http://mdm.example.org/enroll", false, true},
        {"http://127.0.0.1:1/elsewhere", "http://127.0.0.1:1/elsewhere", false, true},
        {"https://mdm.example.org/enroll", "https://mdm.example.org/enroll", false, false},
        {"/relative/path", "/relative/path", false, false},
    };
    for (const auto& r : rows) {
        INFO("Location: " << r.to);
        const auto before = px.scrape();
        CHECK(location_for(r.to) == r.expected);
        const auto after = px.scrape();
        CHECK(after.get("atsgate_location_rewrites_total") - before.get("atsgate_location_rewrites_total") ==
              (r.rewritten ? 1u : 0u));
        CHECK(after.get("atsgate_plaintext_locations_total") - before.get("atsgate_plaintext_locations_total") ==
              (r.plaintext ? 1u : 0u));
    }
}
