#pragma once
// The settlement service: consumes the durable "session.ended" events (an OutboxConsumer named
// "settlement") and settles each session in the transaction that marks its event done, so a
// session is settled exactly once across repeats, kill -9, outages and cluster nodes.
//
// A session is settled once its end is a few seconds old: the readings its last message carried
// are written by the meter writer just after the session's end commits.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "chargegrid/db/fwd.hpp"
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
};

}  // namespace chargegrid::server::settlement
