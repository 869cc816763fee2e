#include "chargegrid/base/time_zone.hpp"

#include <date/tz.h>

#include <algorithm>
#include <stdexcept>

namespace chargegrid::base {
namespace {

using namespace std::chrono;

date::sys_seconds to_sys_seconds(TimePoint utc) {
  return floor<seconds>(date::sys_time<TimePoint::duration>{utc.time_since_epoch()});
}

TimePoint to_time_point(date::sys_seconds utc) {
  return TimePoint{duration_cast<TimePoint::duration>(utc.time_since_epoch())};
}

const date::time_zone* locate(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("time zone: the name is empty");
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    throw std::invalid_argument("time zone: '" + name + "' is not in the tz database");
  }
}

// The instant a local reading stands for, resolving skipped and repeated readings as
// TimeZone::to_utc documents.
date::sys_seconds resolve(const date::time_zone& zone, date::local_seconds local,
                          RepeatedLocalTime repeated) {
  const date::local_info info = zone.get_info(local);
  switch (info.result) {
    case date::local_info::nonexistent:
      return info.first.end;
    case date::local_info::ambiguous:
      if (repeated == RepeatedLocalTime::kLater)
        return date::sys_seconds{local.time_since_epoch() - info.second.offset};
      return date::sys_seconds{local.time_since_epoch() - info.first.offset};
    default:
      return date::sys_seconds{local.time_since_epoch() - info.first.offset};
  }
}

date::local_seconds local_seconds_of(const date::time_zone& zone, TimePoint utc) {
  return zone.to_local(to_sys_seconds(utc));
}

}  // namespace

TimeZone::TimeZone(const std::string& name) : name_(name), zone_(locate(name)) {}

bool TimeZone::exists(const std::string& name) {
  try {
    locate(name);
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

LocalDateTime TimeZone::to_local(TimePoint utc) const {
  const date::local_seconds local = local_seconds_of(*zone_, utc);
  const date::local_days day = floor<date::days>(local);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<seconds> clock{local - day};
  LocalDateTime out;
  out.year = static_cast<int>(ymd.year());
  out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  out.hour = static_cast<int>(clock.hours().count());
  out.minute = static_cast<int>(clock.minutes().count());
  out.second = static_cast<int>(clock.seconds().count());
  out.weekday = static_cast<int>(date::weekday{day}.iso_encoding()) - 1;
  return out;
}

TimePoint TimeZone::to_utc(const LocalDateTime& local, RepeatedLocalTime repeated) const {
  const date::year_month_day ymd{date::year{local.year},
                                 date::month{static_cast<unsigned>(local.month)},
                                 date::day{static_cast<unsigned>(local.day)}};
  if (!ymd.ok() || local.hour < 0 || local.hour > 23 || local.minute < 0 || local.minute > 59 ||
      local.second < 0 || local.second > 59)
    throw std::invalid_argument("time zone: not a valid local date and time");
  const date::local_seconds reading =
      date::local_days{ymd} + hours{local.hour} + minutes{local.minute} + seconds{local.second};
  return to_time_point(resolve(*zone_, reading, repeated));
}

minutes TimeZone::utc_offset(TimePoint utc) const {
  return duration_cast<minutes>(zone_->get_info(to_sys_seconds(utc)).offset);
}

TimePoint TimeZone::start_of_local_hour(TimePoint utc) const {
  const date::sys_seconds now = to_sys_seconds(utc);
  const date::local_seconds hour = floor<hours>(zone_->to_local(now));
  // In a repeated hour the later reading is right when it has already begun.
  date::sys_seconds start = resolve(*zone_, hour, RepeatedLocalTime::kLater);
  if (start > now) start = resolve(*zone_, hour, RepeatedLocalTime::kEarlier);
  // Where the clock changed inside the hour (zones with half-hour changes), the hour as read
  // on the clock began at the change.
  start = std::max(start, zone_->get_info(now).begin);
  return to_time_point(std::min(start, now));
}

TimePoint TimeZone::start_of_local_day(TimePoint utc) const {
  const date::local_days day = floor<date::days>(local_seconds_of(*zone_, utc));
  return to_time_point(resolve(*zone_, day, RepeatedLocalTime::kEarlier));
}

TimePoint TimeZone::start_of_next_local_day(TimePoint utc) const {
  const date::local_days day = floor<date::days>(local_seconds_of(*zone_, utc));
  return to_time_point(resolve(*zone_, day + date::days{1}, RepeatedLocalTime::kEarlier));
}

}  // namespace chargegrid::base
