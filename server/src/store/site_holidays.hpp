#pragma once
// sites.holiday_calendar, sites.holidays_version and site_holidays (migration 0030): each site's
// public holidays, a built-in calendar's (scheduler/holidays.hpp) and dates of its own. The REST
// API writes them (PUT /api/v1/sites/{id}/holidays) after checking them; smart charging's
// departure predictor reads them as Sundays.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::site_holidays {

struct Day {
  std::chrono::sys_days date;
  std::optional<std::string> name;
};

struct Holidays {
  std::optional<std::string> calendar;  // a built-in calendar's code ("NO"), or none
  std::vector<Day> days;                // the site's own dates, by date
  std::int64_t version = 0;             // how many times they were set
};

// nullopt when there is no such site.
std::optional<Holidays> find(Tx& tx, std::int64_t site_id);
// Replaces the site's calendar and dates (each date once: the caller checks) and counts the
// change in its version. False when there is no such site.
bool put(Tx& tx, std::int64_t site_id, const std::optional<std::string>& calendar,
         const std::vector<Day>& days);
// Every site whose holidays were ever set, by id.
std::map<std::int64_t, Holidays> all(Tx& tx);

}  // namespace chargegrid::server::store::site_holidays
