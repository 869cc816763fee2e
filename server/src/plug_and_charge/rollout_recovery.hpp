#pragma once
// Finishes trust-anchor rollouts whose runner stopped before every station had an outcome
// (docs/iso15118.md): a RecurringJob whose round takes over every rollout with a pending
// station whose runner (node id and incarnation) is not a live node, makes this process its
// runner and sends its pending stations the install again. Rounds run every lease timeout
// (--lease-timeout) and take nothing during the first, so the stations of a restarted or
// dead runner have had that long to reconnect before they are asked. Outside cluster mode
// only that one round, a lease timeout after start, takes anything (the one process on a
// database takes what its predecessor left); in cluster mode a live node takes a dead node's
// rollouts within about twice the lease timeout of the dead node's last heartbeat.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "chargegrid/db/fwd.hpp"
#include "chargegrid/server/config.hpp"
#include "plug_and_charge/trust_anchors.hpp"
#include "recurring_job.hpp"

namespace chargegrid::server {
class Database;
namespace commands {
class CommandRouter;
}
}  // namespace chargegrid::server

namespace chargegrid::server::plug_and_charge {

class RolloutRecovery {
 public:
  // `self`: this process as a rollout's runner (the cluster's node id and incarnation).
  RolloutRecovery(const Config& config, boost::asio::io_context& io, db::ConnectionPool& pool,
                  Database& database, commands::CommandRouter& commands, RolloutRunner self);
  void start() { job_.start(); }
  void stop() { job_.stop(); }
  // How often a round looks: the lease timeout in cluster mode.
  std::chrono::milliseconds interval() const { return interval_; }

 private:
  void round(pqxx::connection_base& c);  // a round of job_

  boost::asio::io_context& io_;
  Database& database_;
  commands::CommandRouter& commands_;
  const RolloutRunner self_;
  const bool cluster_;
  const std::chrono::milliseconds interval_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool looked_ = false;  // outside cluster mode: the one round that takes ran
  RecurringJob job_;     // last: its rounds use the members above
};

}  // namespace chargegrid::server::plug_and_charge
