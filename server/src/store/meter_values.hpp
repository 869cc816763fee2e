#pragma once
// meter_values: the one writer of meter samples. A batch is one statement; it also widens the
// register span of the running sessions its samples belong to (transactions' *_first_wh /
// *_last_wh), the only write to transactions outside store/sessions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store {

// One sampled value, units normalised, as it is stored.
struct MeterRow {
  std::string station_id;
  int evse_id = 0;
  std::string sampled_at;  // RFC 3339
  std::string measurand;
  std::string phase;
  std::string location;
  std::string context;
  std::string format = "Raw";
  std::optional<double> value;  // normalised
  std::string unit;
  std::optional<int> transaction_id;
  std::optional<std::string> signed_data;
};

// A sample that named a transaction which is not its station's (stored without one).
struct ForeignTransaction {
  std::string station_id;
  std::int64_t transaction_id;
};

namespace meter_values {

// Stores [begin, end) and returns the foreign transaction ids it met. Replayed samples (same
// primary key) are skipped; an ended session's figures do not move.
std::vector<ForeignTransaction> append(Tx& tx, std::vector<MeterRow>::const_iterator begin,
                                       std::vector<MeterRow>::const_iterator end);

}  // namespace meter_values
}  // namespace chargegrid::server::store
