#include "credits/period.hpp"

#include <cstdio>

#include "chargegrid/base/time.hpp"

namespace chargegrid::server::credits {
namespace {

using namespace std::chrono;

bool digits(const std::string& text, std::size_t from, std::size_t count) {
  for (std::size_t i = from; i < from + count; ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

Period month_period(year_month ym) {
  char name[16];
  std::snprintf(name, sizeof name, "%04d-%02u", static_cast<int>(ym.year()),
                static_cast<unsigned>(ym.month()));
  const auto next = ym + months(1);
  return {name, sys_days(ym / 1), sys_days(next / 1)};
}

}  // namespace

std::optional<Period> parse_period(const std::string& text) {
  if (text.size() != 7 || text[4] != '-' || !digits(text, 0, 4)) return std::nullopt;
  const int y = std::stoi(text.substr(0, 4));
  if (y < 2000) return std::nullopt;
  if (text[5] == 'Q') {
    if (text[6] < '1' || text[6] > '4') return std::nullopt;
    const unsigned quarter = static_cast<unsigned>(text[6] - '0');
    const year_month first{year(y), month(3 * quarter - 2)};
    return Period{text, sys_days(first / 1), sys_days((first + months(3)) / 1)};
  }
  if (!digits(text, 5, 2)) return std::nullopt;
  const unsigned m = static_cast<unsigned>(std::stoi(text.substr(5, 2)));
  if (m < 1 || m > 12) return std::nullopt;
  return month_period(year_month{year(y), month(m)});
}

Period previous_month(system_clock::time_point now) {
  const year_month_day today{floor<days>(now)};
  return month_period(year_month{today.year(), today.month()} - months(1));
}

std::string day_text(sys_days day) {
  return base::format_rfc3339(base::TimePoint{day});
}

}  // namespace chargegrid::server::credits
