#pragma once
// connectors: the one writer of connector states (connector_status, the latest per connector,
// and status_history, every report).

#include <optional>
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

}  // namespace chargegrid::server::store::connectors
