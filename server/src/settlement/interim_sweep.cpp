#include "settlement/interim_sweep.hpp"

#include <pqxx/pqxx>

#include "logging.hpp"
#include "store/settlements.hpp"

namespace chargegrid::server::settlement {
namespace {

constexpr int kDaysPerTransaction = 50;

}  // namespace

std::size_t settle_due_days(pqxx::connection_base& c, const SettleOptions& options,
                            std::chrono::milliseconds day, const std::function<bool()>& stopping) {
  std::size_t total = 0;
  // Each pass settles one day of each claimed session; a session behind by more comes back in
  // the next pass. A pass that settles nothing ends the round.
  for (bool more = true; more && !(stopping && stopping());) {
    pqxx::work tx(c);
    const auto sessions = store::settlements::claim_open_days(tx, day, kDaysPerTransaction);
    std::size_t settled = 0;
    for (const auto session_id : sessions) {
      try {
        pqxx::subtransaction one(tx, "interim");
        const auto done = settle_next_day(one, session_id, options, day);
        one.commit();
        if (!done.recorded) continue;
        ++settled;
        log::info("session_settled_interim", {{"session", session_id},
                                              {"settlement", done.settlement_id},
                                              {"log_index", done.log_index},
                                              {"status", done.status}});
      } catch (const std::exception& e) {
        log::warn("interim_settlement_failed",
                  {{"session", session_id}, {"error", std::string(e.what()).substr(0, 200)}});
      }
    }
    tx.commit();
    total += settled;
    more = settled > 0;
  }
  return total;
}

InterimSweep::InterimSweep(boost::asio::io_context& io, db::ConnectionPool& pool,
                           const SettleOptions& options, std::chrono::milliseconds interval)
    : options_(options), job_(io, pool, interval, [this](pqxx::connection_base& c) {
        try {
          settle_due_days(c, options_, std::chrono::hours(24), [this] { return job_.stopping(); });
        } catch (const std::exception& e) {
          log::warn("interim_sweep_failed", {{"error", std::string(e.what()).substr(0, 200)}});
        }
        return false;  // every due day is settled: the next round after the interval
      }) {}

}  // namespace chargegrid::server::settlement
