// Fuzz target: proxyproto::parse (the PROXY protocol header a balancer sends before the client's
// bytes; every byte of it is hostile when the peer is not the balancer).
//
// Input: the bytes of a connection's start, fed whole and at every prefix length up to 256.
// Checked: done means 0 < length <= size, version 1 (length <= 107) or 2 (16 <= length <=
// max_v2_length); the header alone and the header with the rest give the same result; the
// need_more contract (no prefix shorter than a done header is done or invalid, a need_more input
// is never longer than the largest header); an invalid input has no done prefix; the family says
// whether an address was given and to_string() formats it.

#include "fuzz_check.hpp"

#include "proxy/proxyproto/parser.hpp"

#include <algorithm>
#include <cstring>

using namespace atsgate::proxyproto;

namespace {

bool same(const header& a, const header& b) {
    return a.version == b.version && a.local == b.local && a.fam == b.fam && a.length == b.length &&
           a.source.address == b.source.address && a.source.port == b.source.port &&
           a.destination.address == b.destination.address && a.destination.port == b.destination.port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    const result whole = parse(in);
    switch (whole.st) {
        case status::done: {
            const header& h = whole.hdr;
            FUZZ_CHECK(h.length > 0 && h.length <= size, "length %zu of %zu", h.length, size);
            FUZZ_CHECK(h.version == 1 || h.version == 2, "version %d", h.version);
            if (h.version == 1) FUZZ_CHECK(h.length <= max_v1_length && h.length >= 8, "v1 length %zu", h.length);
            if (h.version == 2) FUZZ_CHECK(h.length >= 16 && h.length <= max_v2_length, "v2 length %zu", h.length);
            FUZZ_CHECK(!h.local || h.fam == family::none, "LOCAL with an address");
            if (h.fam != family::none) FUZZ_CHECK(!to_string(h.fam, h.source).empty(), "unformattable source");
            const result alone = parse(in.first(h.length));
            FUZZ_CHECK(alone.st == status::done && same(alone.hdr, h), "header alone differs");
            for (std::size_t k = 0; k < h.length; ++k) {
                const result p = parse(in.first(k));
                FUZZ_CHECK(p.st == status::need_more, "prefix %zu of a %zu-byte header is not need_more", k, h.length);
            }
            break;
        }
        case status::need_more:
            FUZZ_CHECK(size < max_v2_length, "need_more after %zu bytes", size);
            for (std::size_t k = 0; k < std::min<std::size_t>(size, 256); ++k)
                FUZZ_CHECK(parse(in.first(k)).st == status::need_more, "prefix %zu of need_more input is not", k);
            break;
        case status::invalid:
            FUZZ_CHECK(whole.error != errc::ok, "invalid without a reason");
            FUZZ_CHECK(std::strcmp(to_string(whole.error), "unknown") != 0, "unnamed reason");
            for (std::size_t k = 0; k < std::min<std::size_t>(size, 256); ++k) {
                const result p = parse(in.first(k));
                FUZZ_CHECK(p.st != status::done, "prefix %zu of an invalid input is done", k);
                if (p.st == status::invalid) FUZZ_CHECK(p.error == whole.error, "prefix %zu: another reason", k);
            }
            break;
    }
    return 0;
}
