// The key tables of config/schema.hpp against the README's configuration reference, so that the
// places a key is spelled cannot drift apart: every key of a table is documented under that
// table's header, and every `key = ...` line the reference shows under a header is a key of
// that table.

#include "config/schema.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace schema = atsgate::config::schema;

namespace {

std::string readme_reference() {
    std::ifstream in(ATSGATE_README);
    REQUIRE(in);
    std::ostringstream os;
    os << in.rdbuf();
    const std::string text = os.str();
    const auto begin = text.find("## Configuration reference");
    REQUIRE(begin != std::string::npos);
    const auto end = text.find("\n## ", begin + 1);
    return text.substr(begin, end - begin);
}

// The reference's TOML example split at its table headers: header -> the lines below it.
std::map<std::string, std::vector<std::string>> chunks_by_header(const std::string& reference) {
    std::map<std::string, std::vector<std::string>> out;
    const std::regex header(R"(^(\[\[?[a-z.]+\]\]?)(\s.*)?$)");
    std::istringstream in(reference);
    std::string line;
    std::string current;
    while (std::getline(in, line)) {
        if (line.rfind("```", 0) == 0 && !current.empty()) break;  // end of the example
        std::smatch m;
        if (std::regex_match(line, m, header)) {
            current = m[1];
            out[current];
            continue;
        }
        if (!current.empty()) out[current].push_back(line);
    }
    return out;
}

// Keys a chunk shows as `key = value` at the start of a line (not commented out).
std::set<std::string> written_keys(const std::vector<std::string>& lines) {
    std::set<std::string> out;
    const std::regex assignment(R"(^([a-z0-9_]+) = )");
    for (const auto& l : lines) {
        std::smatch m;
        if (std::regex_search(l, m, assignment)) out.insert(m[1]);
    }
    return out;
}

bool mentions(const std::vector<std::string>& lines, std::string_view key) {
    const std::regex word("(^|[^a-z0-9_])" + std::string(key) + "([^a-z0-9_]|$)");
    for (const auto& l : lines)
        if (std::regex_search(l, word)) return true;
    return false;
}

}  // namespace

TEST_CASE("config schema: every key is in the README's configuration reference under its table", "[config][schema]") {
    const auto chunks = chunks_by_header(readme_reference());
    // Tables without a header of their own are documented inside their parent's chunk.
    struct table {
        std::string_view header;
        std::span<const std::string_view> keys;
        std::vector<std::string_view> documented_in;  // headers whose chunks may mention the key
    };
    const table tables[] = {
        {"[server]", schema::server_key_names, {"[server]"}},
        {"[timeouts]", schema::timeout_key_names, {"[timeouts]"}},
        {"[limits]", schema::limit_key_names, {"[limits]"}},
        // The scep keys are shown after the routes, as the alternative to the TLS keys.
        {"[[listener]]", schema::listener_key_names, {"[[listener]]", "[[listener.route]]"}},
        {"[[listener.certificate]]", schema::certificate_key_names, {"[[listener.certificate]]"}},
        {"[[listener.route]]", schema::route_key_names, {"[[listener.route]]"}},
        {"split", schema::split_key_names, {"[[listener.route]]"}},
        {"[[upstream]]", schema::upstream_key_names, {"[[upstream]]"}},
        {"members", schema::member_key_names, {"[[upstream]]"}},
        {"[admin]", schema::admin_key_names, {"[admin]"}},
        {"[acme]", schema::acme_key_names, {"[acme]"}},
    };
    for (const auto& t : tables) {
        for (const auto k : t.keys) {
            DYNAMIC_SECTION(t.header << " " << k) {
                bool found = false;
                for (const auto h : t.documented_in) {
                    const auto it = chunks.find(std::string(h));
                    REQUIRE(it != chunks.end());
                    found = found || mentions(it->second, k);
                }
                CHECK(found);
            }
        }
    }
}

TEST_CASE("config schema: every key the README's reference assigns exists in that table", "[config][schema]") {
    const auto chunks = chunks_by_header(readme_reference());
    REQUIRE(chunks.size() == std::size(schema::sections));
    for (const auto& sec : schema::sections) {
        const auto it = chunks.find(std::string(sec.header));
        REQUIRE(it != chunks.end());
        for (const auto& k : written_keys(it->second)) {
            DYNAMIC_SECTION(sec.header << " " << k) {
                CHECK(std::find(sec.keys.begin(), sec.keys.end(), k) != sec.keys.end());
            }
        }
    }
}

TEST_CASE("config schema: key names are unique per table", "[config][schema]") {
    for (const auto& sec : schema::sections) {
        std::set<std::string_view> seen;
        for (const auto k : sec.keys) {
            INFO(sec.header << " " << k);
            CHECK(seen.insert(k).second);
        }
    }
}
