// The Prometheus text writer and the workers' exposition built on it.
#include "proxy/server/metrics.hpp"
#include "proxy/server/prometheus.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>

namespace atsgate::server {

TEST_CASE("prometheus: family lines, samples and escaped label values", "[unit][server][metrics]") {
    std::string out;
    prometheus::family(out, "x_total", "counter", "Things counted.");
    prometheus::sample(out, "x_total", "", std::uint64_t{18446744073709551615ull});
    prometheus::sample(out, "x_total", prometheus::labels({{"a", "plain"}, {"b", "q\"uo\\te\nnl"}}), std::int64_t{-1});
    CHECK(out ==
          "# HELP x_total Things counted.\n"
          "# TYPE x_total counter\n"
          "x_total 18446744073709551615\n"
          "x_total{a=\"plain\",b=\"q\\\"uo\\\\te\\nnl\"} -1\n");
    CHECK(prometheus::labels({}) == "{}");
}

TEST_CASE("render_metrics: every sample follows its family's HELP and TYPE and sums the workers",
          "[unit][server][metrics]") {
    downstream::stats a, b;
    downstream::stats::inc(a.requests, 3);
    downstream::stats::inc(b.requests, 4);
    downstream::stats::inc(a.refused[1], 5);
    downstream::stats::inc(b.refused[1], 6);
    downstream::stats::inc(b.responses[5], 7);
    downstream::stats::inc(a.dropped_identity, 8);
    const std::string text = render_metrics({&a, &b});

    std::map<std::string, std::string> value;  // series -> value
    std::string help, type;
    std::istringstream in(text);
    int samples = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# HELP ", 0) == 0) {
            help = line.substr(7, line.find(' ', 7) - 7);
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0) {
            type = line.substr(7, line.find(' ', 7) - 7);
            CHECK(type == help);
            continue;
        }
        const auto space = line.rfind(' ');
        REQUIRE(space != std::string::npos);
        const std::string series = line.substr(0, space);
        CHECK(series.substr(0, series.find('{')) == type);  // a sample of the family just announced
        CHECK(value.emplace(series, line.substr(space + 1)).second);  // no series twice
        ++samples;
    }
    CHECK(samples > 40);
    CHECK(value["atsgate_requests_total"] == "7");
    CHECK(value["atsgate_handshake_refused_total{reason=\"" + std::string(tls::to_string(tls::refusal{1})) + "\"}"] == "11");
    CHECK(value["atsgate_responses_total{class=\"5xx\"}"] == "7");
    CHECK(value["atsgate_responses_total{class=\"1xx\"}"] == "0");
    CHECK(value["atsgate_request_headers_dropped_total{reason=\"identity\"}"] == "8");
    CHECK(value["atsgate_connections_active"] == "0");
    CHECK(render_summary({&a, &b}).rfind("connections=0 handshakes=0 requests=7 refused: ", 0) == 0);
}

}  // namespace atsgate::server
