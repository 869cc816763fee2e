#pragma once
// associations: the one writer of driver–station associations (station_associations). A
// driver has at most one open association at a station waiting for a session: a new one
// replaces it. Triggers (db/migrations/0002_api.sql, 0006_claim_rules.sql) link an open
// association to the session that starts there.

#include <cstdint>
#include <optional>
#include <string>

#include "store/transaction.hpp"

namespace chargegrid::server::store::associations {

// A driver claimed the station (or one EVSE of it) through the API; returns the claim's id.
std::int64_t claim(Tx& tx, const std::string& station_id, std::optional<int> evse_id,
                   std::int64_t driver_id, std::int64_t created_by_key);

// A driver's token was accepted at the station (Authorize).
void authorized(Tx& tx, const std::string& station_id, std::int64_t driver_id,
                const std::string& id_token);

// The driver let the association go.
void release(Tx& tx, std::int64_t association_id);

}  // namespace chargegrid::server::store::associations
