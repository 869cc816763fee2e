#pragma once
// meter_values: the one writer of meter samples. A batch is copied in (or, when it holds a
// sample already stored, inserted by one checked statement); it also widens the register span
// of the running sessions its samples belong to (transactions' *_first_wh / *_last_wh), the
// only write to transactions outside store/sessions.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
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

// The station each transaction id was issued to, as batches have looked them up. A
// transaction's station never changes and its id is never issued again, so one look-up serves
// every later batch that names it. Shared by the batches a writer has in flight; when it holds
// `capacity` ids it starts afresh. (A transaction deleted with its station stays known until
// then: should the station be registered again and name it, its samples keep the id.)
class TransactionOwners {
 public:
  explicit TransactionOwners(std::size_t capacity = 200'000) : capacity_(capacity) {}

  // The station `transaction_id` belongs to, if known.
  std::optional<std::string> owner(std::int64_t transaction_id) const;
  void remember(std::int64_t transaction_id, const std::string& station_id);
  std::size_t size() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::int64_t, std::string> owners_;
};

// Stores [begin, end) and returns the foreign transaction ids it met. Replayed samples (same
// primary key) are skipped; an ended session's figures do not move. With `owners`, the
// transactions it already knows are not looked up again.
std::vector<ForeignTransaction> append(Tx& tx, std::vector<MeterRow>::const_iterator begin,
                                       std::vector<MeterRow>::const_iterator end,
                                       TransactionOwners* owners = nullptr);

}  // namespace meter_values
}  // namespace chargegrid::server::store
