#include "proxy/server/log_format.hpp"

#include "util/json.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace atsgate::server {

namespace {

constexpr const char* text_event_pattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v";
// %* is the message as a JSON string body (escaped).
constexpr const char* json_event_pattern = R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%*"})";
constexpr const char* text_access_pattern = "%Y-%m-%dT%H:%M:%S.%e%z %v";
// The connection writes the other fields as `"client":...,"method":...` (the object's tail).
constexpr const char* json_access_pattern = R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z",%v})";

// The payload as the body of a JSON string: util::json_quote's escaping (quotes, backslashes,
// control characters, invalid UTF-8), without its surrounding quotes.
class json_message_flag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const std::string q = util::json_quote(std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(q.data() + 1, q.data() + q.size() - 1);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<json_message_flag>(); }
};

}  // namespace

void set_event_log_format(config::log_format f) {
    auto logger = spdlog::default_logger();
    if (f == config::log_format::json) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<json_message_flag>('*').set_pattern(json_event_pattern);
        logger->set_formatter(std::move(formatter));
    } else {
        logger->set_pattern(text_event_pattern);
    }
}

void set_access_log_format(spdlog::logger& access, config::log_format f) {
    access.set_pattern(f == config::log_format::json ? json_access_pattern : text_access_pattern);
}

}  // namespace atsgate::server
