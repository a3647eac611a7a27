// Golden files: every golden/<case>.toml is loaded with load_file() and its diagnostics, one
// to_string() per line, must equal golden/<case>.expected byte for byte. The golden directory's
// absolute path is replaced by "$DIR" so the files do not depend on where the tree is checked out.
//
// To regenerate after an intentional message change: ATSGATE_UPDATE_GOLDEN=1 ./unit_config
// "[golden]", then review the diff.

#include "config/loader.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace cfg = atsgate::config;

namespace {

const fs::path golden_dir{ATSGATE_CONFIG_GOLDEN_DIR};

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

std::string render(const cfg::diagnostics& diags) {
    std::string out;
    for (const auto& d : diags) out += replace_all(d.to_string(), golden_dir.string(), "$DIR") + "\n";
    return out;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

std::vector<fs::path> golden_cases() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(golden_dir))
        if (e.is_regular_file() && e.path().extension() == ".toml") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("config: golden config files produce exactly the expected diagnostics", "[config][golden]") {
    const auto cases = golden_cases();
    REQUIRE(cases.size() >= 20);
    const bool update = std::getenv("ATSGATE_UPDATE_GOLDEN") != nullptr;
    for (const auto& toml_path : cases) {
        DYNAMIC_SECTION(toml_path.stem().string()) {
            const auto result = cfg::load_file(toml_path.string());
            const std::string actual = render(result.diags);
            fs::path expected_path = toml_path;
            expected_path.replace_extension(".expected");
            if (update) std::ofstream(expected_path, std::ios::binary) << actual;
            REQUIRE(fs::exists(expected_path));
            CHECK(actual == slurp(expected_path));
            // The result carries a config exactly when nothing is an error.
            CHECK(result.value.has_value() == !cfg::has_errors(result.diags));
            // Every diagnostic names the file it came from and renders as exactly one line.
            for (const auto& d : result.diags) {
                CHECK(d.where.file == toml_path.string());
                CHECK(d.to_string().find('\n') == std::string::npos);
            }
            // File order: positions never go backwards; position-less ones come last.
            for (std::size_t i = 1; i < result.diags.size(); ++i) {
                const auto& a = result.diags[i - 1].where;
                const auto& b = result.diags[i].where;
                if (b.line == 0) continue;
                CHECK(a.line != 0);
                CHECK(std::pair(a.line, a.column) <= std::pair(b.line, b.column));
            }
        }
    }
}
