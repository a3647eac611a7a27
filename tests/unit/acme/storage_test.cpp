// ACME storage: modes (0700 directories, 0600 files), atomic replacement, the account key reused
// per directory URL, certificate files, and the lock that lets one replica order at a time.

#include "proxy/acme/storage.hpp"
#include "tests/support/cert_factory.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <iterator>

using namespace atsgate;
using namespace atsgate::acme;
namespace fs = std::filesystem;

namespace {
unsigned mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}
}  // namespace

TEST_CASE("storage: private modes, account key reused per directory", "[acme][storage]") {
    test::temp_dir tmp;
    const fs::path dir = tmp.file("acme") / "nested";
    std::string err;
    auto s = storage::open(dir, err);
    REQUIRE(s);
    CHECK(mode_of(dir) == 0700);
    // An existing directory with a lax mode is tightened.
    ::chmod(dir.c_str(), 0755);
    REQUIRE(storage::open(dir, err));
    CHECK(mode_of(dir) == 0700);

    auto k1 = s->account_key_for("https://ca.test/dir", key_type::ecdsa_p256, err);
    REQUIRE(k1);
    auto k1_again = s->account_key_for("https://ca.test/dir", key_type::ecdsa_p256, err);
    REQUIRE(k1_again);
    CHECK(EVP_PKEY_eq(k1.get(), k1_again.get()) == 1);
    auto k2 = s->account_key_for("https://other-ca.test/directory", key_type::rsa_2048, err);
    REQUIRE(k2);
    CHECK(EVP_PKEY_eq(k1.get(), k2.get()) != 1);
    CHECK(EVP_PKEY_get_base_id(k2.get()) == EVP_PKEY_RSA);
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        INFO(e.path());
        CHECK(mode_of(e.path()) == (e.is_directory() ? 0700u : 0600u));
    }
    // A corrupt key file is an error naming the file, not silently replaced (that would lose the account).
    for (const auto& e : fs::recursive_directory_iterator(dir / "accounts"))
        if (e.path().filename() == "account.key") test::write_file(e.path(), "garbage");
    CHECK_FALSE(s->account_key_for("https://ca.test/dir", key_type::ecdsa_p256, err));
    CHECK(err.find("account.key") != std::string::npos);
}

TEST_CASE("storage: certificates with their key, replaced atomically", "[acme][storage]") {
    test::temp_dir tmp;
    std::string err;
    auto s = storage::open(tmp.file("acme"), err);
    REQUIRE(s);
    CHECK(storage::certificate_id("*.devices.example.test", key_type::rsa_2048) == "_.devices.example.test.rsa-2048");
    const std::string id = storage::certificate_id("mdm.example.test", key_type::ecdsa_p256);
    CHECK_FALSE(s->load_certificate(id, err));
    CHECK(err.empty());  // absent is not an error

    test::cert_factory f(1767225600);
    auto root = f.root_ca();
    auto leaf = f.leaf(root, "mdm.example.test");
    REQUIRE(s->save_certificate(id, leaf.key_pem(), leaf.cert_pem(), err));
    auto got = s->load_certificate(id, err);
    REQUIRE(got);
    CHECK(got->key_pem == leaf.key_pem());
    CHECK(got->chain_pem == leaf.cert_pem());
    CHECK(mode_of(got->path) == 0600);

    auto leaf2 = f.leaf(root, "mdm.example.test");
    REQUIRE(s->save_certificate(id, leaf2.key_pem(), leaf2.cert_pem(), err));
    CHECK(s->load_certificate(id, err)->chain_pem == leaf2.cert_pem());
    // No temporary files are left behind.
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(tmp.file("acme") / "certificates")) {
        (void)e;
        ++files;
    }
    CHECK(files == 1);

    test::write_file(got->path, leaf.cert_pem());  // no key block
    CHECK_FALSE(s->load_certificate(id, err));
    CHECK(err.find("expected a private key followed by the certificate chain") != std::string::npos);
}

TEST_CASE("storage: one lock holder at a time", "[acme][storage]") {
    test::temp_dir tmp;
    std::string err;
    auto a = storage::open(tmp.file("acme"), err);
    auto b = storage::open(tmp.file("acme"), err);  // another replica on the same directory
    REQUIRE(a);
    REQUIRE(b);
    storage_lock first = a->try_lock(err);
    CHECK(first.held());
    storage_lock second = b->try_lock(err);
    CHECK_FALSE(second.held());
    CHECK(err.empty());  // held elsewhere is not an error
    first = storage_lock{};  // released
    storage_lock third = b->try_lock(err);
    CHECK(third.held());
    CHECK(mode_of(tmp.file("acme") / "lock") == 0600);
}

TEST_CASE("storage: atomic writes replace the content, a missing directory is an error", "[acme][storage]") {
    test::temp_dir tmp;
    std::string err;
    REQUIRE(storage::write_atomic(tmp.file("f"), "one", err));
    REQUIRE(storage::write_atomic(tmp.file("f"), "two", err));
    std::ifstream in(tmp.file("f"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == "two");
    CHECK_FALSE(storage::write_atomic(tmp.file("missing-dir") / "f", "x", err));
    CHECK(err.find("cannot create") != std::string::npos);
}

TEST_CASE("storage: a symbolic link inside the storage directory is refused, nothing written through it",
          "[acme][storage][hostile]") {
    // A link planted as certificates/ or accounts/ (while the directory was open to others, say)
    // must not send private keys elsewhere, nor have its target's mode changed.
    for (const char* sub : {"certificates", "accounts"}) {
        INFO(sub);
        test::temp_dir tmp;
        const fs::path dir = tmp.file("acme");
        const fs::path elsewhere = tmp.file("elsewhere");
        fs::create_directories(dir);
        fs::create_directories(elsewhere);
        ::chmod(elsewhere.c_str(), 0755);
        fs::create_directory_symlink(elsewhere, dir / sub);
        std::string err;
        CHECK_FALSE(storage::open(dir, err));
        CHECK(err == (dir / sub).string() + " is not a directory (a symbolic link?): refused");
        CHECK(mode_of(elsewhere) == 0755);
        CHECK(fs::is_empty(elsewhere));
    }
    // Planted after open(): the writes check again.
    test::temp_dir tmp;
    const fs::path dir = tmp.file("acme");
    const fs::path elsewhere = tmp.file("elsewhere");
    std::string err;
    auto s = storage::open(dir, err);
    REQUIRE(s);
    fs::create_directories(elsewhere);
    ::chmod(elsewhere.c_str(), 0755);
    fs::remove(dir / "certificates");
    fs::remove(dir / "accounts");
    fs::create_directory_symlink(elsewhere, dir / "certificates");
    fs::create_directory_symlink(elsewhere, dir / "accounts");
    test::cert_factory f(1767225600);
    auto root = f.root_ca();
    auto leaf = f.leaf(root, "mdm.example.test");
    CHECK_FALSE(s->save_certificate("mdm.example.test.ecdsa-p256", leaf.key_pem(), leaf.cert_pem(), err));
    CHECK(err.find("a symbolic link?") != std::string::npos);
    CHECK_FALSE(s->make_certificate_dir(err));
    CHECK_FALSE(s->account_key_for("https://ca.test/dir", key_type::ecdsa_p256, err));
    CHECK(err.find("a symbolic link?") != std::string::npos);
    CHECK(mode_of(elsewhere) == 0755);
    CHECK(fs::is_empty(elsewhere));
}
