// A site's IANA time zone ("Europe/Oslo"), read from the system tz database: local wall time
// from an instant and back, and the start of the local hour or day that contains an instant
// (what tariff bands and settlement intervals are aligned to).
#pragma once

#include <chrono>
#include <string>

#include "chargegrid/base/time.hpp"

namespace date {
class time_zone;
}

namespace chargegrid::base {

// A wall-clock reading in some time zone.
struct LocalDateTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 3;  // 0 = Monday ... 6 = Sunday; derived from the date, ignored by to_utc

  int minute_of_day() const { return hour * 60 + minute; }
  friend bool operator==(const LocalDateTime&, const LocalDateTime&) = default;
};

// Which instant a wall-clock reading that occurs twice (the hour repeated when clocks go back)
// stands for.
enum class RepeatedLocalTime { kEarlier, kLater };

class TimeZone {
 public:
  // Throws std::invalid_argument for a name the tz database does not know.
  explicit TimeZone(const std::string& name);

  static bool exists(const std::string& name);

  const std::string& name() const { return name_; }

  LocalDateTime to_local(TimePoint utc) const;
  // The instant the wall clock showed `local` (to the second). A reading skipped when clocks go
  // forward stands for the instant of the change, where the skipped hour would have begun.
  TimePoint to_utc(const LocalDateTime& local,
                   RepeatedLocalTime repeated = RepeatedLocalTime::kEarlier) const;

  // Local time minus UTC at `utc` (+01:00 in Oslo in winter, +02:00 in summer).
  std::chrono::minutes utc_offset(TimePoint utc) const;

  // The first instant of the local hour containing `utc`. In the hour repeated when clocks go
  // back, that is the start of the occurrence `utc` lies in.
  TimePoint start_of_local_hour(TimePoint utc) const;
  // The first instant of the local calendar day containing `utc` (23 or 25 hours long on the
  // days clocks change).
  TimePoint start_of_local_day(TimePoint utc) const;
  // The first instant of the local day after the one containing `utc`.
  TimePoint start_of_next_local_day(TimePoint utc) const;

 private:
  std::string name_;
  const date::time_zone* zone_;
};

}  // namespace chargegrid::base
