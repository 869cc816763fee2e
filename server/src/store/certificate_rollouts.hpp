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

}  // namespace chargegrid::server::store::certificate_rollouts
