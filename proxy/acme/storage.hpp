#pragma once
// ACME storage: the account key per ACME directory and each certificate with its key, in one
// directory the operator names ([acme] storage). The directory is 0700 and every file 0600; every
// write goes to a temporary file in the same directory, is fsync'ed and renamed over the old one, so
// a reader (another replica, a restart after a crash) sees the old or the new content, never a mix.
// Certificate and key live in one file for the same reason.
//
// Layout:
//   <dir>/lock                                  flock()ed by the replica that orders (see try_lock)
//   <dir>/accounts/<sha256(directory URL)[0..16]>/account.key   PEM account key, reused
//   <dir>/certificates/<name>.<key type>.pem    private key, then the chain (leaf first)
//
// Blocking file I/O: call from the ACME task, never from a worker's event loop. Errors name the path.

#include "proxy/acme/account_key.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace atsgate::acme {

// An exclusive lock on <dir>/lock, held while it lives (flock(2); on NFS Linux maps it to a POSIX
// lock, so replicas on different hosts sharing the directory exclude each other too). Move-only.
class storage_lock {
public:
    storage_lock() = default;
    explicit storage_lock(int fd) noexcept : fd_(fd) {}
    ~storage_lock();
    storage_lock(storage_lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    storage_lock& operator=(storage_lock&& o) noexcept;
    storage_lock(const storage_lock&) = delete;
    storage_lock& operator=(const storage_lock&) = delete;
    bool held() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

struct stored_certificate {
    std::string key_pem;    // the certificate's private key
    std::string chain_pem;  // leaf first
    std::filesystem::path path;
};

class storage {
public:
    // Creates `dir` (and parents) if missing and sets it to 0700, and its accounts/ and
    // certificates/ (0700, real directories owned by this user: a symbolic link there is refused).
    // nullopt with `err` on failure.
    static std::optional<storage> open(const std::filesystem::path& dir, std::string& err);

    const std::filesystem::path& dir() const noexcept { return dir_; }

    // The lock without waiting: not held() when another process holds it (`err` empty) or when the
    // lock file cannot be opened (`err` says why).
    storage_lock try_lock(std::string& err) const;

    // The account key for `directory_url`, created (as `type`) and stored on first use.
    ossl::ptr<EVP_PKEY> account_key_for(const std::string& directory_url, key_type type, std::string& err) const;

    // Checks (and if missing creates) <dir>/certificates as open() does, before a certificate
    // file is written there. False with `err` when it is a link or not ours.
    bool make_certificate_dir(std::string& err) const;

    // "<name>.<key type>" with the name's '*' as "_": the file name of a certificate.
    static std::string certificate_id(const std::string& name, key_type type);
    std::optional<stored_certificate> load_certificate(const std::string& id, std::string& err) const;
    bool save_certificate(const std::string& id, const std::string& key_pem, const std::string& chain_pem,
                          std::string& err) const;

    // Writes `content` to `path` atomically (temporary file, fsync, rename, fsync of the directory),
    // mode 0600.
    static bool write_atomic(const std::filesystem::path& path, const std::string& content, std::string& err);

private:
    explicit storage(std::filesystem::path d) : dir_(std::move(d)) {}
    std::filesystem::path dir_;
};

}  // namespace atsgate::acme
