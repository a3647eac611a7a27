#pragma once
// Shared by the fuzz targets: an invariant check that stops the run with a message (libFuzzer
// then saves the input as a crash), and a reader of the small control prefix some targets take
// from the front of their input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

// Always on (not assert(): fuzz builds may define NDEBUG). abort() is what libFuzzer reports as a
// crash ("deadly signal") and minimises like any other.
#define FUZZ_CHECK(cond, ...)                                                                  \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            std::fprintf(stderr, "\nFUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                                 \
            std::fprintf(stderr, "\n");                                                        \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)

namespace atsgate::fuzz {

// Takes control bytes off the front of the input; a missing byte reads as 0, so every input
// (the empty one included) is valid.
class prefix {
public:
    prefix(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    std::uint8_t byte() noexcept {
        if (pos_ >= size_) return 0;
        return data_[pos_++];
    }
    std::uint16_t u16() noexcept {
        const std::uint16_t hi = byte();
        return static_cast<std::uint16_t>((hi << 8) | byte());
    }
    // What follows the control bytes.
    std::string_view rest() const noexcept {
        return pos_ >= size_ ? std::string_view{} : std::string_view{reinterpret_cast<const char*>(data_ + pos_), size_ - pos_};
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

}  // namespace atsgate::fuzz
