// Fuzz target: http::url_guard (response bodies from the upstream, scanned for http:// URLs).
//
// Input: 4 control bytes, then a body.
//   [0] bit 0: small budget [1..2] (else unlimited); bits 1-3: piece size (1..8) of run 3
//   [1..2] budget = n (0 allowed: nothing is scanned)
//   [3]    split point of run 2 (n * size / 255)
// The body is fed whole, in two pieces, in 1..8 byte pieces and as single bytes after a reset();
// plaintext(), exempt() and first() must be the same every time. Also checked: the counts are
// bounded by the "http://" occurrences in the scanned bytes, first() is a truncated URL starting
// with "http://" and present iff something was counted, and applies() never crashes on the body
// used as a Content-Type.

#include "fuzz_check.hpp"

#include "proxy/http/url_guard.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using atsgate::fuzz::prefix;
using atsgate::http::url_guard;

namespace {

struct result {
    std::uint32_t plaintext = 0, exempt = 0;
    std::string first;
    bool operator==(const result&) const = default;
};

result scan(url_guard& g, std::uint64_t budget, std::string_view body, const std::vector<std::size_t>& cuts) {
    g.reset(budget);
    std::size_t at = 0;
    for (std::size_t k = 0; at < body.size(); ++k) {
        const std::size_t len = k < cuts.size() ? std::min(cuts[k], body.size() - at) : body.size() - at;
        std::unique_ptr<char[]> piece(new char[len == 0 ? 1 : len]);
        std::copy_n(body.data() + at, len, piece.get());
        g.feed({piece.get(), len});
        at += len;
    }
    g.feed({});  // an empty read changes nothing
    g.finish();
    g.feed({"http://x.example ", 17});  // finish() ends the scan: nothing more is counted
    return {g.plaintext(), g.exempt(), std::string(g.first())};
}

std::string describe(const result& r) {
    return std::to_string(r.plaintext) + " plaintext, " + std::to_string(r.exempt) + " exempt, first \"" +
           r.first.substr(0, 60) + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    prefix ctl(data, size);
    const std::uint8_t mode = ctl.byte();
    const std::uint16_t small_budget = ctl.u16();
    const std::uint8_t split = ctl.byte();
    const std::string_view body = ctl.rest();

    (void)url_guard::applies(body);

    const std::uint64_t budget = (mode & 1) ? small_budget : std::numeric_limits<std::uint64_t>::max();
    const std::size_t chunk = 1 + ((mode >> 1) & 7);

    url_guard g;
    const result whole = scan(g, budget, body, {});

    const std::size_t at = body.size() * split / 255;
    const result two = scan(g, budget, body, {at});
    FUZZ_CHECK(two == whole, "split at %zu: %s; whole: %s", at, describe(two).c_str(), describe(whole).c_str());

    const result pieces = scan(g, budget, body, std::vector<std::size_t>(body.size() / chunk + 1, chunk));
    FUZZ_CHECK(pieces == whole, "pieces of %zu: %s; whole: %s", chunk, describe(pieces).c_str(),
               describe(whole).c_str());

    url_guard fresh;
    const result bytes = scan(fresh, budget, body, std::vector<std::size_t>(body.size(), 1));
    FUZZ_CHECK(bytes == whole, "byte by byte: %s; whole: %s", describe(bytes).c_str(), describe(whole).c_str());

    // Bounds: each counted URL starts with its own "http://" inside the scanned bytes.
    const std::string_view scanned = body.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(budget, body.size())));
    std::uint64_t schemes = 0;
    for (std::size_t i = 0; i + 7 <= scanned.size(); ++i) {
        bool m = true;
        for (std::size_t j = 0; j < 7 && m; ++j) {
            const char c = scanned[i + j];
            m = ((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c) == "http://"[j];
        }
        schemes += m;
    }
    FUZZ_CHECK(std::uint64_t{whole.plaintext} + whole.exempt <= schemes, "%s but only %llu schemes",
               describe(whole).c_str(), static_cast<unsigned long long>(schemes));
    FUZZ_CHECK((whole.plaintext > 0) == !whole.first.empty(), "first() vs plaintext(): %s", describe(whole).c_str());
    if (!whole.first.empty()) {
        FUZZ_CHECK(whole.first.size() > 7 && whole.first.size() <= 200, "first() length %zu", whole.first.size());
        FUZZ_CHECK(whole.first.compare(0, 7, "http://") == 0, "first() does not start with http://");
    }
    return 0;
}
