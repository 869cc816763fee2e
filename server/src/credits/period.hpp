#pragma once
// A reporting period: a calendar month ("2026-11") or quarter ("2026-Q4") in UTC.

#include <chrono>
#include <optional>
#include <string>

namespace chargegrid::server::credits {

struct Period {
  std::string name;  // "2026-11" or "2026-Q4"
  std::chrono::sys_days start;
  std::chrono::sys_days end;  // exclusive: the first day of the next period
};

// nullopt for anything but YYYY-MM (01..12) or YYYY-Qn (1..4), years 2000..9999.
std::optional<Period> parse_period(const std::string& text);
// The last month that ended before `now`: the default report period.
Period previous_month(std::chrono::system_clock::time_point now);
// "YYYY-MM-DDT00:00:00.000Z"
std::string day_text(std::chrono::sys_days day);

}  // namespace chargegrid::server::credits
