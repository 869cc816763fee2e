#include "store/tariffs.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace chargegrid::server::store::tariffs {

bool put(Tx& tx, std::int64_t site_id, const tariff::Tariff& tariff) {
  // The site row is locked first, so a concurrent delete of the site waits or wins cleanly.
  if (tx.exec_params("SELECT 1 FROM sites WHERE id = $1 FOR KEY SHARE", site_id).empty())
    return false;
  tx.exec_params(R"(INSERT INTO site_tariffs (site_id, tariff) VALUES ($1, $2::jsonb)
                    ON CONFLICT (site_id) DO UPDATE SET tariff = excluded.tariff,
                                                        updated_at = now())",
                 site_id, tariff::to_json(tariff).dump());
  return true;
}

std::optional<SiteTariff> find(Tx& tx, std::int64_t site_id) {
  const auto rows = tx.exec_params(
      R"(SELECT t.tariff::text, s.time_zone,
                to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
           FROM site_tariffs t JOIN sites s ON s.id = t.site_id
          WHERE t.site_id = $1)",
      site_id);
  if (rows.empty()) return std::nullopt;
  SiteTariff out;
  out.site_id = site_id;
  out.tariff = tariff::parse(nlohmann::json::parse(rows[0][0].c_str()));
  out.time_zone = rows[0][1].as<std::string>();
  out.updated_at = rows[0][2].as<std::string>();
  return out;
}

bool remove(Tx& tx, std::int64_t site_id) {
  return tx.exec_params("DELETE FROM site_tariffs WHERE site_id = $1", site_id).affected_rows() > 0;
}

}  // namespace chargegrid::server::store::tariffs
