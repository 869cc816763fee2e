#pragma once
// connectors: the one writer of connector states (connector_status, the latest per connector,
// and status_history, every report).

#include <optional>
#include <span>
#include <string>

#include "store/transaction.hpp"

namespace chargegrid::server::store::connectors {

struct StatusChange {
  std::string station_id;
  int evse_id = 0;
  int connector_id = 0;
  std::string status;
  std::optional<std::string> error_code, info, vendor_error;
  std::string reported_at;  // RFC 3339
};
// Every report goes into the history; one older than the state held (sent late after a
// reconnect) does not replace it.
void record_status(Tx& tx, const StatusChange& change);
// The same for many changes in one statement (a group commit's batch), in their order: the
// history gets every one, and of several changes of one connector the live state keeps the
// one record_status would have left, applying them one after the other.
void record_statuses(Tx& tx, std::span<const StatusChange> changes);

}  // namespace chargegrid::server::store::connectors
