#pragma once
// Public-holiday calendars for the departure predictor (PredictorSettings::holidays counts each
// date as a Sunday). Built in: "NO", Norway. A site adds dates of its own to a calendar.

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chargegrid::scheduler {

struct Holiday {
  std::chrono::sys_days date;
  std::string name;            // empty when a site's own date has none
  bool from_calendar = false;  // a built-in calendar's, not one of the site's own dates
};

// The codes of the built-in calendars: "NO" (Norway's public holidays with Christmas Eve and
// New Year's Eve, when most workplaces close).
std::vector<std::string_view> holiday_calendars();
bool is_holiday_calendar(std::string_view calendar);

// Easter Sunday of a Gregorian year.
std::chrono::sys_days easter_sunday(int year);

// The holidays of a built-in calendar in the years from_year to to_year (inclusive), by date.
// Throws std::invalid_argument for a calendar that is not built in.
std::vector<Holiday> public_holidays(std::string_view calendar, int from_year, int to_year);

// The days a site counts as holidays from `from` to `to` (inclusive), by date, each once: those
// of the built-in `calendar` (none when empty) and the site's `own` dates, whose name wins where
// both have a date.
std::vector<Holiday> holidays_between(std::string_view calendar, std::span<const Holiday> own,
                                      std::chrono::sys_days from, std::chrono::sys_days to);

}  // namespace chargegrid::scheduler
