#include "store/certificate_rollouts.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::certificate_rollouts {

Created create(Tx& tx, const NewRollout& r) {
  Created created;
  created.id = tx.exec_params1(R"(
      INSERT INTO certificate_rollouts (site_id, certificate_type, certificate, certificate_id,
                                        subject, api_key_id, runner_node, runner_incarnation)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id)",
                               r.site_id, r.certificate_type, r.certificate, r.certificate_id,
                               r.subject, r.api_key_id, r.runner_node, r.runner_incarnation)[0]
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

std::vector<Orphan> take_orphans(Tx& tx, const std::string& node, std::int64_t incarnation) {
  std::vector<Orphan> out;
  for (const auto& row : tx.exec_params(R"(
      UPDATE certificate_rollouts r SET runner_node = $1, runner_incarnation = $2
      FROM certificate_rollouts previous
      WHERE previous.id = r.id
        AND (r.runner_node IS DISTINCT FROM $1::text
             OR r.runner_incarnation IS DISTINCT FROM $2::bigint)
        AND EXISTS (SELECT 1 FROM certificate_rollout_stations s
                    WHERE s.rollout_id = r.id AND s.outcome IS NULL)
        AND NOT EXISTS (SELECT 1 FROM cluster_live_nodes n
                        WHERE n.id = r.runner_node AND n.incarnation = r.runner_incarnation)
      RETURNING r.id, r.certificate_type, r.certificate, r.api_key_id,
                coalesce(previous.runner_node, ''))",
                                        node, incarnation)) {
    Orphan orphan;
    orphan.id = row[0].as<std::int64_t>();
    orphan.certificate_type = row[1].as<std::string>();
    orphan.certificate = row[2].as<std::string>();
    if (!row[3].is_null()) orphan.api_key_id = row[3].as<std::int64_t>();
    orphan.previous_runner = row[4].as<std::string>();
    out.push_back(std::move(orphan));
  }
  for (auto& orphan : out)
    for (const auto& row : tx.exec_params(R"(
        SELECT station_id FROM certificate_rollout_stations
        WHERE rollout_id = $1 AND outcome IS NULL ORDER BY station_id)",
                                          orphan.id))
      orphan.pending.push_back(row[0].as<std::string>());
  return out;
}

}  // namespace chargegrid::server::store::certificate_rollouts
