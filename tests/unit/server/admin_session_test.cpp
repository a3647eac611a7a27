// Dashboard sessions (proxy/server/admin_session): a cookie minted for a token verifies for that
// token until it expires, never for another token or another process, and any change to it is
// refused. Cookie and form parsing on hostile input.

#include "proxy/server/admin_session.hpp"

#include <catch2/catch.hpp>

using namespace atsgate::server;

TEST_CASE("session: minted values verify until expiry, for this token and process only", "[session]") {
    const session_keys keys;
    const std::int64_t now = 1'900'000'000;
    const std::string v = keys.mint("s3cret-token", now, 3600);
    CHECK(v.rfind("v1.1900003600.", 0) == 0);
    CHECK(v.find("s3cret") == std::string::npos);
    CHECK(keys.verify(v, "s3cret-token", now));
    CHECK(keys.verify(v, "s3cret-token", now + 3600));
    CHECK_FALSE(keys.verify(v, "s3cret-token", now + 3601));
    CHECK_FALSE(keys.verify(v, "other-token", now));
    CHECK_FALSE(keys.verify(v, "", now));
    const session_keys other_process;
    CHECK_FALSE(other_process.verify(v, "s3cret-token", now));
}

TEST_CASE("session: tampered values are refused", "[session]") {
    const session_keys keys;
    const std::int64_t now = 1'900'000'000;
    const std::string v = keys.mint("tok", now, 60);
    std::string later = v;
    later.replace(3, 10, "1999999999");  // push the expiry out
    CHECK_FALSE(keys.verify(later, "tok", now));
    std::string flipped = v;
    flipped.back() = flipped.back() == '0' ? '1' : '0';
    CHECK_FALSE(keys.verify(flipped, "tok", now));
    for (const char* bad : {"", "v1.", "v1..", "v1.x.y", "v2.1900000060.00", "v1.1900000060", "v1.-5.00",
                            "v1.99999999999999999999.00"})
        CHECK_FALSE(keys.verify(bad, "tok", now));
    CHECK_FALSE(keys.verify(v.substr(0, v.size() - 1), "tok", now));
    CHECK_FALSE(keys.verify(v + "0", "tok", now));
}

TEST_CASE("session: cookie_value", "[session]") {
    CHECK(cookie_value("a=1; atsgate_session=v1.2.3; b=2", "atsgate_session") == "v1.2.3");
    CHECK(cookie_value("atsgate_session=\"q\"", "atsgate_session") == "q");
    CHECK(cookie_value("xatsgate_session=1", "atsgate_session") == std::nullopt);
    CHECK(cookie_value("", "atsgate_session") == std::nullopt);
    CHECK(cookie_value(";;; atsgate_session", "atsgate_session") == std::nullopt);
    CHECK(cookie_value("atsgate_session=", "atsgate_session") == "");
}

TEST_CASE("session: form_field", "[session]") {
    CHECK(form_field("token=abc", "token") == "abc");
    CHECK(form_field("x=1&token=a%2Bb+c%26&y=2", "token") == "a+b c&");
    CHECK(form_field("tokenx=1", "token") == std::nullopt);
    CHECK(form_field("token=%", "token") == std::nullopt);
    CHECK(form_field("token=%4", "token") == std::nullopt);
    CHECK(form_field("token=%zz", "token") == std::nullopt);
    CHECK(form_field("token=%41", "token") == "A");
    CHECK(form_field("token", "token") == "");
    CHECK(form_field("", "token") == std::nullopt);
}
