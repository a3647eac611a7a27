#include "proxy/acme/storage.hpp"

#include "util/hex.hpp"

#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace atsgate::acme {
namespace fs = std::filesystem;
namespace {

std::string os_error(const std::string& what, const fs::path& p) {
    return what + " " + p.string() + ": " + std::strerror(errno);
}

// Creates `p` if missing and makes it 0700. A directory atsgate creates inside the storage
// directory (`own` = true: accounts/, accounts/<id>/, certificates/) must be a real directory
// owned by this user, not a symbolic link: a link planted there (while the storage directory was
// still open to others, say) would send private keys elsewhere, and chmod would follow it. The
// mode is set through a descriptor opened without following links, so what was checked is what
// is changed. The storage directory itself is the operator's path and may be a link.
bool make_private_dir(const fs::path& p, std::string& err, bool own) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec) {
        err = "cannot create " + p.string() + ": " + ec.message();
        return false;
    }
    const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (own ? O_NOFOLLOW : 0));
    if (fd < 0) {
        err = errno == ELOOP || errno == ENOTDIR ? p.string() + " is not a directory (a symbolic link?): refused"
                                                 : os_error("cannot open", p);
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        err = os_error("cannot stat", p);
        ::close(fd);
        return false;
    }
    if (own && st.st_uid != ::geteuid()) {
        err = p.string() + " belongs to uid " + std::to_string(st.st_uid) + ", not to atsgate's (" +
              std::to_string(::geteuid()) + "): refused";
        ::close(fd);
        return false;
    }
    if ((st.st_mode & 07777) != 0700 && ::fchmod(fd, 0700) != 0) {
        err = os_error("cannot set mode 0700 on", p);
        ::close(fd);
        return false;
    }
    ::close(fd);
    return true;
}

std::optional<std::string> read_file(const fs::path& p, std::string& err) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) err = os_error("cannot read", p);
        return std::nullopt;
    }
    std::string out;
    char buf[8192];
    while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = os_error("cannot read", p);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > 1 << 20) {  // no certificate or key is this large
            err = p.string() + ": larger than 1 MiB";
            ::close(fd);
            return std::nullopt;
        }
    }
    ::close(fd);
    return out;
}

using util::hex;

}  // namespace

storage_lock::~storage_lock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

storage_lock& storage_lock::operator=(storage_lock&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

std::optional<storage> storage::open(const fs::path& dir, std::string& err) {
    if (!make_private_dir(dir, err, false)) return std::nullopt;
    storage st(dir);
    if (!st.make_certificate_dir(err) || !make_private_dir(dir / "accounts", err, true)) return std::nullopt;
    return st;
}

storage_lock storage::try_lock(std::string& err) const {
    const fs::path p = dir_ / "lock";
    const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = os_error("cannot open the lock file", p);
        return {};
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) err = os_error("cannot lock", p);
        ::close(fd);
        return {};
    }
    return storage_lock(fd);
}

bool storage::write_atomic(const fs::path& path, const std::string& content, std::string& err) {
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        err = "no randomness for a temporary file name";
        return false;
    }
    const fs::path tmp = path.parent_path() /
                         ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                          hex(std::string_view(reinterpret_cast<const char*>(rnd), sizeof rnd)));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = os_error("cannot create", tmp);
        return false;
    }
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = os_error("cannot write", tmp);
            ::close(fd);
            ::unlink(tmp.c_str());
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        err = os_error("cannot fsync", tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        err = os_error("cannot rename into place", path);
        ::unlink(tmp.c_str());
        return false;
    }
    // Make the rename itself durable.
    const int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

ossl::ptr<EVP_PKEY> storage::account_key_for(const std::string& directory_url, key_type type, std::string& err) const {
    const fs::path dir = dir_ / "accounts" / hex(sha256(directory_url)).substr(0, 16);
    const fs::path file = dir / "account.key";
    if (!make_private_dir(dir_ / "accounts", err, true) || !make_private_dir(dir, err, true)) return {};
    std::string read_err;
    if (auto pem = read_file(file, read_err)) {
        auto key = read_private_key_pem(*pem, err);
        if (!key) err = file.string() + ": " + err;
        return key;
    }
    if (!read_err.empty()) {
        err = read_err;
        return {};
    }
    auto key = generate_key(type, err);
    if (!key) return {};
    const std::string pem = private_key_pem(*key, err);
    if (pem.empty() || !write_atomic(file, pem, err)) return {};
    // For the operator: which CA this account belongs to.
    std::string ignored;
    write_atomic(dir / "directory.url", directory_url + "\n", ignored);
    return key;
}

bool storage::make_certificate_dir(std::string& err) const {
    return make_private_dir(dir_ / "certificates", err, true);
}

std::string storage::certificate_id(const std::string& name, key_type type) {
    std::string id;
    for (char c : name) id += c == '*' ? '_' : c;
    return id + "." + std::string(to_string(type));
}

std::optional<stored_certificate> storage::load_certificate(const std::string& id, std::string& err) const {
    const fs::path file = dir_ / "certificates" / (id + ".pem");
    auto text = read_file(file, err);
    if (!text) return std::nullopt;
    // The key block comes first; everything from the first certificate on is the chain.
    const auto cert_at = text->find("-----BEGIN CERTIFICATE-----");
    if (cert_at == std::string::npos || cert_at == 0) {
        err = file.string() + ": expected a private key followed by the certificate chain";
        return std::nullopt;
    }
    return stored_certificate{text->substr(0, cert_at), text->substr(cert_at), file};
}

bool storage::save_certificate(const std::string& id, const std::string& key_pem, const std::string& chain_pem,
                               std::string& err) const {
    const fs::path dir = dir_ / "certificates";
    if (!make_certificate_dir(err)) return false;
    std::string text = key_pem;
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += chain_pem;
    return write_atomic(dir / (id + ".pem"), text, err);
}

}  // namespace atsgate::acme
