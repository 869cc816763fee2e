#pragma once
// evses (migration 0013): the power model of each EVSE as the operator describes it — the most
// it can deliver, on how many phases, and whether it can discharge. The REST API writes it
// (PATCH /api/v1/stations/{id}/evses/{evse_id}); smart charging reads it to plan each site.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::evses {

struct EvsePower {
  std::string station_id;
  int evse_id = 0;
  std::optional<double> max_power_w;  // W, positive; none: not described
  std::optional<int> phases;          // 1 or 3; none: not described
  bool bidirectional = false;
};

// What a patch changes: a member that is absent stays as it is; `clear_*` sets it to none.
struct EvsePowerPatch {
  std::optional<double> max_power_w;
  bool clear_max_power_w = false;
  std::optional<int> phases;
  bool clear_phases = false;
  std::optional<bool> bidirectional;
};

std::optional<EvsePower> find(Tx& tx, const std::string& station_id, int evse_id);
// Every described EVSE of the stations at `site_id`, by station and EVSE.
std::vector<EvsePower> for_site(Tx& tx, std::int64_t site_id);
// Creates the EVSE's row on first use. The station must exist. Returns the stored state.
EvsePower patch(Tx& tx, const std::string& station_id, int evse_id, const EvsePowerPatch& patch);

}  // namespace chargegrid::server::store::evses
