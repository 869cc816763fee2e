#include "store/site_holidays.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::site_holidays {

namespace {

// Dates cross to PostgreSQL as days since 1970-01-01.
const char* kDays = R"(
  SELECT site_id, (day - date '1970-01-01')::integer, name FROM site_holidays)";

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

Day day_of(const pqxx::row& row) {
  return {std::chrono::sys_days{std::chrono::days{row[1].as<int>()}}, optional_text(row[2])};
}

}  // namespace

std::optional<Holidays> find(Tx& tx, std::int64_t site_id) {
  const auto site =
      tx.exec_params("SELECT holiday_calendar, holidays_version FROM sites WHERE id = $1", site_id);
  if (site.empty()) return std::nullopt;
  Holidays out;
  out.calendar = optional_text(site[0][0]);
  out.version = site[0][1].as<std::int64_t>();
  for (const auto& row :
       tx.exec_params(std::string(kDays) + " WHERE site_id = $1 ORDER BY day", site_id))
    out.days.push_back(day_of(row));
  return out;
}

bool put(Tx& tx, std::int64_t site_id, const std::optional<std::string>& calendar,
         const std::vector<Day>& days) {
  // The site row first: a concurrent delete of the site waits or wins cleanly, and two puts
  // for one site follow each other.
  if (tx.exec_params("UPDATE sites SET holiday_calendar = $2, "
                     "holidays_version = holidays_version + 1 WHERE id = $1",
                     site_id, calendar)
          .affected_rows() == 0)
    return false;
  tx.exec_params("DELETE FROM site_holidays WHERE site_id = $1", site_id);
  if (days.empty()) return true;
  ArrayLiteral dates, names;
  for (const auto& d : days) {
    dates.add_int(d.date.time_since_epoch().count());
    names.add_or_null(d.name);
  }
  tx.exec_params(
      R"(INSERT INTO site_holidays (site_id, day, name)
         SELECT $1, date '1970-01-01' + d, n FROM unnest($2::integer[], $3::text[]) AS u(d, n))",
      site_id, dates.str(), names.str());
  return true;
}

std::map<std::int64_t, Holidays> all(Tx& tx) {
  std::map<std::int64_t, Holidays> out;
  for (const auto& row : tx.exec(
           "SELECT id, holiday_calendar, holidays_version FROM sites WHERE holidays_version > 0"))
    out[row[0].as<std::int64_t>()] = {optional_text(row[1]), {}, row[2].as<std::int64_t>()};
  for (const auto& row : tx.exec(std::string(kDays) + " ORDER BY site_id, day"))
    out[row[0].as<std::int64_t>()].days.push_back(day_of(row));
  return out;
}

}  // namespace chargegrid::server::store::site_holidays
