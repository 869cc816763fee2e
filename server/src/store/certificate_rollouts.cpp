#include "store/certificate_rollouts.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::certificate_rollouts {

Created create(Tx& tx, const NewRollout& r) {
  Created created;
  created.id = tx.exec_params1(R"(
      INSERT INTO certificate_rollouts (site_id, certificate_type, certificate, certificate_id,
                                        subject, api_key_id)
      VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)",
                               r.site_id, r.certificate_type, r.certificate, r.certificate_id,
                               r.subject, r.api_key_id)[0]
                   .as<std::int64_t>();
  for (const auto& row : tx.exec_params(R"(
      INSERT INTO certificate_rollout_stations (rollout_id, station_id)
      SELECT $1, id FROM stations WHERE site_id = $2 ORDER BY id
      RETURNING station_id)",
                                        created.id, r.site_id))
    created.stations.push_back(row[0].as<std::string>());
  return created;
}

void record(Tx& tx, std::int64_t rollout_id, const std::string& station_id,
            const StationOutcome& o) {
  tx.exec_params(R"(
      UPDATE certificate_rollout_stations
      SET outcome = $3, status = $4, detail = $5, command_id = $6, completed_at = now()
      WHERE rollout_id = $1 AND station_id = $2 AND outcome IS NULL)",
                 rollout_id, station_id, o.outcome, o.status, o.detail, o.command_id);
}

}  // namespace chargegrid::server::store::certificate_rollouts
