#include "chargegrid/base/time_zone.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>

namespace {

using chargegrid::base::LocalDateTime;
using chargegrid::base::RepeatedLocalTime;
using chargegrid::base::TimePoint;
using chargegrid::base::TimeZone;
using namespace std::chrono_literals;

TimePoint at(const char* text) {
  return *chargegrid::base::parse_rfc3339(text);
}

std::string utc(TimePoint time) {
  return chargegrid::base::format_rfc3339(time, chargegrid::base::TimePrecision::kSeconds);
}

LocalDateTime local(int year, int month, int day, int hour, int minute) {
  return {.year = year, .month = month, .day = day, .hour = hour, .minute = minute};
}

}  // namespace

TEST_CASE("time zone: an unknown or empty name is refused", "[time_zone]") {
  CHECK_THROWS_AS(TimeZone("Europe/Atlantis"), std::invalid_argument);
  CHECK_THROWS_AS(TimeZone(""), std::invalid_argument);
  CHECK_FALSE(TimeZone::exists("Mars/Olympus_Mons"));
  CHECK(TimeZone::exists("Europe/Oslo"));
  CHECK(TimeZone::exists("UTC"));
}

TEST_CASE("time zone: Oslo wall time in winter and summer", "[time_zone]") {
  const TimeZone oslo("Europe/Oslo");
  const auto winter = oslo.to_local(at("2026-01-15T11:30:00Z"));
  CHECK(winter == LocalDateTime{2026, 1, 15, 12, 30, 0, 3});  // a Thursday
  CHECK(oslo.utc_offset(at("2026-01-15T11:30:00Z")) == 60min);
  const auto summer = oslo.to_local(at("2026-07-05T22:15:07Z"));
  CHECK(summer == LocalDateTime{2026, 7, 6, 0, 15, 7, 0});  // past midnight: Monday
  CHECK(oslo.utc_offset(at("2026-07-05T22:15:07Z")) == 120min);
  CHECK(utc(oslo.to_utc(local(2026, 7, 6, 0, 15))) == "2026-07-05T22:15:00Z");
}

TEST_CASE("time zone: the spring change skips 02:00-03:00 on the last Sunday of March",
          "[time_zone]") {
  const TimeZone oslo("Europe/Oslo");
  // 2026-03-29: 01:59:59 CET is followed by 03:00:00 CEST at 01:00:00 UTC.
  CHECK(oslo.to_local(at("2026-03-29T00:59:59Z")) == LocalDateTime{2026, 3, 29, 1, 59, 59, 6});
  CHECK(oslo.to_local(at("2026-03-29T01:00:00Z")) == LocalDateTime{2026, 3, 29, 3, 0, 0, 6});
  // A skipped reading stands for the instant of the change.
  CHECK(utc(oslo.to_utc(local(2026, 3, 29, 2, 30))) == "2026-03-29T01:00:00Z");
  // The day is 23 hours long.
  const auto noon = at("2026-03-29T10:00:00Z");
  CHECK(utc(oslo.start_of_local_day(noon)) == "2026-03-28T23:00:00Z");
  CHECK(utc(oslo.start_of_next_local_day(noon)) == "2026-03-29T22:00:00Z");
  CHECK(oslo.start_of_next_local_day(noon) - oslo.start_of_local_day(noon) == 23h);
  // Hours around the change: 01:00-02:00 CET, then 03:00-04:00 CEST.
  CHECK(utc(oslo.start_of_local_hour(at("2026-03-29T00:59:00Z"))) == "2026-03-29T00:00:00Z");
  CHECK(utc(oslo.start_of_local_hour(at("2026-03-29T01:00:00Z"))) == "2026-03-29T01:00:00Z");
  CHECK(utc(oslo.start_of_local_hour(at("2026-03-29T01:45:00Z"))) == "2026-03-29T01:00:00Z");
}

TEST_CASE("time zone: the autumn change repeats 02:00-03:00 on the last Sunday of October",
          "[time_zone]") {
  const TimeZone oslo("Europe/Oslo");
  // 2026-10-25: 02:59:59 CEST at 00:59:59 UTC is followed by 02:00:00 CET at 01:00:00 UTC.
  CHECK(oslo.to_local(at("2026-10-25T00:30:00Z")) == LocalDateTime{2026, 10, 25, 2, 30, 0, 6});
  CHECK(oslo.to_local(at("2026-10-25T01:30:00Z")) == LocalDateTime{2026, 10, 25, 2, 30, 0, 6});
  CHECK(utc(oslo.to_utc(local(2026, 10, 25, 2, 30))) == "2026-10-25T00:30:00Z");
  CHECK(utc(oslo.to_utc(local(2026, 10, 25, 2, 30), RepeatedLocalTime::kLater)) ==
        "2026-10-25T01:30:00Z");
  // Each occurrence of the repeated hour is an hour of its own.
  CHECK(utc(oslo.start_of_local_hour(at("2026-10-25T00:30:00Z"))) == "2026-10-25T00:00:00Z");
  CHECK(utc(oslo.start_of_local_hour(at("2026-10-25T01:30:00Z"))) == "2026-10-25T01:00:00Z");
  CHECK(utc(oslo.start_of_local_hour(at("2026-10-25T02:10:00Z"))) == "2026-10-25T02:00:00Z");
  // The day is 25 hours long.
  const auto noon = at("2026-10-25T11:00:00Z");
  CHECK(utc(oslo.start_of_local_day(noon)) == "2026-10-24T22:00:00Z");
  CHECK(oslo.start_of_next_local_day(noon) - oslo.start_of_local_day(noon) == 25h);
}

TEST_CASE("time zone: hours of a half-hour zone start at half past in UTC", "[time_zone]") {
  const TimeZone kolkata("Asia/Kolkata");
  CHECK(utc(kolkata.start_of_local_hour(at("2026-05-01T10:10:00Z"))) == "2026-05-01T09:30:00Z");
  CHECK(utc(kolkata.start_of_local_day(at("2026-05-01T10:10:00Z"))) == "2026-04-30T18:30:00Z");
  // An instant on an hour boundary starts its own hour.
  CHECK(utc(kolkata.start_of_local_hour(at("2026-05-01T09:30:00Z"))) == "2026-05-01T09:30:00Z");
}

TEST_CASE("time zone: a local date that does not exist is refused", "[time_zone]") {
  const TimeZone oslo("Europe/Oslo");
  CHECK_THROWS_AS(oslo.to_utc(local(2026, 2, 30, 12, 0)), std::invalid_argument);
  CHECK_THROWS_AS(oslo.to_utc(local(2026, 1, 1, 24, 0)), std::invalid_argument);
}
