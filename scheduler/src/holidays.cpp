#include "chargegrid/scheduler/holidays.hpp"

#include <algorithm>
#include <stdexcept>

namespace chargegrid::scheduler {
namespace {

using namespace std::chrono;

struct FixedDate {
  unsigned month, day;
  const char* name;
};
struct EasterDate {
  int days_from_easter;
  const char* name;
};

// Norway: the public holidays (Sundays among them) and Christmas Eve and New Year's Eve, when
// most workplaces close too.
constexpr FixedDate kNorwayFixed[] = {{1, 1, "New Year's Day"},    {5, 1, "Labour Day"},
                                      {5, 17, "Constitution Day"}, {12, 24, "Christmas Eve"},
                                      {12, 25, "Christmas Day"},   {12, 26, "Boxing Day"},
                                      {12, 31, "New Year's Eve"}};
constexpr EasterDate kNorwayEaster[] = {
    {-3, "Maundy Thursday"}, {-2, "Good Friday"}, {0, "Easter Sunday"}, {1, "Easter Monday"},
    {39, "Ascension Day"},   {49, "Whit Sunday"}, {50, "Whit Monday"}};

struct Calendar {
  std::string_view code;
  std::span<const FixedDate> fixed;
  std::span<const EasterDate> easter;
};
constexpr Calendar kCalendars[] = {{"NO", kNorwayFixed, kNorwayEaster}};

const Calendar* find_calendar(std::string_view code) {
  for (const auto& c : kCalendars)
    if (c.code == code) return &c;
  return nullptr;
}

// Sorts by date and makes one holiday of two on the same date ("Constitution Day / Ascension
// Day").
void merge_same_dates(std::vector<Holiday>& days) {
  std::stable_sort(days.begin(), days.end(),
                   [](const Holiday& a, const Holiday& b) { return a.date < b.date; });
  std::vector<Holiday> merged;
  for (auto& h : days) {
    if (!merged.empty() && merged.back().date == h.date)
      merged.back().name += " / " + h.name;
    else
      merged.push_back(std::move(h));
  }
  days = std::move(merged);
}

}  // namespace

std::vector<std::string_view> holiday_calendars() {
  std::vector<std::string_view> out;
  for (const auto& c : kCalendars) out.push_back(c.code);
  return out;
}

bool is_holiday_calendar(std::string_view calendar) {
  return find_calendar(calendar) != nullptr;
}

// The anonymous Gregorian computus (Meeus/Jones/Butcher).
sys_days easter_sunday(int y) {
  int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4, f = (b + 8) / 25;
  int g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30, i = c / 4, k = c % 4;
  int l = (32 + 2 * e + 2 * i - h - k) % 7, m = (a + 11 * h + 22 * l) / 451;
  int month_number = (h + l - 7 * m + 114) / 31, day_number = (h + l - 7 * m + 114) % 31 + 1;
  return sys_days{year{y} / month_number / day_number};
}

std::vector<Holiday> public_holidays(std::string_view calendar, int from_year, int to_year) {
  const auto* found = find_calendar(calendar);
  if (!found)
    throw std::invalid_argument("no built-in holiday calendar '" + std::string(calendar) + "'");
  std::vector<Holiday> out;
  for (int y = from_year; y <= to_year; ++y) {
    for (const auto& f : found->fixed)
      out.push_back({sys_days{year{y} / month{f.month} / day{f.day}}, f.name, true});
    const auto easter = easter_sunday(y);
    for (const auto& e : found->easter)
      out.push_back({easter + days{e.days_from_easter}, e.name, true});
  }
  merge_same_dates(out);
  return out;
}

std::vector<Holiday> holidays_between(std::string_view calendar, std::span<const Holiday> own,
                                      sys_days from, sys_days to) {
  std::vector<Holiday> out;
  for (const auto& h : own)
    if (from <= h.date && h.date <= to) out.push_back({h.date, h.name, false});
  if (!calendar.empty()) {
    const auto first = static_cast<int>(year_month_day{from}.year());
    const auto last = static_cast<int>(year_month_day{to}.year());
    for (auto& h : public_holidays(calendar, first, last))
      if (from <= h.date && h.date <= to) out.push_back(std::move(h));
  }
  // The site's own first: where a date is in both, the stable sort keeps it ahead (with the
  // calendar's name when it has none of its own).
  std::stable_sort(out.begin(), out.end(),
                   [](const Holiday& a, const Holiday& b) { return a.date < b.date; });
  std::vector<Holiday> once;
  for (auto& h : out) {
    if (once.empty() || once.back().date != h.date)
      once.push_back(std::move(h));
    else if (once.back().name.empty())
      once.back().name = std::move(h.name);
  }
  return once;
}

}  // namespace chargegrid::scheduler
