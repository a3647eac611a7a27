#include "proxy/server/file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace atsgate::server {

namespace {

namespace fs = std::filesystem;

// Events that can change what a path resolves to or holds.
constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                     IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF;

// The directories whose entries decide what `path` resolves to: the parent of the path and of
// every hop of its symlink chain (bounded), each parent itself resolved. For a Kubernetes mount,
// config/atsgate.toml -> ..data/atsgate.toml gives config/ (where ..data is swapped) and the
// current timestamped directory.
void directories_of(const fs::path& path, std::set<std::string>& out) {
    std::error_code ec;
    fs::path p = path.lexically_normal();
    for (int hop = 0; hop < 16; ++hop) {
        const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
        const fs::path real_dir = fs::weakly_canonical(dir, ec);
        out.insert((ec ? dir : real_dir).string());
        if (dir != real_dir && !ec) out.insert(dir.string());  // a directory symlink: its own parent too
        if (!ec && dir != real_dir) directories_of(dir, out);
        if (!fs::is_symlink(p, ec)) return;
        const fs::path target = fs::read_symlink(p, ec);
        if (ec) return;
        p = (target.is_absolute() ? target : dir / target).lexically_normal();
    }
}

// FNV-1a over the file's bytes; a distinct value for "absent".
std::uint64_t content_hash(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return 0x9e3779b97f4a7c15ull;
    std::uint64_t h = 1469598103934665603ull;
    char buf[8192];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        for (std::streamsize i = 0; i < in.gcount(); ++i) {
            h ^= static_cast<unsigned char>(buf[i]);
            h *= 1099511628211ull;
        }
        if (!in) break;
    }
    return h;
}

}  // namespace

file_watch::file_watch(boost::asio::io_context& io, std::chrono::milliseconds debounce,
                       std::function<void(const std::string&)> on_change)
    : debounce_(debounce), on_change_(std::move(on_change)), stream_(io), timer_(io) {}

file_watch::~file_watch() { stop(); }

void file_watch::note_before_reading(const std::vector<std::string>& paths, fingerprint& fp) {
    for (const auto& p : paths)
        if (fp.find(p) == fp.end()) fp.emplace(p, content_hash(p));
}

bool file_watch::watch(std::vector<std::string> paths, std::string& error, const fingerprint* loaded) {
    if (fd_ < 0) {
        fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd_ < 0) {
            error = std::string("inotify_init1: ") + std::strerror(errno);
            return false;
        }
        boost::system::error_code ec;
        stream_.assign(fd_, ec);
        if (ec) {
            error = "inotify: " + ec.message();
            ::close(fd_);
            fd_ = -1;
            return false;
        }
    }
    const bool was_stopped = stopped_;
    stopped_ = false;
    paths_ = std::move(paths);
    resync_watches();  // from here on, inotify reports every change
    rebaseline();
    if (was_stopped) arm_read();
    if (loaded != nullptr) {
        // A file replaced between the load and the watch: no event will come for it, so check now
        // (debounced like an event) against what was loaded.
        bool differs = false;
        for (auto& [path, hash] : last_) {
            const auto it = loaded->find(path);
            if (it != loaded->end() && it->second != hash) {
                hash = it->second;
                differs = true;
            }
        }
        if (differs) on_events();
    }
    return true;
}

void file_watch::rebaseline() {
    last_.clear();
    for (const auto& p : paths_) last_[p] = content_hash(p);
}

void file_watch::stop() {
    stopped_ = true;
    boost::system::error_code ec;
    timer_.cancel();
    pending_ = false;
    if (fd_ >= 0) {
        stream_.close(ec);  // closes fd_ and cancels the read; the watches go with it
        fd_ = -1;
    }
    dirs_.clear();
}

std::vector<std::string> file_watch::directories() const {
    std::vector<std::string> out;
    for (const auto& [d, wd] : dirs_) out.push_back(d);
    return out;
}

void file_watch::resync_watches() {
    std::set<std::string> want;
    for (const auto& p : paths_) directories_of(fs::path(p), want);
    // Drop watches of directories no longer on any chain; (re)add the others. inotify_add_watch on
    // an inode already watched returns the same descriptor, and a directory replaced by a new one
    // (a Kubernetes timestamped directory) gets a new watch.
    for (auto it = dirs_.begin(); it != dirs_.end();) {
        if (want.count(it->first) == 0) {
            ::inotify_rm_watch(fd_, it->second);
            it = dirs_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& d : want) {
        const int wd = ::inotify_add_watch(fd_, d.c_str(), watch_mask);
        if (wd >= 0)
            dirs_[d] = wd;
        else
            dirs_.erase(d);  // absent for now: its parent's events (on a chain hop) cover its creation
    }
}

void file_watch::arm_read() {
    if (stopped_) return;
    stream_.async_read_some(boost::asio::buffer(buf_), [this](const boost::system::error_code& ec, std::size_t) {
        if (ec || stopped_) return;  // operation_aborted on stop(); nothing else is expected
        on_events();
        arm_read();
    });
}

void file_watch::on_events() {
    // Whatever the events were: wait for quiet (bounded), then look at the contents.
    const auto now = std::chrono::steady_clock::now();
    if (!pending_) {
        pending_ = true;
        burst_start_ = now;
    } else if (now - burst_start_ > 10 * debounce_) {
        return;  // keep the scheduled check: a steady stream of events must not postpone it forever
    }
    timer_.expires_after(debounce_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        pending_ = false;
        check_contents();
    });
}

void file_watch::check_contents() {
    resync_watches();
    std::string changed;
    for (const auto& p : paths_) {
        const std::uint64_t h = content_hash(p);
        const auto it = last_.find(p);
        if (it == last_.end() || it->second != h) {
            if (changed.empty()) changed = p;
            last_[p] = h;
        }
    }
    if (!changed.empty()) on_change_(changed);
}

}  // namespace atsgate::server
