#include "store/meter_keys.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::meter_keys {
namespace {

constexpr const char* kColumns = R"(station_id, evse_id, public_key, source,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))";

MeterKey key_from(const pqxx::row& row) {
  return {row[0].as<std::string>(), row[1].as<int>(),         row[2].as<std::string>(),
          row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>()};
}

}  // namespace

std::optional<MeterKey> find(Tx& tx, const std::string& station_id, int evse_id) {
  auto rows = tx.exec_params(
      std::string("SELECT ") + kColumns + " FROM meter_keys WHERE station_id = $1 AND evse_id = $2",
      station_id, evse_id);
  if (rows.empty()) return std::nullopt;
  return key_from(rows[0]);
}

MeterKey register_key(Tx& tx, const std::string& station_id, int evse_id,
                      const std::string& public_key_hex) {
  auto rows = tx.exec_params(std::string(R"(
      INSERT INTO meter_keys (station_id, evse_id, public_key, source)
      VALUES ($1, $2, $3, 'registered')
      ON CONFLICT (station_id, evse_id) DO UPDATE
        SET public_key = EXCLUDED.public_key, source = 'registered', updated_at = now()
      RETURNING )") + kColumns,
                             station_id, evse_id, public_key_hex);
  return key_from(rows.at(0));
}

bool learn(Tx& tx, const std::string& station_id, int evse_id, const std::string& public_key_hex) {
  auto rows = tx.exec_params(R"(
      INSERT INTO meter_keys (station_id, evse_id, public_key, source)
      VALUES ($1, $2, $3, 'learnt') ON CONFLICT DO NOTHING RETURNING 1)",
                             station_id, evse_id, public_key_hex);
  return !rows.empty();
}

}  // namespace chargegrid::server::store::meter_keys
