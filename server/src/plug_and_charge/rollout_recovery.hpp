#pragma once
// Finishes trust-anchor rollouts whose node stopped before every station had an outcome: at
// start (a restarted node, or the one node outside cluster mode, takes its predecessor's) and,
// in cluster mode, every lease timeout (a live node takes a dead node's). Pending stations
// are sent the install again (plug_and_charge::resume_orphaned_rollouts).

#include <boost/asio/io_context.hpp>
#include <memory>

#include "chargegrid/server/config.hpp"
#include "plug_and_charge/trust_anchors.hpp"

namespace chargegrid::server::plug_and_charge {

class RolloutRecovery {
 public:
  RolloutRecovery(const Config& config, boost::asio::io_context& io, Database& database,
                  commands::CommandRouter& commands);
  ~RolloutRecovery();
  // After the node registered (cluster.start): `runner` is this process.
  void start(RolloutRunner runner);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace chargegrid::server::plug_and_charge
