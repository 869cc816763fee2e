#include "store/demand_response.hpp"

#include <algorithm>
#include <pqxx/pqxx>

namespace chargegrid::server::store::demand_response {
namespace {

std::optional<double> optional_double(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<double>();
}

// The columns read_windows() expects, from a query whose rows are windows.
constexpr const char* kWindowColumns = R"(
    SELECT event_id, program_id, site_id,
           to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           import_limit_w, export_limit_w, import_subscription_w,
           import_price_minor_per_kwh, export_price_minor_per_kwh, coalesce(currency, ''))";

std::vector<Window> read_windows(const pqxx::result& rows) {
  std::vector<Window> windows;
  windows.reserve(rows.size());
  for (const auto& row : rows) {
    Window w;
    w.event_id = row[0].as<std::string>();
    w.program_id = row[1].as<std::string>();
    w.site_id = row[2].as<std::int64_t>();
    w.starts_at = row[3].as<std::string>();
    w.ends_at = row[4].as<std::string>();
    w.import_limit_w = optional_double(row[5]);
    w.export_limit_w = optional_double(row[6]);
    w.import_subscription_w = optional_double(row[7]);
    w.import_price_minor_per_kwh = optional_double(row[8]);
    w.export_price_minor_per_kwh = optional_double(row[9]);
    w.currency = row[10].as<std::string>();
    windows.push_back(std::move(w));
  }
  return windows;
}

}  // namespace

std::vector<std::int64_t> replace_event(Tx& tx, const std::string& event_id,
                                        const std::vector<Window>& windows) {
  // The event's windows leave; the part of each that had been in force stays on record.
  std::vector<std::int64_t> sites;
  for (const auto& row : tx.exec_params(
           R"(WITH gone AS (
                DELETE FROM demand_response_windows WHERE event_id = $1 RETURNING *),
              kept AS (
                INSERT INTO demand_response_windows_withdrawn
                  (event_id, program_id, site_id, starts_at, ends_at, import_limit_w,
                   export_limit_w, import_subscription_w, import_price_minor_per_kwh,
                   export_price_minor_per_kwh, currency)
                SELECT event_id, program_id, site_id, in_force_from, least(ends_at, now()),
                       import_limit_w, export_limit_w, import_subscription_w,
                       import_price_minor_per_kwh, export_price_minor_per_kwh, currency
                  FROM gone WHERE in_force_from < least(ends_at, now()))
              SELECT DISTINCT site_id FROM gone)",
           event_id))
    sites.push_back(row[0].as<std::int64_t>());
  const auto had_windows = [&](std::int64_t site) {
    return std::find(sites.begin(), sites.end(), site) != sites.end();
  };
  std::vector<std::int64_t> added;
  for (const auto& w : windows) {
    // A changed event asks something new from now on only, at a site it already targeted.
    tx.exec_params(
        R"(INSERT INTO demand_response_windows
             (event_id, program_id, site_id, starts_at, ends_at, import_limit_w, export_limit_w,
              import_subscription_w, import_price_minor_per_kwh, export_price_minor_per_kwh,
              currency, in_force_from)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''),
                   CASE WHEN $12 THEN greatest($4::timestamptz, now()) ELSE $4::timestamptz END))",
        event_id, w.program_id, w.site_id, w.starts_at, w.ends_at, w.import_limit_w,
        w.export_limit_w, w.import_subscription_w, w.import_price_minor_per_kwh,
        w.export_price_minor_per_kwh, w.currency, had_windows(w.site_id));
    added.push_back(w.site_id);
  }
  sites.insert(sites.end(), added.begin(), added.end());
  std::sort(sites.begin(), sites.end());
  sites.erase(std::unique(sites.begin(), sites.end()), sites.end());
  return sites;
}

std::vector<Window> for_site(Tx& tx, std::int64_t site_id, const std::string& from,
                             const std::string& to) {
  return read_windows(tx.exec_params(std::string(kWindowColumns) + R"(
      FROM demand_response_windows
     WHERE site_id = $1 AND starts_at < $3::timestamptz AND ends_at > $2::timestamptz
     ORDER BY starts_at, id)",
                                     site_id, from, to));
}

std::vector<Window> in_force(Tx& tx, std::int64_t site_id, const std::string& from,
                             const std::string& to) {
  return read_windows(tx.exec_params(std::string(kWindowColumns) + R"(
      FROM (SELECT event_id, program_id, site_id, in_force_from AS starts_at, ends_at,
                   import_limit_w, export_limit_w, import_subscription_w,
                   import_price_minor_per_kwh, export_price_minor_per_kwh, currency
              FROM demand_response_windows
             WHERE site_id = $1 AND in_force_from < ends_at
            UNION ALL
            SELECT event_id, program_id, site_id, starts_at, ends_at, import_limit_w,
                   export_limit_w, import_subscription_w, import_price_minor_per_kwh,
                   export_price_minor_per_kwh, currency
              FROM demand_response_windows_withdrawn
             WHERE site_id = $1) w
     WHERE starts_at < $3::timestamptz AND ends_at > $2::timestamptz
     ORDER BY starts_at, event_id)",
                                     site_id, from, to));
}

}  // namespace chargegrid::server::store::demand_response
