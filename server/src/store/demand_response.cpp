#include "store/demand_response.hpp"

#include <algorithm>
#include <pqxx/pqxx>

namespace chargegrid::server::store::demand_response {
namespace {

std::optional<double> optional_double(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<double>();
}

}  // namespace

std::vector<std::int64_t> replace_event(Tx& tx, const std::string& event_id,
                                        const std::vector<Window>& windows) {
  std::vector<std::int64_t> sites;
  for (const auto& row : tx.exec_params(
           "DELETE FROM demand_response_windows WHERE event_id = $1 RETURNING site_id", event_id))
    sites.push_back(row[0].as<std::int64_t>());
  for (const auto& w : windows) {
    tx.exec_params(
        R"(INSERT INTO demand_response_windows
             (event_id, program_id, site_id, starts_at, ends_at, import_limit_w, export_limit_w,
              import_subscription_w, import_price_minor_per_kwh, export_price_minor_per_kwh,
              currency)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, '')))",
        event_id, w.program_id, w.site_id, w.starts_at, w.ends_at, w.import_limit_w,
        w.export_limit_w, w.import_subscription_w, w.import_price_minor_per_kwh,
        w.export_price_minor_per_kwh, w.currency);
    sites.push_back(w.site_id);
  }
  std::sort(sites.begin(), sites.end());
  sites.erase(std::unique(sites.begin(), sites.end()), sites.end());
  return sites;
}

std::vector<Window> for_site(Tx& tx, std::int64_t site_id, const std::string& from,
                             const std::string& to) {
  std::vector<Window> windows;
  for (const auto& row : tx.exec_params(
           R"(SELECT event_id, program_id, site_id,
                     to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                     to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                     import_limit_w, export_limit_w, import_subscription_w,
                     import_price_minor_per_kwh, export_price_minor_per_kwh,
                     coalesce(currency, '')
                FROM demand_response_windows
               WHERE site_id = $1 AND starts_at < $3::timestamptz AND ends_at > $2::timestamptz
               ORDER BY starts_at, id)",
           site_id, from, to)) {
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

}  // namespace chargegrid::server::store::demand_response
