#include "store/evses.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::evses {
namespace {

constexpr const char* kColumns = "station_id, evse_id, max_power_w, phases, bidirectional";

EvsePower read(const pqxx::row& row) {
  EvsePower out;
  out.station_id = row[0].as<std::string>();
  out.evse_id = row[1].as<int>();
  if (!row[2].is_null()) out.max_power_w = row[2].as<double>();
  if (!row[3].is_null()) out.phases = row[3].as<int>();
  out.bidirectional = row[4].as<bool>();
  return out;
}

}  // namespace

std::optional<EvsePower> find(Tx& tx, const std::string& station_id, int evse_id) {
  const auto rows = tx.exec_params(
      std::string("SELECT ") + kColumns + " FROM evses WHERE station_id = $1 AND evse_id = $2",
      station_id, evse_id);
  if (rows.empty()) return std::nullopt;
  return read(rows[0]);
}

std::vector<EvsePower> for_site(Tx& tx, std::int64_t site_id) {
  std::vector<EvsePower> out;
  for (const auto& row : tx.exec_params(
           std::string("SELECT e.station_id, e.evse_id, e.max_power_w, e.phases, e.bidirectional"
                       "  FROM evses e JOIN stations s ON s.id = e.station_id"
                       " WHERE s.site_id = $1 ORDER BY e.station_id, e.evse_id"),
           site_id))
    out.push_back(read(row));
  return out;
}

EvsePower patch(Tx& tx, const std::string& station_id, int evse_id, const EvsePowerPatch& patch) {
  // One statement: concurrent first patches of the same EVSE both land on the one row.
  const auto rows = tx.exec_params(
      std::string(
          R"(INSERT INTO evses AS e (station_id, evse_id, max_power_w, phases, bidirectional)
           VALUES ($1, $2, $3, $4, coalesce($5, false))
           ON CONFLICT (station_id, evse_id) DO UPDATE SET
             max_power_w = CASE WHEN $6 THEN NULL ELSE coalesce($3, e.max_power_w) END,
             phases = CASE WHEN $7 THEN NULL ELSE coalesce($4, e.phases) END,
             bidirectional = coalesce($5, e.bidirectional),
             updated_at = now()
           RETURNING )") +
          kColumns,
      station_id, evse_id, patch.max_power_w, patch.phases, patch.bidirectional,
      patch.clear_max_power_w, patch.clear_phases);
  return read(rows[0]);
}

}  // namespace chargegrid::server::store::evses
