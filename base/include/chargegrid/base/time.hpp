// UTC time as RFC 3339 text: the one parser and formatter every library uses; and durations
// as log lines give them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace chargegrid::base {

using TimePoint = std::chrono::system_clock::time_point;

// Digits after the seconds that format_rfc3339 writes.
enum class TimePrecision { kSeconds, kMilliseconds, kMicroseconds };

// What the parser accepts beyond the strict RFC 3339 date-time
// (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 'T' and 'Z' in either case).
struct Rfc3339Options {
  bool space_separator = false;   // "2026-01-01 10:00:00Z", as RFC 3339 §5.6 permits
  bool optional_seconds = false;  // "2026-01-01T10:00Z" (ISO 8601 reduced precision)
  bool compact_offset = false;    // "+0100" as well as "+01:00"
  int max_offset_hours = 23;
};

struct ParsedTime {
  TimePoint utc;
  std::chrono::minutes offset{0};  // the text's UTC offset; 0 for "Z"
};

// Whether `text` is a date-time naming a real instant (not Feb 30, hour 24 or minute 60), in
// any year from 0000 to 9999. A leap second (:60) is read as the next minute's first second.
bool is_rfc3339(std::string_view text, const Rfc3339Options& options = {});

// The instant, or nullopt where is_rfc3339 says no or the year lies outside what a TimePoint
// holds (1678 to 2261). Fraction digits past nanoseconds are dropped.
std::optional<ParsedTime> parse_rfc3339_with_offset(std::string_view text,
                                                    const Rfc3339Options& options = {});
std::optional<TimePoint> parse_rfc3339(std::string_view text, const Rfc3339Options& options = {});

// "2026-03-01T12:00:00.000Z" (truncated, never rounded, to the precision).
std::string format_rfc3339(TimePoint time, TimePrecision precision = TimePrecision::kMilliseconds);
// The same instant as local time at `offset`, with a numeric offset ("+01:00", "+00:00").
std::string format_rfc3339(TimePoint time, TimePrecision precision, std::chrono::minutes offset);

// RFC 3339 full-date ("2026-12-24"): the day, or nullopt unless it is a real day (not Feb 30)
// of the years 0001 to 9999.
std::optional<std::chrono::sys_days> parse_date(std::string_view text);
// "2026-12-24".
std::string format_date(std::chrono::sys_days day);

// Now, as OCPP's dateTime: UTC with milliseconds.
std::string now_rfc3339();

// Whole milliseconds from `from` to `to` (durations in log lines).
inline long long milliseconds_between(std::chrono::steady_clock::time_point from,
                                      std::chrono::steady_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

}  // namespace chargegrid::base
