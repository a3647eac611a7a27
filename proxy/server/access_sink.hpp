#pragma once
// spdlog sink for the access log: one per worker, no mutex (single writer), lines buffered and
// written to a file descriptor with write(2) when 16 KiB accumulate or on flush() (the worker
// flushes every 250 ms and at exit). Like nginx's `access_log ... buffer=`: no lock and no syscall
// per request.

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <unistd.h>

#include <cerrno>
#include <string>

namespace atsgate::server {

class access_sink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
public:
    explicit access_sink(int fd) : fd_(fd) { buffer_.reserve(limit + 512); }
    ~access_sink() override { write_out(); }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        buffer_.append(formatted.data(), formatted.size());
        if (buffer_.size() >= limit) write_out();
    }
    void flush_() override { write_out(); }

private:
    static constexpr std::size_t limit = 16 * 1024;
    void write_out() noexcept {
        std::size_t off = 0;
        while (off < buffer_.size()) {
            const ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // stdout gone or full (non-blocking): drop rather than stall the worker
            off += static_cast<std::size_t>(n);
        }
        buffer_.clear();
    }
    int fd_;
    std::string buffer_;
};

}  // namespace atsgate::server
