// Fuzz target: http::request_parser (client bytes, the most exposed input atsgate has).
//
// Input: 6 control bytes, then the byte stream a client sends (pipelined requests allowed).
//   [0] bit 0: small limits from [1..3] (else the defaults); bits 1-3: chunk size (1..8) of run 3
//   [1..2] header_bytes = 1 + n % 2048, [3] header_count = n % 24 and body_bytes = 0 (no limit) when
//          n < 24, else n   (only with small limits)
//   [4..5] split point of run 2 (n % (size + 1))
// The stream is parsed three times, the way downstream/connection drives the parser (reset after
// each message_done), each piece in its own exactly-sized heap buffer freed after use (so ASan
// sees any read past a piece or any pointer kept across feeds):
//   1. whole, 2. in two pieces at the split point, 3. in pieces of 1..8 bytes;
// (accepted targets must be normalised: a fixed point of normalize_target)
// then once more whole on the same parser after restart(). All four must give the same messages,
// heads, partial message and error. Every feed() checks the event contract (request_parser.hpp).

#include "fuzz_check.hpp"

#include "proxy/http/request_parser.hpp"
#include "proxy/http/target.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace atsgate::http;
using atsgate::fuzz::prefix;

namespace {

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto l = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
        if (l(a[i]) != l(b[i])) return false;
    }
    return true;
}

// The head contract (message.hpp, request_parser.hpp) and a canonical text form for comparisons.
std::string check_and_serialize(const request_head& h, const limits& l) {
    FUZZ_CHECK(!h.method.empty(), "empty method");
    for (char c : h.method) FUZZ_CHECK(is_tchar(c), "method char 0x%02x", static_cast<unsigned char>(c));
    FUZZ_CHECK(h.method != "CONNECT", "CONNECT accepted");
    if (h.target == "*") {
        FUZZ_CHECK(h.method == "OPTIONS", "asterisk-form with %.*s", static_cast<int>(h.method.size()), h.method.data());
    } else {
        FUZZ_CHECK(!h.target.empty() && h.target.front() == '/', "target not origin-form");
        FUZZ_CHECK(h.target.find('#') == std::string_view::npos, "fragment in target");
        // The head carries the normalised target (target.hpp): normalising it again changes nothing.
        target_status st{};
        FUZZ_CHECK(normalized_copy(h.target, &st) == h.target && st == target_status::ok, "target not normalised");
    }
    FUZZ_CHECK(h.version_major == 1 && h.version_minor <= 1, "version %d.%d", h.version_major, h.version_minor);
    FUZZ_CHECK(h.headers.size() <= l.header_count, "%zu headers over the limit %u", h.headers.size(), l.header_count);

    std::size_t text = h.method.size() + h.target.size();
    unsigned hosts = 0, lengths = 0, codings = 0;
    std::string_view host;
    for (const auto& f : h.headers) {
        FUZZ_CHECK(!f.name.empty(), "empty header name");
        for (char c : f.name) FUZZ_CHECK(is_tchar(c), "header name char 0x%02x", static_cast<unsigned char>(c));
        for (char c : f.value) {
            const auto u = static_cast<unsigned char>(c);
            FUZZ_CHECK((u >= 0x20 || u == '\t') && u != 0x7f, "header value char 0x%02x", u);
        }
        if (!f.value.empty()) {
            FUZZ_CHECK(f.value.front() != ' ' && f.value.front() != '\t', "value not trimmed");
            FUZZ_CHECK(f.value.back() != ' ' && f.value.back() != '\t', "value not trimmed");
        }
        text += f.name.size() + f.value.size();
        if (ieq(f.name, "host")) {
            ++hosts;
            host = f.value;
        }
        lengths += ieq(f.name, "content-length");
        codings += ieq(f.name, "transfer-encoding");
    }
    FUZZ_CHECK(text <= l.header_bytes, "head text %zu over the limit %u", text, l.header_bytes);
    FUZZ_CHECK(hosts <= 1, "%u Host fields accepted", hosts);
    if (h.version_minor == 1) FUZZ_CHECK(hosts == 1, "HTTP/1.1 without Host accepted");
    FUZZ_CHECK(h.host == host, "host() is not the Host field");
    FUZZ_CHECK(!(lengths > 0 && codings > 0), "CL + TE accepted");
    FUZZ_CHECK(lengths <= 1 && codings <= 1, "duplicate framing fields accepted");
    switch (h.body) {
        case framing::none: FUZZ_CHECK(lengths == 0 && codings == 0, "framing none with CL/TE"); break;
        case framing::content_length:
            FUZZ_CHECK(lengths == 1, "content_length framing without CL");
            FUZZ_CHECK(l.body_bytes == 0 || h.content_length <= l.body_bytes, "CL over the body limit accepted");
            break;
        case framing::chunked: FUZZ_CHECK(codings == 1 && h.version_minor == 1, "chunked without TE / on 1.0"); break;
        case framing::until_close: FUZZ_CHECK(false, "until_close framing on a request"); break;
    }
    if (h.version_minor == 0) FUZZ_CHECK(!h.expect_continue, "100-continue on HTTP/1.0");

    std::string s;
    s.append(h.method).append(1, '\0').append(h.target).append(1, '\0');
    s += static_cast<char>('0' + h.version_minor);
    for (const auto& f : h.headers) s.append(f.name).append(1, ':').append(f.value).append(1, '\n');
    s += static_cast<char>('0' + static_cast<int>(h.body));
    s += std::to_string(h.content_length);
    s += h.keep_alive ? 'K' : 'k';
    s += h.expect_continue ? 'E' : 'e';
    s.append(h.host);
    return s;
}

struct outcome {
    std::vector<std::string> messages;  // completed messages: head + '|' + body
    std::string partial;                // the unfinished last message (head if seen, body so far)
    unsigned heads = 0;
    bool failed = false;
    errc error = errc::ok;
    bool operator==(const outcome&) const = default;
};

// Feeds `stream` cut into pieces of the given lengths (the remainder as a last piece).
outcome run(request_parser& p, std::string_view stream, const std::vector<std::size_t>& cuts, const limits& l) {
    outcome out;
    std::string cur;  // serialized head of the current message
    std::string body;
    bool have_head = false;
    std::uint64_t body_seen = 0;

    std::size_t at = 0;
    std::size_t k = 0;
    while (at < stream.size() || (at == 0 && stream.empty() && k == 0)) {
        const std::size_t len = k < cuts.size() ? std::min(cuts[k], stream.size() - at) : stream.size() - at;
        ++k;
        // A fresh, exactly sized buffer per read: ASan flags reads past it or after it is freed.
        std::unique_ptr<char[]> piece(new char[len == 0 ? 1 : len]);
        std::copy_n(stream.data() + at, len, piece.get());
        at += len;
        std::span<const char> in(piece.get(), len);
        int idle = 0;  // events in a row that consumed nothing
        for (;;) {
            const auto r = p.feed(in);
            FUZZ_CHECK(r.consumed <= in.size(), "consumed %zu of %zu", r.consumed, in.size());
            idle = r.consumed == 0 ? idle + 1 : 0;
            FUZZ_CHECK(idle < 4, "no progress (event %d)", static_cast<int>(r.event));
            FUZZ_CHECK(p.started() || r.event == parse_event::need_more || r.event == parse_event::error,
                       "event %d before any byte", static_cast<int>(r.event));
            switch (r.event) {
                case parse_event::need_more:
                    FUZZ_CHECK(r.consumed == in.size(), "need_more left %zu bytes", in.size() - r.consumed);
                    break;
                case parse_event::head_done:
                    FUZZ_CHECK(!have_head, "second head_done in one message");
                    have_head = true;
                    ++out.heads;
                    cur = check_and_serialize(p.head(), l);
                    break;
                case parse_event::body: {
                    FUZZ_CHECK(have_head, "body before head_done");
                    FUZZ_CHECK(!p.body_spans().empty(), "body event without spans");
                    const char* prev_end = in.data();
                    for (const auto s : p.body_spans()) {
                        FUZZ_CHECK(!s.empty(), "empty body span");
                        FUZZ_CHECK(s.data() >= prev_end, "body span before the previous one / the input");
                        FUZZ_CHECK(s.data() + s.size() <= in.data() + r.consumed, "body span past consumed input");
                        body.append(s.data(), s.size());
                        body_seen += s.size();
                        prev_end = s.data() + s.size();
                    }
                    FUZZ_CHECK(p.body_bytes() == body_seen, "body_bytes %llu, spans %llu",
                               static_cast<unsigned long long>(p.body_bytes()),
                               static_cast<unsigned long long>(body_seen));
                    if (l.body_bytes != 0) FUZZ_CHECK(body_seen <= l.body_bytes, "body over the limit");
                    if (p.head().body == framing::content_length)
                        FUZZ_CHECK(body_seen <= p.head().content_length, "body beyond Content-Length");
                    FUZZ_CHECK(p.head().body != framing::none, "body on a message without one");
                    break;
                }
                case parse_event::message_done: {
                    FUZZ_CHECK(have_head, "message_done before head_done");
                    const auto& h = p.head();
                    if (h.body == framing::content_length)
                        FUZZ_CHECK(body_seen == h.content_length, "CL %llu, body %llu",
                                   static_cast<unsigned long long>(h.content_length),
                                   static_cast<unsigned long long>(body_seen));
                    if (h.body == framing::none) FUZZ_CHECK(body_seen == 0, "body on framing none");
                    // Stays done until reset().
                    const auto again = p.feed(in.subspan(r.consumed));
                    FUZZ_CHECK(again.event == parse_event::message_done && again.consumed == 0, "done not sticky");
                    out.messages.push_back(cur + '|' + body);
                    cur.clear();
                    body.clear();
                    have_head = false;
                    body_seen = 0;
                    p.reset();
                    break;
                }
                case parse_event::error: {
                    FUZZ_CHECK(p.error() != errc::ok, "error event with errc::ok");
                    FUZZ_CHECK(p.body_spans().empty(), "spans after error");
                    const auto again = p.feed(in.subspan(r.consumed));
                    FUZZ_CHECK(again.event == parse_event::error && again.consumed == 0, "error not sticky");
                    p.reset();  // sticky across reset() too
                    const auto after_reset = p.feed(in);
                    FUZZ_CHECK(after_reset.event == parse_event::error && after_reset.consumed == 0,
                               "reset() cleared an error");
                    out.failed = true;
                    out.error = p.error();
                    break;
                }
            }
            if (r.event == parse_event::error) break;
            in = in.subspan(r.consumed);
            if (r.event == parse_event::need_more) break;
        }
        if (out.failed) break;
        if (stream.empty()) break;
    }
    if (!out.failed && (have_head || !body.empty())) out.partial = cur + '|' + body;
    return out;
}

std::string describe(const outcome& o) {
    return std::to_string(o.messages.size()) + " messages, " + std::to_string(o.heads) + " heads, " +
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

    limits l;
    if (mode & 1) {
        l.header_bytes = 1u + head_bytes % 2048u;
        l.header_count = counts % 24u;
        l.body_bytes = counts < 24 ? 0 : counts;
    }
    const std::size_t chunk = 1 + ((mode >> 1) & 7);

    request_parser p(l);
    p.reset();
    const outcome whole = run(p, stream, {}, l);

    request_parser p2(l);
    p2.reset();
    const outcome two = run(p2, stream, {split % (stream.size() + 1)}, l);
    FUZZ_CHECK(two == whole, "split at %zu: %s; whole: %s", split % (stream.size() + 1), describe(two).c_str(),
               describe(whole).c_str());

    request_parser p3(l);
    p3.reset();
    const std::vector<std::size_t> small(stream.size() / chunk + 1, chunk);
    const outcome pieces = run(p3, stream, small, l);
    FUZZ_CHECK(pieces == whole, "pieces of %zu: %s; whole: %s", chunk, describe(pieces).c_str(),
               describe(whole).c_str());

    // A pooled parser changing hands: restart() must forget everything, a sticky error included.
    p3.restart();
    const outcome again = run(p3, stream, {}, l);
    FUZZ_CHECK(again == whole, "after restart(): %s; whole: %s", describe(again).c_str(), describe(whole).c_str());
    return 0;
}
