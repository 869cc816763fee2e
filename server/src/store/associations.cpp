#include "store/associations.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::associations {

namespace {

// The driver's earlier open association at this station, not yet in a session, gives way.
void replace_waiting(Tx& tx, const std::string& station_id, std::int64_t driver_id) {
  tx.exec_params(
      R"(UPDATE station_associations SET ended_at = now(), end_reason = 'replaced'
         WHERE station_id = $1 AND driver_id = $2 AND ended_at IS NULL
           AND transaction_id IS NULL)",
      station_id, driver_id);
}

}  // namespace

std::int64_t claim(Tx& tx, const std::string& station_id, std::optional<int> evse_id,
                   std::int64_t driver_id, std::int64_t created_by_key) {
  replace_waiting(tx, station_id, driver_id);
  return tx
      .exec_params1(
          R"(INSERT INTO station_associations (station_id, evse_id, driver_id, source,
                                               created_by_key)
             VALUES ($1, $2, $3, 'claim', $4) RETURNING id)",
          station_id, evse_id, driver_id, created_by_key)[0]
      .as<std::int64_t>();
}

void authorized(Tx& tx, const std::string& station_id, std::int64_t driver_id,
                const std::string& id_token) {
  replace_waiting(tx, station_id, driver_id);
  tx.exec_params(
      R"(INSERT INTO station_associations (station_id, driver_id, id_token, source)
         VALUES ($1, $2, $3, 'authorize'))",
      station_id, driver_id, id_token);
}

void release(Tx& tx, std::int64_t association_id) {
  tx.exec_params(
      "UPDATE station_associations SET ended_at = now(), end_reason = 'released' WHERE id = $1",
      association_id);
}

}  // namespace chargegrid::server::store::associations
