#include "chargegrid/base/log.hpp"

#include <nlohmann/json.hpp>

namespace chargegrid::base::log {
namespace {

bool json_format = false;

void append_text_value(std::string& out, const Field& field) {
  const bool needs_quotes =
      field.value.empty() || field.value.find_first_of(" \t\"=\n\r") != std::string::npos;
  if (!needs_quotes) {
    out += field.value;
    return;
  }
  out += '"';
  for (char c : field.value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}

}  // namespace

void setup(const std::string& level, const std::string& format) {
  json_format = format == "json";
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern(json_format ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})"
                                  : "%Y-%m-%dT%H:%M:%S.%fZ level=%l %v",
                      spdlog::pattern_time_type::utc);
}

void write(spdlog::level::level_enum level, std::string_view event,
           std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128);
  if (json_format) {
    line += "\"event\":";
    line += nlohmann::json(event).dump();
    for (const auto& f : fields) {
      line += ',';
      line += nlohmann::json(f.key).dump();
      line += ':';
      line += f.quoted ? nlohmann::json(f.value).dump(-1, ' ', false,
                                                      nlohmann::json::error_handler_t::replace)
                       : f.value;
    }
  } else {
    line += "event=";
    line += event;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      append_text_value(line, f);
    }
  }
  spdlog::log(level, "{}", line);
}

}  // namespace chargegrid::base::log
