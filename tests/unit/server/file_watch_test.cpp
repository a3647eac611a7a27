// file_watch: content changes of watched files are reported once, debounced, through every way a
// file is replaced in practice (in place, rename over it, a Kubernetes ..data symlink swap,
// deletion); unchanged content, unrelated files and touches are not reported.

#include "proxy/server/file_watch.hpp"

#include "tests/support/cert_factory.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using atsgate::server::file_watch;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

struct harness {
    boost::asio::io_context io;
    std::vector<std::string> changes;
    file_watch w{io, 50ms, [this](const std::string& what) { changes.push_back(what); }};

    // Runs the loop until `n` changes were reported or 5 s passed.
    bool wait_changes(std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (changes.size() < n && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_for(20ms);
        }
        return changes.size() >= n;
    }
    // Runs the loop for `d` (several debounce periods): for asserting that nothing is reported.
    void settle(std::chrono::milliseconds d = 400ms) {
        io.restart();
        io.run_for(d);
    }
};

}  // namespace

TEST_CASE("file_watch: a file rewritten in place or renamed over is reported once, same content is not",
          "[unit][server][watch]") {
    atsgate::test::temp_dir dir;
    const fs::path cfg = dir.path() / "atsgate.toml";
    const fs::path cert = dir.path() / "cert.pem";
    write(cfg, "a");
    write(cert, "c1");
    harness h;
    std::string err;
    REQUIRE(h.w.watch({cfg.string(), cert.string()}, err));

    SECTION("in place, in several writes: one report after the debounce") {
        write(cert, "c2");
        write(cert, "c2-more");
        REQUIRE(h.wait_changes(1));
        h.settle();
        CHECK(h.changes == std::vector<std::string>{cert.string()});
    }
    SECTION("renamed over (editors, install, cert-manager style)") {
        write(dir.path() / "cert.pem.tmp", "c3");
        fs::rename(dir.path() / "cert.pem.tmp", cert);
        REQUIRE(h.wait_changes(1));
        CHECK(h.changes.front() == cert.string());
    }
    SECTION("rewritten with identical content, touched, or a neighbour file: nothing") {
        write(cert, "c1");
        fs::last_write_time(cfg, fs::file_time_type::clock::now());
        write(dir.path() / ".atsgate.toml.swp", "editor");
        h.settle();
        CHECK(h.changes.empty());
    }
    SECTION("deleted, then created again") {
        fs::remove(cert);
        REQUIRE(h.wait_changes(1));
        write(cert, "c4");
        REQUIRE(h.wait_changes(2));
        CHECK(h.changes[1] == cert.string());
    }
}

TEST_CASE("file_watch: the Kubernetes ..data symlink swap of a mounted Secret is reported", "[unit][server][watch]") {
    // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..2026_01_01_00_00_00.1
    atsgate::test::temp_dir dir;
    const fs::path mount = dir.path() / "tls";
    fs::create_directories(mount / "..2026_01_01_00_00_00.1");
    write(mount / "..2026_01_01_00_00_00.1" / "tls.crt", "old cert");
    write(mount / "..2026_01_01_00_00_00.1" / "tls.key", "old key");
    fs::create_directory_symlink("..2026_01_01_00_00_00.1", mount / "..data");
    fs::create_symlink("..data/tls.crt", mount / "tls.crt");
    fs::create_symlink("..data/tls.key", mount / "tls.key");
    harness h;
    std::string err;
    REQUIRE(h.w.watch({(mount / "tls.crt").string(), (mount / "tls.key").string()}, err));

    // The update: a new timestamped directory, ..data_tmp pointing at it renamed over ..data, the
    // old directory removed.
    fs::create_directories(mount / "..2026_02_01_00_00_00.2");
    write(mount / "..2026_02_01_00_00_00.2" / "tls.crt", "new cert");
    write(mount / "..2026_02_01_00_00_00.2" / "tls.key", "new key");
    fs::create_directory_symlink("..2026_02_01_00_00_00.2", mount / "..data_tmp");
    fs::rename(mount / "..data_tmp", mount / "..data");
    fs::remove_all(mount / "..2026_01_01_00_00_00.1");
    REQUIRE(h.wait_changes(1));
    h.settle();
    CHECK(h.changes.size() == 1);  // both files changed in one debounced check

    // A second swap is seen too (the watches followed the new directory).
    fs::create_directories(mount / "..2026_03_01_00_00_00.3");
    write(mount / "..2026_03_01_00_00_00.3" / "tls.crt", "newer cert");
    write(mount / "..2026_03_01_00_00_00.3" / "tls.key", "new key");
    fs::create_directory_symlink("..2026_03_01_00_00_00.3", mount / "..data_tmp");
    fs::rename(mount / "..data_tmp", mount / "..data");
    fs::remove_all(mount / "..2026_02_01_00_00_00.2");
    REQUIRE(h.wait_changes(2));
    CHECK(h.changes[1] == (mount / "tls.crt").string());
}

TEST_CASE("file_watch: watch() replaces the set, stop() ends the reports", "[unit][server][watch]") {
    atsgate::test::temp_dir dir;
    const fs::path a = dir.path() / "a", b = dir.path() / "b";
    write(a, "1");
    write(b, "1");
    harness h;
    std::string err;
    REQUIRE(h.w.watch({a.string()}, err));
    write(b, "2");  // not watched
    h.settle();
    CHECK(h.changes.empty());
    REQUIRE(h.w.watch({b.string()}, err));
    write(b, "3");
    REQUIRE(h.wait_changes(1));
    CHECK(h.changes[0] == b.string());
    h.w.stop();
    write(b, "4");
    h.settle();
    CHECK(h.changes.size() == 1);
}

TEST_CASE("file_watch: a renewal that re-points a symlink elsewhere (certbot's live/ -> archive/) is reported",
          "[unit][server][watch]") {
    // certs/mdm.pem -> ../le/live/mdm/fullchain.pem -> ../../archive/mdm/fullchain1.pem: nothing
    // changes in certs/ itself when live/mdm/fullchain.pem is re-pointed at fullchain2.pem.
    atsgate::test::temp_dir dir;
    const fs::path root = dir.path();
    fs::create_directories(root / "certs");
    fs::create_directories(root / "le/live/mdm");
    fs::create_directories(root / "le/archive/mdm");
    write(root / "le/archive/mdm/fullchain1.pem", "first");
    fs::create_symlink("../../archive/mdm/fullchain1.pem", root / "le/live/mdm/fullchain.pem");
    fs::create_symlink("../le/live/mdm/fullchain.pem", root / "certs/mdm.pem");
    harness h;
    std::string err;
    REQUIRE(h.w.watch({(root / "certs/mdm.pem").string()}, err));
    const auto dirs = h.w.directories();
    CHECK(std::find(dirs.begin(), dirs.end(), fs::canonical(root / "le/live/mdm").string()) != dirs.end());

    write(root / "le/archive/mdm/fullchain2.pem", "second");
    fs::remove(root / "le/live/mdm/fullchain.pem");
    fs::create_symlink("../../archive/mdm/fullchain2.pem", root / "le/live/mdm/fullchain.pem");
    REQUIRE(h.wait_changes(1));
    CHECK(h.changes[0] == (root / "certs/mdm.pem").string());
}

TEST_CASE("file_watch: a file replaced between the load and the watch is reported against what was loaded",
          "[unit][server][watch]") {
    // atsgate reads its files, then (after binding, at start; after swapping, on a reload) starts
    // watching them. A renewal that lands in between sends its inotify events before the watch
    // exists; taking the baseline at watch() lost it for good (integration.watch saw it as a broken
    // configuration written right after start that was never refused).
    atsgate::test::temp_dir dir;
    const fs::path cfg = dir.path() / "atsgate.toml";
    const fs::path cert = dir.path() / "cert.pem";
    write(cfg, "a");
    write(cert, "c1");
    file_watch::fingerprint loaded;
    file_watch::note_before_reading({cfg.string(), cert.string()}, loaded);
    write(cert, "ignored");  // hashed again: the first hash (before the read) wins
    file_watch::note_before_reading({cert.string()}, loaded);
    harness h;
    std::string err;

    SECTION("changed in between: reported once, without any event after the watch started") {
        write(cert, "c2");
        REQUIRE(h.w.watch({cfg.string(), cert.string()}, err, &loaded));
        REQUIRE(h.wait_changes(1));
        h.settle();
        CHECK(h.changes == std::vector<std::string>{cert.string()});
    }
    SECTION("unchanged since the load: nothing") {
        write(cert, "c1");
        REQUIRE(h.w.watch({cfg.string(), cert.string()}, err, &loaded));
        h.settle();
        CHECK(h.changes.empty());
        write(cfg, "b");  // and later changes are reported as usual
        REQUIRE(h.wait_changes(1));
        CHECK(h.changes == std::vector<std::string>{cfg.string()});
    }
    SECTION("a path the load did not hash takes its current content") {
        const fs::path token = dir.path() / "token";
        write(token, "t1");
        write(cert, "c1");
        REQUIRE(h.w.watch({cfg.string(), cert.string(), token.string()}, err, &loaded));
        h.settle();
        CHECK(h.changes.empty());
        write(token, "t2");
        REQUIRE(h.wait_changes(1));
        CHECK(h.changes == std::vector<std::string>{token.string()});
    }
}
