#include "credits/driver_balance.hpp"

#include <algorithm>

#include "store/credits.hpp"

namespace chargegrid::server::credits {

BalanceApplied apply_driver_balance(store::Tx& tx, std::int64_t session_id,
                                    ledger::SettlementRecord& record) {
  namespace repo = store::credits;
  BalanceApplied applied;
  if (record.currency.empty() || record.currency == "XXX") return applied;
  const auto driver = repo::session_driver(tx, session_id);
  if (!driver) return applied;
  const auto balance = repo::lock_driver_balance(tx, *driver, record.currency);
  repo::BalanceChange change{*driver, record.currency, "", 0, record.settlement_id, session_id};
  if (record.total_minor < 0) {
    // The export credit exceeded the session's cost: the driver is owed the difference.
    applied.earned_minor = -record.total_minor;
    change.kind = "earned";
    change.amount_minor = applied.earned_minor;
    repo::change_driver_balance(tx, change);
  } else if (record.total_minor > 0 && balance > 0) {
    applied.spent_minor = std::min(balance, record.total_minor);
    record.prices.push_back(
        {kBalanceComponent, -applied.spent_minor, "session", 1000, -applied.spent_minor});
    record.total_minor -= applied.spent_minor;
    change.kind = "spent";
    change.amount_minor = -applied.spent_minor;
    repo::change_driver_balance(tx, change);
  }
  return applied;
}

}  // namespace chargegrid::server::credits
