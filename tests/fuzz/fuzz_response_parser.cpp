// Fuzz target: http::response_parser (bytes from the upstream MDM server).
//
// Input: 6 control bytes, then the bytes the upstream sends.
//   [0] bit 0: the request was HEAD (else GET); bit 1: small limits from [1..3]; bit 2: the upstream
//       closes after the last byte (finish()); bits 3-5: chunk size (1..8) of run 3
//   [1..2] response_header_bytes = 1 + n % 4096, [3] header_count = n % 24 (small limits only)
//   [4..5] split point of run 2 (n % (size + 1))
// Driven like upstream/connection: 1xx responses are followed by next_response(), the final
// response ends the exchange. Parsed whole, in two pieces, and in 1..8 byte pieces (each piece in
// its own exactly-sized heap buffer), then again after reset(): all must agree. Every feed() and
// finish() checks the event contract and the head's invariants (response_parser.hpp).

#include "fuzz_check.hpp"

#include "proxy/http/response_parser.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace atsgate::http;
using atsgate::fuzz::prefix;

namespace {

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto l = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
        if (l(a[i]) != l(b[i])) return false;
    }
    return true;
}

std::string check_and_serialize(const response_head& h, const limits& l, bool head_request) {
    FUZZ_CHECK(h.status >= 100 && h.status <= 599 && h.status != 101, "status %u accepted", h.status);
    FUZZ_CHECK(h.version_major == 1 && h.version_minor <= 1, "version %d.%d", h.version_major, h.version_minor);
    FUZZ_CHECK(h.headers.size() <= l.header_count, "%zu headers over the limit %u", h.headers.size(), l.header_count);
    std::size_t text = h.reason.size();
    unsigned lengths = 0, codings = 0;
    for (const auto& f : h.headers) {
        FUZZ_CHECK(!f.name.empty(), "empty header name");
        for (char c : f.value) {
            const auto u = static_cast<unsigned char>(c);
            FUZZ_CHECK((u >= 0x20 || u == '\t') && u != 0x7f, "header value char 0x%02x", u);
        }
        text += f.name.size() + f.value.size();
        lengths += ieq(f.name, "content-length");
        codings += ieq(f.name, "transfer-encoding");
    }
    FUZZ_CHECK(text <= l.response_header_bytes, "head text %zu over the limit %u", text, l.response_header_bytes);
    FUZZ_CHECK(lengths <= 1 && codings <= 1 && !(lengths && codings), "ambiguous framing accepted");
    const bool no_body = head_request || h.status < 200 || h.status == 204 || h.status == 304;
    if (no_body) FUZZ_CHECK(h.body == framing::none, "body framing %d on a bodiless response", static_cast<int>(h.body));
    switch (h.body) {
        case framing::none: FUZZ_CHECK(no_body, "framing none on a response that has a body"); break;
        case framing::content_length: FUZZ_CHECK(lengths == 1, "content_length framing without CL"); break;
        case framing::chunked: FUZZ_CHECK(codings == 1 && h.version_minor == 1, "chunked without TE / on 1.0"); break;
        case framing::until_close:
            FUZZ_CHECK(lengths == 0 && codings == 0, "until_close with CL/TE");
            FUZZ_CHECK(!h.keep_alive, "until_close but keep_alive");
            break;
    }
    std::string s = std::to_string(h.status);
    s.append(1, ' ').append(h.reason).append(1, '\0');
    s += static_cast<char>('0' + h.version_minor);
    for (const auto& f : h.headers) s.append(f.name).append(1, ':').append(f.value).append(1, '\n');
    s += static_cast<char>('0' + static_cast<int>(h.body));
    s += std::to_string(h.content_length);
    s += h.keep_alive ? 'K' : 'k';
    return s;
}

struct outcome {
    std::vector<std::string> messages;  // head + '|' + body, interim ones included
    std::string partial;
    unsigned heads = 0;
    bool complete = false;  // the final response completed
    bool failed = false;
    errc error = errc::ok;
    bool operator==(const outcome&) const = default;
};

struct state {
    outcome out;
    std::string cur, body;
    bool have_head = false;
    std::uint64_t body_seen = 0;
};

// Handles one event; returns false when the exchange is over (final response or error).
bool on_event(response_parser& p, state& st, parse_event ev, std::span<const char> in, std::size_t consumed,
              const limits& l, bool head_request) {
    auto& out = st.out;
    switch (ev) {
        case parse_event::need_more:
            FUZZ_CHECK(consumed == in.size(), "need_more left %zu bytes", in.size() - consumed);
            return true;
        case parse_event::head_done:
            FUZZ_CHECK(!st.have_head, "second head_done in one response");
            st.have_head = true;
            ++out.heads;
            st.cur = check_and_serialize(p.head(), l, head_request);
            return true;
        case parse_event::body: {
            FUZZ_CHECK(st.have_head, "body before head_done");
            FUZZ_CHECK(p.head().body != framing::none, "body on a bodiless response");
            FUZZ_CHECK(!p.body_spans().empty(), "body event without spans");
            const char* prev_end = in.data();
            for (const auto s : p.body_spans()) {
                FUZZ_CHECK(!s.empty(), "empty body span");
                FUZZ_CHECK(s.data() >= prev_end, "body span before the previous one / the input");
                FUZZ_CHECK(s.data() + s.size() <= in.data() + consumed, "body span past consumed input");
                st.body.append(s.data(), s.size());
                st.body_seen += s.size();
                prev_end = s.data() + s.size();
            }
            FUZZ_CHECK(p.body_bytes() == st.body_seen, "body_bytes disagrees with the spans");
            if (p.head().body == framing::content_length)
                FUZZ_CHECK(st.body_seen <= p.head().content_length, "body beyond Content-Length");
            return true;
        }
        case parse_event::message_done: {
            FUZZ_CHECK(st.have_head, "message_done before head_done");
            const auto& h = p.head();
            if (h.body == framing::content_length)
                FUZZ_CHECK(st.body_seen == h.content_length, "CL %llu, body %llu",
                           static_cast<unsigned long long>(h.content_length),
                           static_cast<unsigned long long>(st.body_seen));
            if (h.body == framing::none) FUZZ_CHECK(st.body_seen == 0, "body on framing none");
            const auto again = p.feed(in.subspan(consumed));
            FUZZ_CHECK(again.event == parse_event::message_done && again.consumed == 0, "done not sticky");
            out.messages.push_back(st.cur + '|' + st.body);
            st.cur.clear();
            st.body.clear();
            st.have_head = false;
            st.body_seen = 0;
            if (h.status < 200) {
                p.next_response();
                return true;
            }
            out.complete = true;
            return false;
        }
        case parse_event::error: {
            FUZZ_CHECK(p.error() != errc::ok, "error event with errc::ok");
            FUZZ_CHECK(p.body_spans().empty(), "spans after error");
            const auto again = p.feed(in.subspan(consumed));
            FUZZ_CHECK(again.event == parse_event::error && again.consumed == 0, "error not sticky");
            const auto fin = p.finish();
            FUZZ_CHECK(fin.event == parse_event::error, "finish() after error");
            out.failed = true;
            out.error = p.error();
            return false;
        }
    }
    return false;
}

outcome run(response_parser& p, std::string_view method, std::string_view stream,
            const std::vector<std::size_t>& cuts, bool eof, const limits& l) {
    const bool head_request = method == "HEAD";
    p.reset(method);
    state st;
    std::size_t at = 0, k = 0;
    bool going = true;
    while (going && (at < stream.size() || k == 0)) {
        const std::size_t len = k < cuts.size() ? std::min(cuts[k], stream.size() - at) : stream.size() - at;
        ++k;
        std::unique_ptr<char[]> piece(new char[len == 0 ? 1 : len]);
        std::copy_n(stream.data() + at, len, piece.get());
        at += len;
        std::span<const char> in(piece.get(), len);
        int idle = 0;
        for (;;) {
            const auto r = p.feed(in);
            FUZZ_CHECK(r.consumed <= in.size(), "consumed %zu of %zu", r.consumed, in.size());
            idle = r.consumed == 0 ? idle + 1 : 0;
            FUZZ_CHECK(idle < 4, "no progress (event %d)", static_cast<int>(r.event));
            going = on_event(p, st, r.event, in, r.consumed, l, head_request);
            if (!going || r.event == parse_event::need_more) break;
            in = in.subspan(r.consumed);
        }
    }
    if (going && eof) {
        const bool was_started = p.started();
        const auto r = p.finish();
        FUZZ_CHECK(r.consumed == 0, "finish() consumed");
        FUZZ_CHECK(r.event == parse_event::message_done || r.event == parse_event::error || r.event == parse_event::body,
                   "finish() gave event %d", static_cast<int>(r.event));
        if (r.event == parse_event::error) FUZZ_CHECK(p.started() == was_started, "finish() changed started()");
        going = on_event(p, st, r.event, {}, 0, l, head_request);
        if (going && r.event == parse_event::body) {
            const auto r2 = p.finish();  // spans first, then message_done
            going = on_event(p, st, r2.event, {}, 0, l, head_request);
        }
        if (st.out.complete) {
            FUZZ_CHECK(p.finish().event == parse_event::message_done, "finish() after done");
        }
    }
    if (st.out.complete) {
        // next_response() after a final response is a caller bug: the parser fails.
        p.next_response();
        FUZZ_CHECK(p.feed({}).event == parse_event::error, "next_response() after a final response");
    }
    if (!st.out.failed && (st.have_head || !st.body.empty())) st.out.partial = st.cur + '|' + st.body;
    return st.out;
}

std::string describe(const outcome& o) {
    return std::to_string(o.messages.size()) + " messages, " + std::to_string(o.heads) + " heads, " +
           (o.complete ? "complete, " : "") +
           (o.failed ? "error " + std::to_string(static_cast<int>(o.error)) : std::string("no error")) +
           ", partial " + std::to_string(o.partial.size()) + " bytes";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    prefix ctl(data, size);
    const std::uint8_t mode = ctl.byte();
    const std::uint16_t head_bytes = ctl.u16();
    const std::uint8_t counts = ctl.byte();
    const std::uint16_t split = ctl.u16();
    const std::string_view stream = ctl.rest();

    const std::string_view method = (mode & 1) ? "HEAD" : "GET";
    const bool eof = (mode & 4) != 0;
    limits l;
    if (mode & 2) {
        l.response_header_bytes = 1u + head_bytes % 4096u;
        l.header_count = counts % 24u;
    }
    const std::size_t chunk = 1 + ((mode >> 3) & 7);

    response_parser p(l);
    const outcome whole = run(p, method, stream, {}, eof, l);

    response_parser p2(l);
    const std::size_t at = split % (stream.size() + 1);
    const outcome two = run(p2, method, stream, {at}, eof, l);
    FUZZ_CHECK(two == whole, "split at %zu: %s; whole: %s", at, describe(two).c_str(), describe(whole).c_str());

    response_parser p3(l);
    const outcome pieces = run(p3, method, stream, std::vector<std::size_t>(stream.size() / chunk + 1, chunk), eof, l);
    FUZZ_CHECK(pieces == whole, "pieces of %zu: %s; whole: %s", chunk, describe(pieces).c_str(),
               describe(whole).c_str());

    // reset() starts a new exchange afresh, whatever state (an error included) the parser was in.
    const outcome again = run(p3, method, stream, {}, eof, l);
    FUZZ_CHECK(again == whole, "after reset(): %s; whole: %s", describe(again).c_str(), describe(whole).c_str());
    return 0;
}
