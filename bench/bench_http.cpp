// HTTP/1.1 codec hot path (proxy/http): request parsing over strict llhttp and upstream head
// serialisation, on real-shaped Apple MDM traffic (the same corpus as tests/unit/http).
//
// Every benchmark reuses one parser and one output buffer across iterations, as a keep-alive
// connection does, so the numbers are the steady state (no allocation; see the no-alloc unit
// test). Items are requests; bytes are request bytes on the wire. Report ns/request from
// `--benchmark_repetitions=5 --benchmark_report_aggregates_only=true` on a Release build.

#include "tests/unit/http/mdm_corpus.hpp"  // shared with the unit tests: one corpus of real shapes

#include "proxy/http/request_parser.hpp"
#include "proxy/http/rewrite.hpp"
#include "proxy/http/target.hpp"
#include "proxy/http/url_guard.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

namespace {

using namespace atsgate::http;

// Parses every complete request in `in` (resetting between them); returns how many completed.
// Aborts on a parse error: the corpus is valid, an error means the benchmark is broken.
std::size_t parse_all(request_parser& p, std::span<const char> in, std::string* upstream_out) {
    std::size_t done = 0;
    p.reset();
    for (;;) {
        const auto r = p.feed(in);
        switch (r.event) {
            case parse_event::head_done:
                if (upstream_out != nullptr) {
                    const auto& h = p.head();
                    upstream_out->clear();
                    write_upstream_request(
                        h, {.client_ip = "192.0.2.10", .body = h.body, .content_length = h.content_length},
                        *upstream_out);
                    benchmark::DoNotOptimize(upstream_out->data());
                }
                break;
            case parse_event::body:
                for (const auto s : p.body_spans()) benchmark::DoNotOptimize(s.data());
                break;
            case parse_event::message_done:
                ++done;
                p.reset();
                break;
            case parse_event::need_more: return done;
            case parse_event::error: std::abort();
        }
        in = in.subspan(r.consumed);
        if (in.empty() && r.event == parse_event::need_more) return done;
    }
}

void run(benchmark::State& state, const std::string& stream, std::size_t requests_per_stream, bool write) {
    request_parser p{limits{}};
    std::string out;
    out.reserve(8192);
    for (auto _ : state) {
        const auto n = parse_all(p, stream, write ? &out : nullptr);
        benchmark::DoNotOptimize(n);
        if (n != requests_per_stream) {
            state.SkipWithError("corpus did not parse");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * requests_per_stream));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}

std::string get_with_20_headers() {
    std::string s = "GET /mdm/enroll/profile?device=00008030-001A2B3C4D5E6F70 HTTP/1.1\r\nHost: mdm.example.com\r\n";
    const char* names[] = {"Accept", "Accept-Language", "Accept-Encoding", "User-Agent", "Connection",
                           "Cache-Control", "Pragma", "X-Request-Id", "X-Apple-Device", "X-Apple-Build",
                           "X-Client-Version", "If-None-Match", "If-Modified-Since", "Cookie", "Referer",
                           "DNT", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Priority"};
    for (const char* n : names) s += std::string(n) + ": some-realistic-value-of-moderate-length/1.0\r\n";
    return s + "\r\n";
}

// Parse one MDM check-in (PUT /mdm/checkin, TokenUpdate plist body ~1 KiB, Mdm-Signature header)
// delivered in a single read. No argument.
void BM_parse_checkin(benchmark::State& state) { run(state, atsgate::http::test::checkin_request(), 1, false); }
BENCHMARK(BM_parse_checkin);

// Parse one command poll (PUT /mdm/server, small "Status: Idle" plist) in a single read.
// No argument.
void BM_parse_command_poll(benchmark::State& state) { run(state, atsgate::http::test::command_poll_request(), 1, false); }
BENCHMARK(BM_parse_command_poll);

// Parse a bodiless GET carrying 20 header fields (head-dominated cost). No argument.
void BM_parse_get_20_headers(benchmark::State& state) { run(state, get_with_20_headers(), 1, false); }
BENCHMARK(BM_parse_get_20_headers);

// The per-request hot path: parse a check-in and serialise its head for the upstream
// (hop-by-hop removal, X-Forwarded-*, framing). No argument.
void BM_parse_and_write_upstream_checkin(benchmark::State& state) {
    run(state, atsgate::http::test::checkin_request(), 1, true);
}
BENCHMARK(BM_parse_and_write_upstream_checkin);

// Same hot path for a command poll. No argument.
void BM_parse_and_write_upstream_poll(benchmark::State& state) {
    run(state, atsgate::http::test::command_poll_request(), 1, true);
}
BENCHMARK(BM_parse_and_write_upstream_poll);

// A pipelined burst: Arg = number of command-poll requests back to back in one buffer, all parsed
// (and written upstream) from that one read. Items/s is requests/s.
void BM_pipelined_burst(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    std::string stream;
    for (std::size_t i = 0; i < n; ++i) stream += atsgate::http::test::command_poll_request();
    run(state, stream, n, true);
}
BENCHMARK(BM_pipelined_burst)->Arg(1)->Arg(8)->Arg(32);

// Fragmented delivery: Arg = bytes per read; the check-in arrives in reads of that size, so head
// fields are split across feed() calls and reassembled in the parser's storage.
void BM_parse_checkin_fragmented(benchmark::State& state) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const std::string stream = atsgate::http::test::checkin_request();
    request_parser p{limits{}};
    for (auto _ : state) {
        p.reset();
        std::size_t pos = 0, end = 0;
        bool done = false;
        while (!done) {
            if (pos == end) end = std::min(stream.size(), end + chunk);
            const auto r = p.feed({stream.data() + pos, end - pos});
            pos += r.consumed;
            switch (r.event) {
                case parse_event::body:
                    for (const auto s : p.body_spans()) benchmark::DoNotOptimize(s.data());
                    break;
                case parse_event::message_done: done = true; break;
                case parse_event::error: std::abort();
                case parse_event::head_done:
                case parse_event::need_more: break;
            }
        }
        benchmark::DoNotOptimize(pos);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_parse_checkin_fragmented)->Arg(64)->Arg(512)->Arg(1460);

// normalize_target alone (the parser runs it once per request head), into a separate buffer.
// Arg 0: "/mdm/checkin" (nothing to change: the quick scan only); 1: an enrollment URL with a dot
// in a segment and a long query (slow path, nothing changes); 2: dot segments, merged slashes and
// percent-encodings to rewrite. Bytes are target bytes.
void BM_normalize_target(benchmark::State& state) {
    static const std::string targets[] = {
        "/mdm/checkin",
        "/mdm/enroll/profile.mobileconfig?device=00008030-001A2B3C4D5E6F70&user=someone%40example.com",
        "//mdm/./enroll/%7Euser/../profile%2emobileconfig?x=%2f",
    };
    const std::string& t = targets[state.range(0)];
    std::string out(t.size(), '\0');
    for (auto _ : state) {
        const auto r = normalize_target(t, out.data());
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size()));
}
BENCHMARK(BM_normalize_target)->Arg(0)->Arg(1)->Arg(2);

// The plaintext URL guard over a response plist (it scans every plist/XML/JSON body the backend
// sends): the ~1 KiB check-in plist, whose only URL is the exempt DTD reference. Arg = the span
// size the body arrives in (the relay feeds it as read).
void BM_url_guard_plist(benchmark::State& state) {
    const std::string& body = test::checkin_plist;
    const auto piece = static_cast<std::size_t>(state.range(0));
    url_guard g;
    for (auto _ : state) {
        g.reset(1 << 20);
        for (std::size_t at = 0; at < body.size(); at += piece)
            g.feed(std::span<const char>(body).subspan(at, std::min(piece, body.size() - at)));
        g.finish();
        benchmark::DoNotOptimize(g.plaintext());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_url_guard_plist)->Arg(64)->Arg(4096);

}  // namespace
