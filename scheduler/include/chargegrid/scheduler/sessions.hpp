#pragma once
// Finished charging sessions as the scheduler learns from them, and the readers for the
// session files it accepts (the generic CSV and the Norway residential data set).

#include <chrono>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace chargegrid::scheduler {

using Time = std::chrono::sys_seconds;

struct FinishedSession {
  std::string user_id;  // driver or token id
  std::string site_id;
  std::string station_id;  // may be empty
  Time plugin{};
  Time plugout{};
  std::int64_t energy_wh = 0;
  // Offset of the site's local time from UTC at plug-in; time-of-day patterns are local.
  std::chrono::minutes utc_offset{0};
};

struct SessionFile {
  std::vector<FinishedSession> sessions;
  // One message per rejected row ("line N: reason"); rejected rows are skipped, never guessed.
  std::vector<std::string> rejected;
};

// Generic CSV: header `user_id,site_id,plugin_time,plugout_time,energy_kwh`, times ISO 8601
// with a UTC offset (2024-03-01T18:05:00+01:00 or ...Z), energy a decimal number of kWh.
SessionFile read_generic_csv(std::istream& in);

// Native format of the Norway residential data set (Sørensen 2024): `;`-separated, decimal
// commas, local Norwegian wall-clock times (converted to UTC with the EU summer-time rule).
SessionFile read_norway_csv(std::istream& in);

// Parses "YYYY-MM-DDTHH:MM[:SS][.fff](Z|+HH:MM|-HH:MM)"; returns false on anything else.
bool parse_iso8601(const std::string& text, Time& out, std::chrono::minutes& offset);
// Formats with the given offset, e.g. "2024-03-01T18:05:00+01:00".
std::string format_iso8601(Time t, std::chrono::minutes offset = std::chrono::minutes{0});

// Offset of Norwegian local time (CET/CEST) from UTC for a local wall-clock time. In the
// repeated autumn hour the summer-time reading is taken.
std::chrono::minutes oslo_offset_for_local(std::chrono::local_seconds local);

}  // namespace chargegrid::scheduler
