#pragma once
// Settles one ended session inside the caller's transaction: reads the session, its site, its
// register readings and signed samples; checks the signed data against the EVSE's pinned key;
// cuts the energy into packets; prices them; appends the canonical record (schema version 2, or 3
// for the records of a session settled by the day) to the verifiable log; and writes the
// settlement row and its "settlement.recorded" outbox event.
// All of it commits together, or none of it.
//
// A session running longer than a day is settled by the day while it runs (settle_next_day):
// each day an interim record (schema version 3) whose period begins where the previous one
// ended; the final settlement then covers only the rest and refers to the last interim.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "settlement/flexibility.hpp"
#include "settlement/pricing.hpp"
#include "store/settlements.hpp"
#include "store/transaction.hpp"

namespace chargegrid::server::settlement {

// The site's prices for a session (from the site's tariff); nullopt: the site has none, and the
// session is settled without amounts (currency XXX, ISO 4217's "no currency").
using PricesForSession =
    std::function<std::optional<Prices>(store::Tx&, const store::settlements::SessionFacts&)>;

// What the demand-response credit of a record covering [from, to] needs (flexibility.hpp);
// nullopt: no window limited the site's import then.
using FlexibilityForSession = std::function<std::optional<FlexibilityInput>(
    store::Tx&, const store::settlements::SessionFacts&, base::TimePoint from, base::TimePoint to)>;

struct SettleOptions {
  std::chrono::minutes interval{15};
  PricesForSession prices;            // may be empty
  FlexibilityForSession flexibility;  // may be empty: no demand-response credits
};

struct Settled {
  bool recorded = false;  // false: the session had been settled already
  std::string settlement_id;
  std::uint64_t log_index = 0;
  std::string status;
};

// The final settlement of an ended session (the rest after its interims, if it has any).
// Throws std::runtime_error for a session that does not exist or has not ended.
Settled settle_session(store::Tx& tx, std::int64_t session_id, const SettleOptions& options);

// The interim settlement of the open session's next day: the `day` after its last interim's
// period (or its start). Records nothing for a session that has ended or whose next day has
// not passed yet. The caller holds the session's row (store::settlements::claim_open_days).
Settled settle_next_day(store::Tx& tx, std::int64_t session_id, const SettleOptions& options,
                        std::chrono::milliseconds day = std::chrono::hours(24));

}  // namespace chargegrid::server::settlement
