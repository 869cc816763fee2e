#pragma once
// The exactly-once check: what the CSMS acknowledged to the stations (as a RecordingProxy
// saw it) against what the database holds. Every transaction and meter reading a station
// was told is stored must be there once, with the values the station sent; nothing may be
// there that no station sent; and every transaction message a station sent must in the end
// have been acknowledged (none given up or lost on the way).

#include <cstddef>
#include <string>
#include <vector>

#include "chargegrid/sim/stats.hpp"
#include "recording_proxy.hpp"

namespace chargegrid::testing {

// What was compared, for the test's report.
struct StoredOnceSummary {
  std::size_t transaction_calls = 0;  // transaction-message CALLs the stations sent
  std::size_t refused = 0;            // ... answered with a CALLERROR
  std::size_t unanswered = 0;         // ... left without an answer (connection lost)
  std::size_t transactions = 0;       // distinct transactions acknowledged
  std::size_t events = 0;             // distinct 2.0.1 TransactionEvents acknowledged
  std::size_t samples = 0;            // distinct sampled values acknowledged
  std::size_t duplicate_answers = 0;  // messages acknowledged more than once (replays)
};

// Checks (Catch2 CHECKs) the database at `database_url` for the stations whose ids start
// with `station_prefix`, against `exchanges` and the simulator's statistics.
StoredOnceSummary check_stored_exactly_once(const std::vector<Exchange>& exchanges,
                                            const std::string& database_url,
                                            const std::string& station_prefix,
                                            const sim::Stats& stats);

}  // namespace chargegrid::testing
