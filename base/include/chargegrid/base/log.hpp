#pragma once
// Structured logs: one line per event, `key=value` text or one JSON object (--log-format),
// with `station=<id>` on every line that concerns a station. Every library logs through it.

#include <spdlog/spdlog.h>

#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>

namespace chargegrid::base::log {

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  template <std::integral T>
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v) : key(k), value(std::to_string(v)), quoted(false) {}

  std::string_view key;
  std::string value;
  bool quoted = true;
};

// Level ("info", "debug", ...) and format ("text" or "json") for the whole process.
void setup(const std::string& level, const std::string& format);
void write(spdlog::level::level_enum level, std::string_view event,
           std::initializer_list<Field> fields);

inline void debug(std::string_view event, std::initializer_list<Field> f = {}) {
  if (spdlog::should_log(spdlog::level::debug)) write(spdlog::level::debug, event, f);
}
inline void info(std::string_view event, std::initializer_list<Field> f = {}) {
  write(spdlog::level::info, event, f);
}
inline void warn(std::string_view event, std::initializer_list<Field> f = {}) {
  write(spdlog::level::warn, event, f);
}
inline void error(std::string_view event, std::initializer_list<Field> f = {}) {
  write(spdlog::level::err, event, f);
}

}  // namespace chargegrid::base::log
