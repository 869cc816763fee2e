#include "chargegrid/base/time.hpp"

#include <cstdint>
#include <cstdio>

namespace chargegrid::base {
namespace {

using namespace std::chrono;

struct Cursor {
  std::string_view text;
  std::size_t at = 0;

  char peek() const { return at < text.size() ? text[at] : '\0'; }
  bool literal(char c) {
    if (peek() != c) return false;
    ++at;
    return true;
  }
  bool number(int width, int& value) {
    if (at + width > text.size()) return false;
    value = 0;
    for (int i = 0; i < width; ++i) {
      const char c = text[at + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    at += width;
    return true;
  }
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A date-time's fields, read in seconds so that every four-digit year fits (a TimePoint,
// counted in nanoseconds, holds only the years 1678 to 2261).
struct Fields {
  sys_seconds utc;
  nanoseconds fraction{0};
  minutes offset{0};
};

std::optional<Fields> read_fields(std::string_view text, const Rfc3339Options& options) {
  Cursor c{text};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!c.number(4, y) || !c.literal('-') || !c.number(2, mo) || !c.literal('-') || !c.number(2, d))
    return std::nullopt;
  if (!c.literal('T') && !c.literal('t') && !(options.space_separator && c.literal(' ')))
    return std::nullopt;
  if (!c.number(2, h) || !c.literal(':') || !c.number(2, mi)) return std::nullopt;
  nanoseconds fraction{0};
  if (c.literal(':')) {
    if (!c.number(2, s)) return std::nullopt;
    if (c.literal('.')) {
      const std::size_t start = c.at;
      std::int64_t ns = 0;
      int kept = 0;
      for (; c.at < text.size() && is_digit(text[c.at]); ++c.at) {
        if (kept < 9) {
          ns = ns * 10 + (text[c.at] - '0');
          ++kept;
        }
      }
      if (c.at == start) return std::nullopt;
      for (; kept < 9; ++kept) ns *= 10;
      fraction = nanoseconds{ns};
    }
  } else if (!options.optional_seconds) {
    return std::nullopt;
  }
  minutes offset{0};
  if (!c.literal('Z') && !c.literal('z')) {
    const char sign = c.peek();
    if (sign != '+' && sign != '-') return std::nullopt;
    ++c.at;
    int oh = 0, om = 0;
    if (!c.number(2, oh)) return std::nullopt;
    if (!c.literal(':') && !options.compact_offset) return std::nullopt;
    if (!c.number(2, om) || oh > options.max_offset_hours || om > 59) return std::nullopt;
    offset = minutes{(sign == '-' ? -1 : 1) * (oh * 60 + om)};
  }
  if (c.at != text.size()) return std::nullopt;
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;  // 60: a leap second
  const sys_seconds local = sys_days{date} + hours{h} + minutes{mi} + seconds{s};
  return Fields{local - offset, fraction, offset};
}

}  // namespace

bool is_rfc3339(std::string_view text, const Rfc3339Options& options) {
  return read_fields(text, options).has_value();
}

std::optional<ParsedTime> parse_rfc3339_with_offset(std::string_view text,
                                                    const Rfc3339Options& options) {
  const auto fields = read_fields(text, options);
  if (!fields) return std::nullopt;
  // Whole seconds inside TimePoint's range, so that adding the fraction cannot overflow.
  const auto first = ceil<seconds>(TimePoint::min()) + seconds{1};
  const auto last = floor<seconds>(TimePoint::max()) - seconds{1};
  if (fields->utc < first || fields->utc > last) return std::nullopt;
  return ParsedTime{time_point_cast<system_clock::duration>(fields->utc) + fields->fraction,
                    fields->offset};
}

std::optional<sys_days> parse_date(std::string_view text) {
  Cursor c{text};
  int y = 0, m = 0, d = 0;
  if (!c.number(4, y) || !c.literal('-') || !c.number(2, m) || !c.literal('-') || !c.number(2, d) ||
      c.at != text.size())
    return std::nullopt;
  const year_month_day date{year{y}, month{static_cast<unsigned>(m)},
                            day{static_cast<unsigned>(d)}};
  if (y < 1 || !date.ok()) return std::nullopt;
  return sys_days{date};
}

std::string format_date(sys_days day) {
  const year_month_day date{day};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

std::optional<TimePoint> parse_rfc3339(std::string_view text, const Rfc3339Options& options) {
  auto parsed = parse_rfc3339_with_offset(text, options);
  if (!parsed) return std::nullopt;
  return parsed->utc;
}

namespace {

std::string format(TimePoint time, TimePrecision precision, const minutes* offset) {
  const auto local = time + (offset ? *offset : minutes{0});
  const auto day = floor<days>(local);
  const year_month_day date{day};
  const hh_mm_ss<nanoseconds> clock{floor<nanoseconds>(local - day)};
  char text[64];
  int n = std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d",
                        static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                        static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                        static_cast<int>(clock.minutes().count()),
                        static_cast<int>(clock.seconds().count()));
  const auto ns = clock.subseconds().count();
  if (precision == TimePrecision::kMilliseconds)
    n += std::snprintf(text + n, sizeof text - n, ".%03d", static_cast<int>(ns / 1'000'000));
  else if (precision == TimePrecision::kMicroseconds)
    n += std::snprintf(text + n, sizeof text - n, ".%06d", static_cast<int>(ns / 1'000));
  if (!offset) {
    std::snprintf(text + n, sizeof text - n, "Z");
  } else {
    const auto total = offset->count();
    const auto magnitude = total < 0 ? -total : total;
    std::snprintf(text + n, sizeof text - n, "%c%02d:%02d", total < 0 ? '-' : '+',
                  static_cast<int>(magnitude / 60), static_cast<int>(magnitude % 60));
  }
  return text;
}

}  // namespace

std::string format_rfc3339(TimePoint time, TimePrecision precision) {
  return format(time, precision, nullptr);
}

std::string format_rfc3339(TimePoint time, TimePrecision precision, minutes offset) {
  return format(time, precision, &offset);
}

std::string now_rfc3339() {
  return format_rfc3339(system_clock::now(), TimePrecision::kMilliseconds);
}

}  // namespace chargegrid::base
