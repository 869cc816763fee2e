#include "chargegrid/base/time.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono;
using namespace chargegrid::base;

TEST_CASE("RFC 3339 times round-trip at every precision", "[base][time]") {
  const TimePoint t = sys_days{2026y / March / 1} + 12h + 34min + 56s + 789123456ns;
  CHECK(format_rfc3339(t) == "2026-03-01T12:34:56.789Z");
  CHECK(format_rfc3339(t, TimePrecision::kSeconds) == "2026-03-01T12:34:56Z");
  CHECK(format_rfc3339(t, TimePrecision::kMicroseconds) == "2026-03-01T12:34:56.789123Z");
  CHECK(parse_rfc3339("2026-03-01T12:34:56.789123456Z") == t);
  CHECK(parse_rfc3339(format_rfc3339(t)) == floor<milliseconds>(t));
  // Before 1970 the fraction is still truncated towards the past.
  const TimePoint old = sys_days{1969y / December / 31} + 23h + 59min + 59s + 500ms;
  CHECK(format_rfc3339(old) == "1969-12-31T23:59:59.500Z");
  CHECK(parse_rfc3339("1969-12-31T23:59:59.5Z") == old);
}

TEST_CASE("RFC 3339 offsets are read and written", "[base][time]") {
  const auto parsed = parse_rfc3339_with_offset("2024-03-01T18:05:00+01:00");
  REQUIRE(parsed);
  CHECK(parsed->utc == sys_days{2024y / 3 / 1} + 17h + 5min);
  CHECK(parsed->offset == 60min);
  CHECK(parse_rfc3339("2024-03-01T00:30:00-02:30") == sys_days{2024y / 3 / 1} + 3h);
  CHECK(parse_rfc3339("2024-03-01t18:05:00z") == sys_days{2024y / 3 / 1} + 18h + 5min);
  CHECK(format_rfc3339(parsed->utc, TimePrecision::kSeconds, parsed->offset) ==
        "2024-03-01T18:05:00+01:00");
  CHECK(format_rfc3339(parsed->utc, TimePrecision::kSeconds, -150min) ==
        "2024-03-01T14:35:00-02:30");
  CHECK(format_rfc3339(parsed->utc, TimePrecision::kSeconds, 0min) == "2024-03-01T17:05:00+00:00");
}

TEST_CASE("RFC 3339 refuses what names no instant", "[base][time]") {
  for (const char* bad : {
           "2026-02-30T08:00:00Z",       // February 30
           "2025-02-29T08:00:00Z",       // not a leap year
           "2026-04-31T08:00:00Z",       // April has 30 days
           "2026-13-01T08:00:00Z",       // month 13
           "2026-00-10T08:00:00Z",       // month 0
           "2026-03-00T08:00:00Z",       // day 0
           "2026-03-01T24:00:00Z",       // hour 24
           "2026-03-01T23:60:00Z",       // minute 60
           "2026-03-01T23:59:61Z",       // second 61
           "2026-03-01T08:00:00",        // no offset
           "2026-03-01T08:00:00+24:00",  // offset hour 24
           "2026-03-01T08:00:00+01:60",  // offset minute 60
           "2026-03-01T08:00:00+0100",   // offset without its colon
           "2026-03-01T08:00:00.Z",      // a point without digits
           "2026-03-01 08:00:00Z",       // space (unless asked for)
           "2026-03-01T08:00Z",          // no seconds (unless asked for)
           "2026-3-01T08:00:00Z",        // one-digit month
           "26-03-01T08:00:00Z",         // two-digit year
           "2026-03-01T08:00:00Z ",      // trailing space
           "2026-03-01T08:00:00ZZ",     "",
       }) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
  CHECK(is_rfc3339("2024-02-29T08:00:00Z"));  // a leap day
  CHECK(is_rfc3339("2000-02-29T08:00:00Z"));
  CHECK_FALSE(is_rfc3339("1900-02-29T08:00:00Z"));
}

TEST_CASE("RFC 3339 reads a leap second as the next minute", "[base][time]") {
  CHECK(parse_rfc3339("2016-12-31T23:59:60Z") == sys_days{2017y / 1 / 1});
}

TEST_CASE("RFC 3339 options widen the syntax only as asked", "[base][time]") {
  const Rfc3339Options lenient{.space_separator = true,
                               .optional_seconds = true,
                               .compact_offset = true,
                               .max_offset_hours = 18};
  CHECK(parse_rfc3339("2026-03-01 08:00Z", lenient) == sys_days{2026y / 3 / 1} + 8h);
  CHECK(parse_rfc3339("2026-03-01T08:00:00+0100", lenient) == sys_days{2026y / 3 / 1} + 7h);
  CHECK(parse_rfc3339("2026-03-01T08:00:00-18:00", lenient) == sys_days{2026y / 3 / 2} + 2h);
  CHECK_FALSE(parse_rfc3339("2026-03-01T08:00:00+19:00", lenient));
  CHECK_FALSE(parse_rfc3339("2026-03-01T08:00.5Z", lenient));  // a fraction needs seconds
  CHECK_FALSE(parse_rfc3339("2026-02-30 08:00Z", lenient));
}

TEST_CASE("RFC 3339 takes any four-digit year, an instant needs a year a TimePoint holds",
          "[base][time]") {
  // Found by the validate fuzz target: year 1013 overflowed the nanosecond count.
  for (const char* far : {"1013-11-24T12:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                          "1677-09-21T00:12:43.145224191Z", "2262-04-11T23:47:16.854775808Z"}) {
    INFO(far);
    CHECK(is_rfc3339(far));
    CHECK_FALSE(parse_rfc3339(far).has_value());
  }
  CHECK(parse_rfc3339("1678-01-01T00:00:00Z") == sys_days{1678y / 1 / 1});
  CHECK(parse_rfc3339("2261-12-31T23:59:59.999999999Z") ==
        sys_days{2261y / 12 / 31} + 23h + 59min + 59s + 999999999ns);
}

TEST_CASE("durations are whole milliseconds, cut, and negative backwards", "[base][time]") {
  const auto t0 = std::chrono::steady_clock::time_point{};
  CHECK(chargegrid::base::milliseconds_between(t0, t0 + std::chrono::microseconds(1999)) == 1);
  CHECK(chargegrid::base::milliseconds_between(t0 + std::chrono::seconds(2), t0) == -2000);
}

TEST_CASE("RFC 3339 full-dates name real days of the years 0001 to 9999", "[base][time]") {
  CHECK(parse_date("2026-12-24") == sys_days{2026y / 12 / 24});
  CHECK(parse_date("2028-02-29") == sys_days{2028y / 2 / 29});
  CHECK(parse_date("0001-01-01") == sys_days{1y / 1 / 1});
  CHECK(parse_date("9999-12-31") == sys_days{9999y / 12 / 31});
  for (const char* bad :
       {"2026-02-29", "2026-13-01", "2026-00-10", "2026-12-00", "0000-01-01", "2026-1-01",
        "2026-12-24T00:00:00Z", "2026-12-24 ", "20261224", "2026/12/24", "", "２026-12-24"})
    CHECK_FALSE(parse_date(bad).has_value());
  CHECK(format_date(sys_days{2026y / 3 / 1}) == "2026-03-01");
  CHECK(format_date(sys_days{1y / 1 / 9}) == "0001-01-09");
  for (auto day = sys_days{2024y / 1 / 1}; day < sys_days{2025y / 1 / 1}; day += days{1})
    REQUIRE(parse_date(format_date(day)) == day);
}
