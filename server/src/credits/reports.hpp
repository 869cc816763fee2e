#pragma once
// Regulator reports: per station, the energy delivered and exported by the sessions that ended
// in a period, how much of it came from verified signed meter data, and the number of sessions.
// A report of a closed period (it has ended and every session that ended in it is settled) is
// appended to the verifiable log once, in the transaction that stores it; asking again answers
// the stored report. A period still open gets a preview that is not logged.

#include <cstdint>
#include <optional>
#include <string>

#include "credits/period.hpp"
#include "store/transaction.hpp"

namespace chargegrid::server::credits {

struct ReportAnswer {
  std::string record;                      // the canonical EnergyReport
  std::optional<std::uint64_t> log_index;  // nullopt: a preview of an open period
  bool closed = false;
  std::int64_t unsettled_sessions = 0;  // sessions of the period waiting for their settlement
};

// `site_id` nullopt: every station (the caller is an admin).
ReportAnswer energy_report(store::Tx& tx, const Period& period,
                           std::optional<std::int64_t> site_id);

}  // namespace chargegrid::server::credits
