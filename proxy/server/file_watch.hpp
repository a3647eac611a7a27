#pragma once
// Watches a set of files (the configuration and every file it names) and calls back, debounced,
// when their content changes: `[server] watch = true` reloads through the same path as SIGHUP.
//
// How changes are seen: inotify (through an Asio stream_descriptor on the control thread) on the
// *directory* of every hop of each path's symlink chain, not on the files: editors and
// `install` replace files by rename, and Kubernetes updates a mounted ConfigMap or Secret by
// writing a new timestamped directory and renaming the `..data` symlink over the old one, so the
// path the configuration names (`tls/tls.crt -> ..data/tls.crt`) never changes itself. After an
// event, the watcher waits until no event came for `debounce` (a renewal writes the certificate
// and the key one after the other; a steady stream of events delays the check by at most ten
// times that), re-resolves the chains (new directories), and compares a
// fingerprint of the files' contents with the last one it reported: only a real change of content
// calls back (a touched or rewritten-identical file, or an editor's swap file next to the
// config, does not).
//
// The baseline is what was loaded, not what the files hold when watching starts: a load (at
// start or by a reload) reads the files some time before watch() runs, and a file replaced in
// between must still be reported. The caller hashes the files before it reads them
// (note_before_reading) and hands those hashes to watch(); a file whose content already differs
// from them is checked at once (no inotify event would come for it: it changed before the watch).
//
// Thread affinity: everything runs on the io_context given to the constructor.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace atsgate::server {

class file_watch {
public:
    // Content hashes by path, taken before a load read the files.
    using fingerprint = std::map<std::string, std::uint64_t>;
    // Adds the current content hash of each of `paths` that `fp` does not hold yet (the first
    // hash, taken before the first read, wins). Call it before reading the files.
    static void note_before_reading(const std::vector<std::string>& paths, fingerprint& fp);

    // `on_change` gets a one-line description of what changed (the first changed path). It is
    // called on `io`'s thread; it may call watch() to replace the set.
    file_watch(boost::asio::io_context& io, std::chrono::milliseconds debounce,
               std::function<void(const std::string& what)> on_change);
    ~file_watch();
    file_watch(const file_watch&) = delete;
    file_watch& operator=(const file_watch&) = delete;

    // Starts (or replaces) watching `paths`. The baseline is `loaded` (hashes taken before the
    // files were read, see note_before_reading) where it has the path, else the current content;
    // when a file differs from its baseline already, a check is scheduled as if an event came.
    // Returns false (with `error`) when inotify is unavailable; paths that do not exist yet are
    // watched through their directory and count as "absent" in the fingerprint.
    bool watch(std::vector<std::string> paths, std::string& error, const fingerprint* loaded = nullptr);
    // Takes the current contents as the baseline without calling back (e.g. after a reload that
    // another trigger started).
    void rebaseline();
    // Stops watching; no callback after this returns.
    void stop();

    // The directories being watched (for tests and logs).
    std::vector<std::string> directories() const;

private:
    void arm_read();
    void on_events();
    void resync_watches();
    void check_contents();

    std::chrono::milliseconds debounce_;
    std::function<void(const std::string&)> on_change_;
    int fd_ = -1;
    boost::asio::posix::stream_descriptor stream_;
    boost::asio::steady_timer timer_;
    std::array<char, 16384> buf_{};
    std::vector<std::string> paths_;
    std::map<std::string, int> dirs_;  // watched directory -> watch descriptor
    std::map<std::string, std::uint64_t> last_;  // path -> content hash at the baseline
    std::chrono::steady_clock::time_point burst_start_{};  // first event since the last check
    bool pending_ = false;                                  // a check is scheduled
    bool stopped_ = true;
};

}  // namespace atsgate::server
