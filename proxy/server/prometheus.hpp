#pragma once
// Writing the Prometheus text exposition format (version 0.0.4): a metric family's HELP and TYPE
// lines, its samples, and escaped label values. Shared by the workers' counters (metrics.cpp) and
// the operator series (ops_metrics.cpp).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace atsgate::server::prometheus {

// "# HELP name help\n# TYPE name type\n" (`type` is "counter" or "gauge").
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help);

// `{k1="v1",k2="v2"}` with every value escaped (backslash, double quote, newline).
std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

// "name<labels> value\n"; `labels` from labels(), or "" for none.
void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value);
void sample(std::string& out, std::string_view name, std::string_view labels, std::int64_t value);

// A family with one unlabelled sample.
template <class Value>
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help, Value value) {
    family(out, name, type, help);
    sample(out, name, "", value);
}

}  // namespace atsgate::server::prometheus
