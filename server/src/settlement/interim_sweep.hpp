#pragma once
// Interim settlements of long sessions: every few seconds (kInterval), the open sessions with a
// day to settle (the day after their last interim, or their first day, has passed and the
// station has sent a register reading since its end) get that day's interim settlement, one
// record per day (settle.hpp: settle_next_day). The sessions are claimed FOR UPDATE SKIP
// LOCKED, so on a cluster each is settled by one node, and a unique key on (session, interim
// number) keeps a race or a replay from settling a day twice. A session behind by several days
// gets them one after another in the same sweep.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>

#include "chargegrid/db/fwd.hpp"
#include "recurring_job.hpp"
#include "settlement/settle.hpp"

namespace chargegrid::server::settlement {

// One round of the sweep on `c`: settles every due day; returns how many it settled. A session
// that fails is logged and left for the next round; the others are settled all the same.
// `stopping`, when given, ends the round early (between transactions).
std::size_t settle_due_days(pqxx::connection_base& c, const SettleOptions& options,
                            std::chrono::milliseconds day = std::chrono::hours(24),
                            const std::function<bool()>& stopping = {});

class InterimSweep {
 public:
  // How often open sessions are looked at: a day is settled within seconds of being due.
  static constexpr std::chrono::seconds kInterval{5};

  InterimSweep(boost::asio::io_context& io, db::ConnectionPool& pool, const SettleOptions& options,
               std::chrono::milliseconds interval = kInterval);

  void start() { job_.start(); }  // the first sweep at once
  void stop() { job_.stop(); }

 private:
  const SettleOptions& options_;
  RecurringJob job_;
};

}  // namespace chargegrid::server::settlement
