// tls::ticket_keys: resumption with atsgate's own ticket keys, across rotations and across two
// independently built contexts sharing a key file (two replicas of a cluster).

#include "tests/support/cert_factory.hpp"
#include "tests/support/mem_tls.hpp"
#include "tls/server_context.hpp"
#include "tls/ticket_keys.hpp"

#include <catch2/catch.hpp>

#include <openssl/rand.h>
#include <openssl/tls1.h>

#include <ctime>
#include <fstream>

using namespace atsgate;

namespace {

struct server_fixture {
    test::temp_dir dir;
    config::listener l;

    server_fixture() {
        test::cert_factory f(static_cast<std::int64_t>(std::time(nullptr)));
        auto root = f.root_ca("tickets root");
        auto leaf = f.leaf(root, "localhost");
        l.name = "t";
        l.address = "127.0.0.1";
        l.port = 443;
        config::certificate c;
        c.shorthand = true;
        c.cert = dir.write_chain("cert.pem", {&leaf}).string();
        c.key = dir.write_key("key.pem", leaf).string();
        l.certificates.push_back(c);
    }
    tls::listener_tls build(tls::ticket_keys* keys) {
        config::diagnostics diags;
        auto b = tls::build_listener_tls(l, diags, keys);
        REQUIRE(diags.empty());
        REQUIRE(b.context);
        return b;
    }
};

ossl::ptr<SSL_CTX> client(int version) {
    auto c = ossl::own(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(c.get(), version);
    SSL_CTX_set_max_proto_version(c.get(), version);
    SSL_CTX_set_verify(c.get(), SSL_VERIFY_NONE, nullptr);
    return c;
}

}  // namespace

TEST_CASE("ticket keys: resumption survives rotations and needs a known key", "[unit][tickets]") {
    server_fixture fx;
    tls::ticket_keys keys;
    auto built = fx.build(&keys);
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        DYNAMIC_SECTION("version " << std::hex << version) {
            auto c = client(version);
            ossl::ptr<SSL_SESSION> sess;
            REQUIRE(test::run_handshake(*c, *built.context->ctx, nullptr, &sess).client_ok);
            REQUIRE(sess);
            auto again = test::run_handshake(*c, *built.context->ctx, sess.get());
            CHECK(again.resumed);

            keys.rotate();  // the ticket's key becomes "previous": still accepted
            auto after = test::run_handshake(*c, *built.context->ctx, sess.get());
            CHECK(after.resumed);

            for (std::size_t i = 0; i < tls::ticket_keys::max_keys; ++i) keys.rotate();  // now forgotten
            auto gone = test::run_handshake(*c, *built.context->ctx, sess.get());
            CHECK(gone.client_ok);
            CHECK_FALSE(gone.resumed);
        }
    }
}

TEST_CASE("ticket keys: two replicas sharing a key file resume each other's sessions", "[unit][tickets]") {
    server_fixture a, b;
    unsigned char raw[160];
    REQUIRE(RAND_bytes(raw, sizeof raw) == 1);
    const auto path = (a.dir.path() / "ticket.key").string();
    {
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(raw), sizeof raw);
    }
    tls::ticket_keys ka, kb;
    std::string why;
    REQUIRE(ka.load_file(path, why));
    REQUIRE(kb.load_file(path, why));
    auto sa = a.build(&ka);
    auto sb = b.build(&kb);
    auto c = client(TLS1_3_VERSION);
    ossl::ptr<SSL_SESSION> sess;
    REQUIRE(test::run_handshake(*c, *sa.context->ctx, nullptr, &sess).client_ok);
    auto other = test::run_handshake(*c, *sb.context->ctx, sess.get());
    CHECK(other.client_ok);
    CHECK(other.resumed);

    tls::ticket_keys random_keys;
    auto sc = a.build(&random_keys);
    auto unrelated = test::run_handshake(*c, *sc.context->ctx, sess.get());
    CHECK(unrelated.client_ok);
    CHECK_FALSE(unrelated.resumed);
}

TEST_CASE("ticket keys: malformed key files are refused with the reason", "[unit][tickets]") {
    test::temp_dir dir;
    tls::ticket_keys k;
    std::string why;
    CHECK_FALSE(k.load_file((dir.path() / "missing.key").string(), why));
    CHECK(why.find("cannot read") != std::string::npos);
    const auto path = (dir.path() / "short.key").string();
    {
        std::ofstream f(path, std::ios::binary);
        f << std::string(79, 'x');
    }
    CHECK_FALSE(k.load_file(path, why));
    CHECK(why.find("80-byte") != std::string::npos);
    CHECK_FALSE(k.from_file());
}

TEST_CASE("ticket keys: TLS 1.3 clients that use each ticket once keep resuming", "[unit][tickets]") {
    // RFC 8446 appendix C.4: clients should not reuse a ticket. The server must hand out a fresh one
    // on every resumption, or every other handshake is a full one.
    server_fixture fx;
    tls::ticket_keys keys;
    auto built = fx.build(&keys);
    auto c = client(TLS1_3_VERSION);
    ossl::ptr<SSL_SESSION> sess;
    REQUIRE(test::run_handshake(*c, *built.context->ctx, nullptr, &sess).client_ok);
    for (int i = 0; i < 4; ++i) {
        ossl::ptr<SSL_SESSION> next;
        auto r = test::run_handshake(*c, *built.context->ctx, sess.get(), &next);
        INFO("resumption " << i);
        CHECK(r.resumed);
        REQUIRE(next);
        CHECK(next.get() != sess.get());  // a new ticket arrived
        sess = std::move(next);
    }
}

TEST_CASE("ticket keys: a TLS 1.2 resumption attempt without EMS is refused, not resumed", "[unit][tickets]") {
    // RFC 7627 section 5.3: a session established with EMS must not be resumed without it. atsgate
    // only ever creates EMS sessions, and its ClientHello gate refuses TLS 1.2 offers without EMS
    // before OpenSSL looks at the ticket.
    server_fixture fx;
    tls::ticket_keys keys;
    auto built = fx.build(&keys);
    auto ok_client = client(TLS1_2_VERSION);
    ossl::ptr<SSL_SESSION> sess;
    auto first = test::run_handshake(*ok_client, *built.context->ctx, nullptr, &sess);
    REQUIRE(first.client_ok);
    REQUIRE(first.ems);
    REQUIRE(sess);

    auto no_ems = client(TLS1_2_VERSION);
    SSL_CTX_set_options(no_ems.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
    tls::handshake_record rec;
    auto r = test::run_handshake(*no_ems, *built.context->ctx, sess.get(), nullptr, "localhost",
                                 [&](SSL& s) { tls::set_handshake_record(&s, &rec); });
    CHECK_FALSE(r.client_ok);
    CHECK_FALSE(r.resumed);
    CHECK(rec.reason == tls::refusal::no_ems);
    CHECK(r.alert_received_by_client == SSL_AD_HANDSHAKE_FAILURE);
}
