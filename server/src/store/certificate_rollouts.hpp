#pragma once
// certificate_rollouts, certificate_rollout_stations (migration 0018): a root certificate
// installed on every station of a site, and each station's outcome. Written by
// plug_and_charge/trust_anchors only.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::certificate_rollouts {

struct NewRollout {
  std::int64_t site_id = 0;
  std::string certificate_type;
  std::string certificate;     // PEM
  std::string certificate_id;  // as the API names an installed certificate
  std::string subject;
  std::optional<std::int64_t> api_key_id;
  // The process that sends the installs (cluster_nodes' id and incarnation).
  std::string runner_node;
  std::int64_t runner_incarnation = 0;
};

struct Created {
  std::int64_t id = 0;
  std::vector<std::string> stations;  // every station of the site, each pending
};

// The rollout with one pending row per station the site has now.
Created create(Tx& tx, const NewRollout& rollout);

struct StationOutcome {
  std::string outcome;  // see the migration
  std::optional<std::string> status;
  std::optional<std::string> detail;
  std::optional<std::int64_t> command_id;
};

// Records a station's outcome once (a second record for the station changes nothing).
void record(Tx& tx, std::int64_t rollout_id, const std::string& station_id,
            const StationOutcome& outcome);

// A rollout taken over from a process that stopped before every station had an outcome.
struct Orphan {
  std::int64_t id = 0;
  std::string certificate_type;
  std::string certificate;  // PEM
  std::optional<std::int64_t> api_key_id;
  std::string previous_runner;       // its node id ("" for none)
  std::vector<std::string> pending;  // stations without an outcome, by id
};
// Makes (`node`, `incarnation`) the runner of every rollout with a pending station whose
// runner is not a live node (cluster_live_nodes: outside cluster mode none is, so any other
// process's); returns them. A live node's rollouts are never taken, so two nodes never take
// the same rollout: the second waits for the first's row lock and then finds a live runner.
std::vector<Orphan> take_orphans(Tx& tx, const std::string& node, std::int64_t incarnation);

}  // namespace chargegrid::server::store::certificate_rollouts
