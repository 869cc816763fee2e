#pragma once
// The settlement service: consumes the durable "session.ended" events (an OutboxConsumer named
// "settlement") and settles each session in the transaction that marks its event done, so a
// session is settled exactly once across repeats, kill -9, outages and cluster nodes.
//
// A session is settled once its end is a moment old: the readings its last message carried are
// written by the meter writer just after the session's end commits. The outbox holds each event
// back that long for this consumer (a planned wait: no failed attempt, no backoff).
//
// It also closes the sessions no station will end (session_closer.hpp): silent past
// --session-timeout, or replaced by a newer one on their EVSE. Closing writes the same
// "session.ended" event, so they are settled like any other.
//
// And it settles the sessions that run longer than a day by the day while they run
// (interim_sweep.hpp); their final settlement then covers only the rest.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

#include "chargegrid/db/fwd.hpp"
#include "settlement/interim_sweep.hpp"
#include "settlement/session_closer.hpp"
#include "settlement/settle.hpp"

namespace chargegrid::server {
struct Config;
class OutboxConsumer;
}  // namespace chargegrid::server

namespace chargegrid::server::settlement {

class SettlementService {
 public:
  static constexpr const char* kConsumer = "settlement";
  // How old an end must be before the session is settled.
  static constexpr std::chrono::milliseconds kSettleAfter{1500};

  SettlementService(boost::asio::io_context& io, db::ConnectionPool& pool, const Config& config,
                    PricesForSession prices = {});
  ~SettlementService();

  void start();
  void stop();

 private:
  SettleOptions options_;
  std::unique_ptr<OutboxConsumer> consumer_;
  std::unique_ptr<SessionCloser> closer_;
  std::unique_ptr<InterimSweep> interims_;
};

}  // namespace chargegrid::server::settlement
