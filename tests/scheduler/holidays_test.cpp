#include "chargegrid/scheduler/holidays.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <utility>

using namespace chargegrid::scheduler;
using namespace std::chrono;

namespace {

std::vector<std::pair<sys_days, std::string>> dated(const std::vector<Holiday>& holidays) {
  std::vector<std::pair<sys_days, std::string>> out;
  for (const auto& h : holidays) out.emplace_back(h.date, h.name);
  return out;
}

}  // namespace

TEST_CASE("Easter Sunday by the Gregorian computus", "[scheduler][holidays]") {
  CHECK(easter_sunday(2026) == sys_days{2026y / 4 / 5});
  CHECK(easter_sunday(2024) == sys_days{2024y / 3 / 31});
  CHECK(easter_sunday(2019) == sys_days{2019y / 4 / 21});
  CHECK(easter_sunday(2038) == sys_days{2038y / 4 / 25});  // the latest it falls
  CHECK(easter_sunday(2285) == sys_days{2285y / 3 / 22});  // the earliest
  for (int y = 1900; y < 2200; ++y) CHECK(weekday{easter_sunday(y)} == Sunday);
}

TEST_CASE("Norway's calendar of 2026", "[scheduler][holidays]") {
  const std::vector<std::pair<sys_days, std::string>> expected{
      {2026y / 1 / 1, "New Year's Day"},  {2026y / 4 / 2, "Maundy Thursday"},
      {2026y / 4 / 3, "Good Friday"},     {2026y / 4 / 5, "Easter Sunday"},
      {2026y / 4 / 6, "Easter Monday"},   {2026y / 5 / 1, "Labour Day"},
      {2026y / 5 / 14, "Ascension Day"},  {2026y / 5 / 17, "Constitution Day"},
      {2026y / 5 / 24, "Whit Sunday"},    {2026y / 5 / 25, "Whit Monday"},
      {2026y / 12 / 24, "Christmas Eve"}, {2026y / 12 / 25, "Christmas Day"},
      {2026y / 12 / 26, "Boxing Day"},    {2026y / 12 / 31, "New Year's Eve"}};
  const auto calendar = public_holidays("NO", 2026, 2026);
  CHECK(dated(calendar) == expected);
  for (const auto& h : calendar) CHECK(h.from_calendar);

  // Years in order; a day that is two holidays is listed once with both names.
  const auto years = public_holidays("NO", 2008, 2010);
  CHECK(years.size() == 3 * 14 - 1);
  CHECK(std::is_sorted(years.begin(), years.end(),
                       [](const Holiday& a, const Holiday& b) { return a.date < b.date; }));
  const auto may_day = std::find_if(years.begin(), years.end(), [](const Holiday& h) {
    return h.date == sys_days{2008y / 5 / 1};
  });
  REQUIRE(may_day != years.end());
  CHECK(may_day->name == "Labour Day / Ascension Day");
  CHECK(dated(public_holidays("NO", 2007, 2007))[6] ==
        std::pair<sys_days, std::string>{2007y / 5 / 17, "Constitution Day / Ascension Day"});
  CHECK(public_holidays("NO", 2027, 2026).empty());
}

TEST_CASE("Only the built-in calendars are known", "[scheduler][holidays]") {
  CHECK(holiday_calendars() == std::vector<std::string_view>{"NO"});
  CHECK(is_holiday_calendar("NO"));
  for (const char* other : {"no", "SE", "", "NOR", "norway"}) {
    CHECK_FALSE(is_holiday_calendar(other));
    CHECK_THROWS_AS(public_holidays(other, 2026, 2026), std::invalid_argument);
  }
}

TEST_CASE("A site's holidays over a range: its calendar's and its own", "[scheduler][holidays]") {
  const std::vector<Holiday> own{{sys_days{2026y / 12 / 23}, "Staff party", false},
                                 {sys_days{2026y / 12 / 24}, "", false},
                                 {sys_days{2026y / 12 / 26}, "Stocktaking", false},
                                 {sys_days{2027y / 3 / 1}, "Later", false}};
  const auto days = holidays_between("NO", own, sys_days{2026y / 12 / 23}, sys_days{2027y / 1 / 1});
  const std::vector<std::pair<sys_days, std::string>> expected{
      {2026y / 12 / 23, "Staff party"},    {2026y / 12 / 24, "Christmas Eve"},
      {2026y / 12 / 25, "Christmas Day"},  {2026y / 12 / 26, "Stocktaking"},
      {2026y / 12 / 31, "New Year's Eve"}, {2027y / 1 / 1, "New Year's Day"}};
  CHECK(dated(days) == expected);
  // A date of the site's own stays its own, with the calendar's name where it gave none.
  CHECK_FALSE(days[0].from_calendar);
  CHECK_FALSE(days[1].from_calendar);
  CHECK(days[2].from_calendar);
  CHECK_FALSE(days[3].from_calendar);
  // Without a calendar, only its own dates.
  CHECK(dated(holidays_between("", own, sys_days{2026y / 1 / 1}, sys_days{2026y / 12 / 31})) ==
        std::vector<std::pair<sys_days, std::string>>{{2026y / 12 / 23, "Staff party"},
                                                      {2026y / 12 / 24, ""},
                                                      {2026y / 12 / 26, "Stocktaking"}});
}
