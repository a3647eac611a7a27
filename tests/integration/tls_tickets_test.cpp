// Session tickets on the check-in path (issue 15): a TLS 1.3 server's tickets leave together with
// its first response (one send, so one segment on loopback), a client that never sends a request
// still gets them with the close_notify, resumption keeps working across resumed connections, and
// TLS 1.2 resumption is still refused without Extended Master Secret.
//
// The "one segment" property is observed from the client side. The client sends its Finished and
// its request in one segment (as devices do), then peeks at the raw socket: the server wrote
// tickets and response with one send(), so the first bytes to arrive hold the tickets and the
// whole response. (Before, the tickets arrived on their own, right after the handshake.)

#include "tests/integration/fixture.hpp"

#include <catch2/catch.hpp>

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <string>
#include <vector>

using namespace atsgate::itest;
namespace ossl = atsgate::ossl;

namespace {

const std::string plist_body =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n\t<key>Status</key>\n"
    "\t<string>Idle</string>\n\t<key>UDID</key>\n\t<string>00008030-001A2B3C4D5E6F70</string>\n</dict>\n</plist>\n";
const std::string checkin_request = "PUT /mdm/server HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                    "application/x-apple-aspen-mdm\r\nContent-Length: " +
                                    std::to_string(plist_body.size()) + "\r\n\r\n" + plist_body;

constexpr int alert_handshake_failure = 40;

// Counts the NewSessionTicket messages a client processes (new-session callback on its context).
int tickets_seen = 0;
int count_ticket(SSL*, SSL_SESSION*) {
    ++tickets_seen;
    return 0;  // not kept: tls_client::session() asks OpenSSL for the current one
}
void count_tickets(tls_client& c) {
    SSL_CTX* ctx = SSL_get_SSL_CTX(c.native());
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, count_ticket);
    tickets_seen = 0;
}

// The complete TLS records at the start of `bytes`: their content types.
std::vector<int> record_types(const std::string& bytes) {
    std::vector<int> types;
    std::size_t at = 0;
    while (at + 5 <= bytes.size()) {
        const std::size_t len = (static_cast<unsigned char>(bytes[at + 3]) << 8) | static_cast<unsigned char>(bytes[at + 4]);
        if (at + 5 + len > bytes.size()) break;
        types.push_back(static_cast<unsigned char>(bytes[at]));
        at += 5 + len;
    }
    return types;
}

// Writes `request`, then peeks at what arrives first on the raw socket (blocking, bounded by the
// client's socket timeout) without consuming it.
std::string first_arrival(tls_client& c, const std::string& request) {
    REQUIRE(c.write(request));
    std::string buf(64 * 1024, '\0');
    const ssize_t n = ::recv(SSL_get_fd(c.native()), buf.data(), buf.size(), MSG_PEEK);
    REQUIRE(n > 0);
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

// Offers `session` on a new connection (options `o` otherwise): the handshake must resume it, and
// the resumed connection serves a check-in.
void check_resumes(tls_client_options o, std::uint16_t port, const ossl::ptr<SSL_SESSION>& session) {
    REQUIRE(session);
    o.session = session.get();
    tls_client again(o);
    REQUIRE(again.connect(port).ok);
    CHECK(again.reused());
    CHECK(status_of(again.request(checkin_request).data) == 200);
}

config_spec tickets_config(const test_env& env, const backend& be, int tls13_tickets) {
    auto c = env.default_config(be.url());
    c.listeners[0].extra += "tls13_tickets = " + std::to_string(tls13_tickets) + "\n";
    return c;
}

}  // namespace

TEST_CASE("tls tickets: TLS 1.3 tickets arrive in one segment with the first response, full and resumed",
          "[integration][tls][tickets]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, tickets_config(env, be, 2));
    tls_client_options o;
    o.min_version = o.max_version = TLS1_3_VERSION;
    o.ca_file = env.root_pem();
    o.finished_with_request = true;

    ossl::ptr<SSL_SESSION> session;
    {
        tls_client first(o);
        REQUIRE(first.connect(px.port()).ok);
        count_tickets(first);
        const auto arrived = record_types(first_arrival(first, checkin_request));
        INFO("records in the first arrival: " << arrived.size());
        // Two tickets and the response (TLS 1.3 records are all application_data on the wire).
        CHECK(arrived.size() >= 3);
        const auto r = first.read_response();
        REQUIRE(status_of(r.data) == 200);
        CHECK(tickets_seen == 2);
        session = first.session();
    }
    REQUIRE(session);

    // Resumed (psk_dhe_ke): one new ticket, again with the response; and it resumes in turn.
    for (int round = 0; round < 2; ++round) {
        INFO("resumption " << round + 1);
        o.session = session.get();
        tls_client again(o);
        REQUIRE(again.connect(px.port()).ok);
        CHECK(again.reused());
        count_tickets(again);
        const auto arrived = record_types(first_arrival(again, checkin_request));
        CHECK(arrived.size() >= 2);
        const auto r = again.read_response();
        REQUIRE(status_of(r.data) == 200);
        CHECK(tickets_seen == 1);
        session = again.session();
        REQUIRE(session);
    }
    CHECK(px.counter("atsgate_handshakes_resumed_total") == 2);
}

TEST_CASE("tls tickets: a TLS 1.3 client that sends no request gets its tickets before the close_notify",
          "[integration][tls][tickets]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, tickets_config(env, be, 1));
    tls_client_options o;
    o.min_version = o.max_version = TLS1_3_VERSION;
    o.ca_file = env.root_pem();

    ossl::ptr<SSL_SESSION> session;
    {
        tls_client c(o);
        REQUIRE(c.connect(px.port()).ok);
        count_tickets(c);
        SSL_shutdown(c.native());  // close_notify right after the handshake, no request
        const auto r = c.read_until_close();
        CHECK(r.closed);
        CHECK(r.data.empty());
        CHECK(tickets_seen == 1);
        session = c.session();
    }
    check_resumes(o, px.port(), session);
}

TEST_CASE("tls tickets: TLS 1.2 tickets resume, and a resumption without EMS is refused with no_ems",
          "[integration][tls][tickets]") {
    ATSGATE_SKIP_UNLESS_TOOLS("python3");
    test_env env;
    backend be(env);
    proxy px(env, env.default_config(be.url()));
    tls_client_options o;
    o.min_version = o.max_version = TLS1_2_VERSION;
    o.ca_file = env.root_pem();

    ossl::ptr<SSL_SESSION> session;
    {
        tls_client first(o);
        const auto hs = first.connect(px.port());
        REQUIRE(hs.ok);
        CHECK(hs.ems);
        REQUIRE(status_of(first.request(checkin_request).data) == 200);
        session = first.session();
    }
    check_resumes(o, px.port(), session);
    // The same session offered by a client that leaves out EMS: refused at the ClientHello.
    const auto series = refused_series("no_ems");
    const auto before = px.counter(series);
    o.session = session.get();
    o.no_ems = true;
    tls_client no_ems(o);
    const auto hs = no_ems.connect(px.port());
    CHECK_FALSE(hs.ok);
    CHECK(hs.alert == alert_handshake_failure);
    CHECK(px.wait_for_counter(series, before + 1) == before + 1);
}
