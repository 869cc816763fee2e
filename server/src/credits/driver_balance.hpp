#pragma once
// Drivers' balances, applied by settlement to a record before it is appended to the log, in the
// settlement's own transaction: a session that earned more by discharging (V2G export credit)
// than it cost credits the difference to its driver's balance in the record's currency; a session
// that costs something spends the balance first, recorded as a "driver_balance" price component
// (negative) that lowers the record's total. The balance never goes negative, and each change
// is an entry naming the settlement.

#include <cstdint>

#include "chargegrid/ledger/settlement_record.hpp"
#include "store/transaction.hpp"

namespace chargegrid::server::credits {

inline constexpr const char* kBalanceComponent = "driver_balance";

struct BalanceApplied {
  std::int64_t earned_minor = 0;
  std::int64_t spent_minor = 0;
};

// Does nothing for a session without a driver or a record without a currency (XXX).
BalanceApplied apply_driver_balance(store::Tx& tx, std::int64_t session_id,
                                    ledger::SettlementRecord& record);

}  // namespace chargegrid::server::credits
