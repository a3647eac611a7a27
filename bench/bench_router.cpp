// Router hot path (proxy/router): route_table::match per request, as downstream/connection calls it
// once per request head. The table is built once outside the loop (as a snapshot does); match()
// allocates nothing. Items are requests. Report ns/request from
// `--benchmark_repetitions=5 --benchmark_report_aggregates_only=true` on a Release build.

#include "proxy/router/route_table.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using namespace atsgate;

// Listener 0 ("mdm"): Arg host-less routes "/svc<i>/api" (i = 0..Arg-1) plus "/mdm/checkin" and
// "/mdm"; listener 1: a kind = "scep" listener with scep_path "/scep".
config::config make_config(std::size_t routes) {
    config::config c;
    config::upstream u;
    u.name = "legacy";
    c.upstreams.push_back(u);
    config::listener l;
    l.name = "mdm";
    l.upstream = "legacy";
    l.upstream_index = 0;
    auto add = [&](std::string path) {
        config::route r;
        r.path = std::move(path);
        r.targets.push_back(config::split_target{"legacy", 0, 1});
        l.routes.push_back(std::move(r));
    };
    for (std::size_t i = 0; i < routes; ++i) add("/svc" + std::to_string(i) + "/api");
    add("/mdm/checkin");
    add("/mdm");
    c.listeners.push_back(l);
    config::listener s;
    s.name = "scep";
    s.kind = config::listener_kind::scep;
    s.upstream = "legacy";
    s.upstream_index = 0;
    s.scep_path = "/scep";
    c.listeners.push_back(s);
    return c;
}

http::request_head head_for(std::string_view target) {
    http::request_head h;
    h.method = "PUT";
    h.target = target;
    h.host = "mdm.example.com";
    return h;
}

void run(benchmark::State& state, std::size_t listener, const http::request_head& h) {
    const router::route_table t(make_config(static_cast<std::size_t>(state.range(0))));
    router::sticky_inputs in;
    for (auto _ : state) {
        in.random += 1;
        const auto d = t.match(listener, h, in);
        benchmark::DoNotOptimize(d);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// A check-in (PUT /mdm/checkin) on a listener with Arg other routes that do not match before it
// (longest prefix first: every "/svc<i>/api" is compared). Arg = number of other routes.
void BM_route_checkin(benchmark::State& state) { run(state, 0, head_for("/mdm/checkin")); }
BENCHMARK(BM_route_checkin)->Arg(0)->Arg(8)->Arg(64);

// A target no route matches (the default upstream) after Arg + 2 routes were tried.
void BM_route_default(benchmark::State& state) { run(state, 0, head_for("/other/path?x=1")); }
BENCHMARK(BM_route_default)->Arg(0)->Arg(8)->Arg(64);

// A SCEP GetCACaps on the plaintext listener (method, query and scep_path checks). Arg unused (0).
void BM_route_scep(benchmark::State& state) {
    auto h = head_for("/scep?operation=GetCACaps");
    h.method = "GET";
    run(state, 1, h);
}
BENCHMARK(BM_route_scep)->Arg(0);

}  // namespace
