// PROXY protocol on https and scep listeners (proxy_protocol = true): the real binary behind a
// client that writes the header itself (Python: any bytes, split writes, chosen source address)
// and behind a real sender, HAProxy with send-proxy-v2 / send-proxy. The carried address is the
// client in X-Forwarded-For, the access log and the refusal log; LOCAL / UNKNOWN use the
// connection's endpoints; a missing, malformed or tampered header, an untrusted source and a
// header that never completes are refused and counted by reason, and never served as TLS.
// Addresses: 127.0.0.1 (atsgate, backend), 127.0.0.2 (clients), 127.0.0.3 (HAProxy's source).

#include "tests/integration/fixture.hpp"

#include "proxy/proxyproto/parser.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

using namespace atsgate::itest;
using namespace std::chrono_literals;

namespace {

// A client that connects from --source, writes --header (hex; in two writes around a pause with
// --split N), then speaks TLS (verifying --ca for server name localhost) or plain HTTP, sends
// --request and prints the response. Exit 0 with the response, 3 when the handshake or the
// connection failed (the error on stderr).
constexpr const char* client_py = R"PY(
import argparse, socket, ssl, sys, time
p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--source", default="127.0.0.2")
p.add_argument("--header", default="")
p.add_argument("--split", type=int, default=0)
p.add_argument("--pause-ms", type=int, default=0)
p.add_argument("--plain", action="store_true")
p.add_argument("--ca", default="")
p.add_argument("--tls11", action="store_true")
p.add_argument("--request", default="GET /headers HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
a = p.parse_args()
s = socket.socket()
s.settimeout(20)
s.bind((a.source, 0))
s.connect(("127.0.0.1", a.port))
h = bytes.fromhex(a.header)
if a.split:
    s.sendall(h[:a.split]); time.sleep(a.pause_ms / 1000.0); s.sendall(h[a.split:])
else:
    s.sendall(h)
if a.pause_ms and not a.split:
    time.sleep(a.pause_ms / 1000.0)
try:
    if not a.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if a.tls11:
            ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1; ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        else:
            ctx.load_verify_locations(a.ca)
        s = ctx.wrap_socket(s, server_hostname="localhost")
    s.sendall(a.request.encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
    sys.stdout.write(out.decode("latin-1"))
except (ssl.SSLError, OSError) as e:
    sys.stderr.write("failed: %r\n" % (e,)); sys.exit(3)
)PY";

std::string hex(const std::vector<std::uint8_t>& b) {
    std::string out;
    char buf[3];
    for (auto c : b) {
        std::snprintf(buf, sizeof buf, "%02x", c);
        out += buf;
    }
    return out;
}
std::string hex(std::string_view s) { return hex(std::vector<std::uint8_t>(s.begin(), s.end())); }

// PROXY v2: PROXY (or LOCAL) command, `fam_tr`, `body`; with a CRC32C TLV appended when `crc`
// (and its value xor `crc_mask`).
std::vector<std::uint8_t> v2(bool local, std::uint8_t fam_tr, std::vector<std::uint8_t> body, bool crc = false,
                             std::uint32_t crc_mask = 0) {
    if (crc)  // push_back: insert() of a braced list trips GCC 12's -Warray-bounds at -O3
        for (const std::uint8_t x : {0x03, 0x00, 0x04, 0, 0, 0, 0}) body.push_back(x);
    std::vector<std::uint8_t> h = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                                   static_cast<std::uint8_t>(local ? 0x20 : 0x21), fam_tr,
                                   static_cast<std::uint8_t>(body.size() >> 8), static_cast<std::uint8_t>(body.size())};
    for (const std::uint8_t x : body) h.push_back(x);
    if (crc) {
        const std::uint32_t c = atsgate::proxyproto::crc32c(h) ^ crc_mask;
        for (int i = 0; i < 4; ++i) h[h.size() - 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(c >> (24 - 8 * i));
    }
    return h;
}

// The INET6 address block 2001:db8::1 port 40000 -> ::1 port 443, and a few TLVs (ALPN, authority,
// an AWS VPC endpoint id).
std::vector<std::uint8_t> inet6_body() {
    std::vector<std::uint8_t> b(36, 0);
    b[0] = 0x20; b[1] = 0x01; b[2] = 0x0d; b[3] = 0xb8; b[15] = 1;
    b[31] = 1;
    b[32] = 0x9c; b[33] = 0x40; b[34] = 0x01; b[35] = 0xbb;
    const std::string tlvs = std::string("\x01\x00\x08http/1.1\x02\x00\x09localhost\xEA\x00\x05\x01vpce", 31);
    for (const char c : tlvs) b.push_back(static_cast<std::uint8_t>(c));
    return b;
}

struct client_result {
    int exit_code;
    std::string out, err;
};

client_result run_client(const test_env& env, std::uint16_t port, const std::vector<std::string>& args) {
    const auto script = env.dir() / "pp_client.py";
    if (!fs::exists(script)) env.write("pp_client.py", client_py);
    std::vector<std::string> argv = {"python3", script.string(), "--port", std::to_string(port), "--ca",
                                     env.root_pem().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    command_options o;
    o.timeout = 30000ms;
    const auto r = run_command(argv, o);
    return {r.exit_code, r.out, r.err};
}

// X-Forwarded-For as the demo backend received it (GET /headers echoes the request headers).
std::string xff_of(const client_result& r) {
    const auto h = echoed_headers(body_of(r.out));
    const auto it = h.find("x-forwarded-for");
    return it == h.end() ? "" : it->second;
}

std::string refused(std::string_view reason) {
    return "atsgate_proxy_protocol_refused_total{reason=\"" + std::string(reason) + "\"}";
}

config_spec pp_config(const test_env& env, const backend& be, const std::string& from = "127.0.0.2") {
    auto c = env.default_config(be.url());
    c.listeners[0].extra = "proxy_protocol = true\nproxy_protocol_from = [\"" + from + "\"]";
    return c;
}

}  // namespace

TEST_CASE("proxy protocol: v1 and v2 headers make their address the client in X-Forwarded-For and the logs",
          "[integration][proxy_protocol]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, pp_config(env, be));

    const auto v1 = run_client(env, px.port(), {"--header", hex("PROXY TCP4 192.0.2.10 127.0.0.1 51234 443\r\n")});
    INFO(v1.err);
    REQUIRE(v1.exit_code == 0);
    CHECK(status_of(v1.out) == 200);
    CHECK(xff_of(v1) == "192.0.2.10");

    const auto v2r = run_client(env, px.port(), {"--header", hex(v2(false, 0x21, inet6_body(), true))});
    INFO(v2r.err);
    REQUIRE(v2r.exit_code == 0);
    CHECK(xff_of(v2r) == "2001:db8::1");

    // The header arriving in two pieces, 300 ms apart (the reader waits for the rest).
    const auto split = run_client(env, px.port(), {"--header", hex("PROXY TCP6 2001:db8::7 ::1 1 443\r\n"), "--split",
                                                   "9", "--pause-ms", "300"});
    CHECK(xff_of(split) == "2001:db8::7");

    // A refused handshake (TLS 1.1) is logged with the carried address.
    const auto old = run_client(env, px.port(), {"--header", hex("PROXY TCP4 198.51.100.23 127.0.0.1 40000 443\r\n"),
                                                 "--tls11"});
    CHECK(old.exit_code == 3);
    CHECK(px.wait_for_counter(refused_series("protocol_version"), 1) == 1);
    CHECK(poll_until([&] { return px.proc().stderr_text().find("client=198.51.100.23:40000") != std::string::npos; },
                     5000ms));

    CHECK(px.wait_for_counter("atsgate_proxy_protocol_headers_total", 4) == 4);
    CHECK(px.counter("atsgate_proxy_protocol_local_total") == 0);
    // The access log names the carried client (flushed every 250 ms).
    CHECK(poll_until([&] { return px.proc().stdout_text().find("192.0.2.10 \"GET /headers HTTP/1.1\" 200") != std::string::npos; },
                     5000ms));
    CHECK(px.proc().stdout_text().find("2001:db8::1 \"GET /headers") != std::string::npos);
}

TEST_CASE("proxy protocol: LOCAL and UNKNOWN (the balancer's own checks) use the connection's endpoints",
          "[integration][proxy_protocol]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, pp_config(env, be));
    const auto local = run_client(env, px.port(), {"--header", hex(v2(true, 0x00, {}))});
    INFO(local.err);
    REQUIRE(local.exit_code == 0);
    CHECK(xff_of(local) == "127.0.0.2");
    const auto unknown = run_client(env, px.port(), {"--header", hex("PROXY UNKNOWN\r\n")});
    CHECK(xff_of(unknown) == "127.0.0.2");
    CHECK(px.wait_for_counter("atsgate_proxy_protocol_local_total", 2) == 2);
}

TEST_CASE("proxy protocol: a missing, malformed or tampered header and an untrusted source are refused, counted, never served",
          "[integration][proxy_protocol]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = pp_config(env, be);
    cfg.timeouts = "handshake = \"1s\"";
    proxy px(env, cfg);
    // The fixture's readiness probe (a TCP connect from 127.0.0.1, not in proxy_protocol_from) is
    // refused as untrusted_source: let it be counted before counting anything else.
    REQUIRE(px.wait_for_counter(refused("untrusted_source"), 1) == 1);
    struct row {
        const char* label;
        std::vector<std::string> args;
        const char* reason;
    };
    const std::vector<row> rows{
        {"plain TLS, no header", {}, "not_proxy_protocol"},
        {"v1 bad address", {"--header", hex("PROXY TCP4 192.0.2.256 127.0.0.1 1 443\r\n")}, "v1_bad_address"},
        {"v1 without CRLF in 107 bytes", {"--header", hex(std::string("PROXY UNKNOWN ") + std::string(100, 'x'))}, "v1_too_long"},
        {"v2 DGRAM", {"--header", hex(v2(false, 0x12, std::vector<std::uint8_t>(12, 1)))}, "v2_bad_transport"},
        {"v2 checksum mismatch", {"--header", hex(v2(false, 0x21, inet6_body(), true, 0x1))}, "v2_bad_checksum"},
        {"from an address not in proxy_protocol_from", {"--source", "127.0.0.4", "--header",
                                                        hex("PROXY TCP4 192.0.2.10 127.0.0.1 1 443\r\n")}, "untrusted_source"},
        {"a header that never completes", {"--header", hex("PROXY TCP4 192.0.2.1"), "--pause-ms", "3000"}, "timeout"},
    };
    for (const auto& r : rows) {
        DYNAMIC_SECTION(r.label) {
            const auto before = px.counter(refused(r.reason));
            const auto res = run_client(env, px.port(), r.args);
            CHECK(res.exit_code == 3);  // the TLS handshake never happens
            CHECK(px.wait_for_counter(refused(r.reason), before + 1) == before + 1);
            CHECK(px.counter("atsgate_handshakes_total") == 0);
            CHECK(px.counter("atsgate_requests_total") == 0);
        }
    }
    CHECK(be.request_lines().empty() == true);
}

TEST_CASE("proxy protocol: a scep listener takes the header before plain HTTP", "[integration][proxy_protocol]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    auto cfg = env.default_config(be.url());
    listener_spec scep;
    scep.name = "scep";
    scep.kind = "scep";
    scep.extra = "proxy_protocol = true\nproxy_protocol_from = [\"127.0.0.0/8\"]";
    cfg.listeners.push_back(scep);
    proxy px(env, cfg);
    const auto r = run_client(env, px.port(1), {"--plain", "--header", hex(v2(false, 0x11, {203, 0, 113, 5, 127, 0, 0, 1, 0x9c, 0x40, 0, 80})),
                                                "--request", "GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(status_of(r.out) == 200);
    CHECK(poll_until([&] { return px.proc().stdout_text().find("203.0.113.5 \"GET /scep?operation=GetCACaps") != std::string::npos; },
                     5000ms));
    // Plain HTTP without a header is refused like TLS would be.
    const auto bare = run_client(env, px.port(1), {"--plain", "--request", "GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n\r\n"});
    CHECK(px.wait_for_counter(refused("not_proxy_protocol"), 1) == 1);
    CHECK(bare.out.find("HTTP/1.1 200") == std::string::npos);
}

TEST_CASE("proxy protocol: HAProxy in front with send-proxy-v2 and send-proxy (and LOCAL health checks)",
          "[integration][proxy_protocol][haproxy]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3", "haproxy", "curl");
    test_env env;
    backend be(env);
    // atsgate trusts only HAProxy's source address, 127.0.0.3.
    proxy px(env, pp_config(env, be, "127.0.0.3"));
    const auto v2_port = free_port(), v1_port = free_port();
    const std::string cfg = "global\n  maxconn 100\n"
                            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
                            "frontend fv2\n  bind 127.0.0.1:" + std::to_string(v2_port) + "\n  default_backend bv2\n"
                            "frontend fv1\n  bind 127.0.0.1:" + std::to_string(v1_port) + "\n  default_backend bv1\n"
                            "backend bv2\n  source 127.0.0.3\n  server a 127.0.0.1:" + std::to_string(px.port()) +
                            " send-proxy-v2 check check-send-proxy inter 500ms\n"
                            "backend bv1\n  source 127.0.0.3\n  server a 127.0.0.1:" + std::to_string(px.port()) +
                            " send-proxy\n";
    const auto cfg_path = env.write("haproxy.cfg", cfg);
    const auto check = run_command({"haproxy", "-c", "-f", cfg_path.string()});
    INFO(check.out << check.err);
    REQUIRE(check.exit_code == 0);
    spawn_options o;
    o.stdout_path = env.path("haproxy.out");
    o.stderr_path = env.path("haproxy.err");
    process hap({"haproxy", "-db", "-f", cfg_path.string()}, o);
    wait_for_port(v2_port, deadline_after(10000ms), hap, "haproxy");
    wait_for_port(v1_port, deadline_after(10000ms), hap, "haproxy");

    for (const auto port : {v2_port, v1_port}) {
        DYNAMIC_SECTION("through HAProxy port " << (port == v2_port ? "send-proxy-v2" : "send-proxy")) {
            const auto r = run_command({"curl", "-sS", "--interface", "127.0.0.2", "--cacert", env.root_pem().string(),
                                        "--resolve", "localhost:" + std::to_string(port) + ":127.0.0.1",
                                        "https://localhost:" + std::to_string(port) + "/headers"});
            INFO(r.err << read_text(env.path("haproxy.err")));
            REQUIRE(r.exit_code == 0);
            const auto h = echoed_headers(r.out);
            REQUIRE(h.count("x-forwarded-for") == 1);
            CHECK(h.find("x-forwarded-for")->second == "127.0.0.2");  // the client, not HAProxy (127.0.0.3)
        }
    }
    // HAProxy's health checks arrive as v2 LOCAL headers (check-send-proxy).
    CHECK(px.wait_for_counter("atsgate_proxy_protocol_local_total", 1, 10000ms) >= 1);
    // A client going around HAProxy, straight to atsgate, is refused. (The fixture's readiness
    // probe, a TCP connect from 127.0.0.1, was one too.)
    const auto before = px.wait_for_counter(refused("untrusted_source"), 1);
    CHECK(run_client(env, px.port(), {"--source", "127.0.0.2"}).exit_code == 3);
    CHECK(px.wait_for_counter(refused("untrusted_source"), before + 1) == before + 1);
}
