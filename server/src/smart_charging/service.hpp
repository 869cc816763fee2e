#pragma once
// The smart-charging loop: one scheduler::Planner and DeparturePredictor per site; every
// connected vehicle of a site with a grid limit (or a demand-response window) gets a charging
// profile through the command router, replanned on arrival, departure, charging needs,
// declarations, demand-response changes, stations going offline or online, rejected
// profiles and every slot boundary. In cluster mode a site is planned only on the node
// holding its site lease (smart_charging/site_leases.hpp). See docs/smart-charging.md.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "chargegrid/db/fwd.hpp"

namespace boost::asio {
class io_context;
}
namespace chargegrid::server {
struct Config;
class Database;
class EventBus;
namespace commands {
class CommandRouter;
}
}  // namespace chargegrid::server

namespace chargegrid::server::smart_charging {

// A driver declared a departure or energy (API): published on the EventBus so that the
// station's site is replanned.
struct DeclarationChanged {
  std::string station_id;
};

class Service {
 public:
  // `node_id`: this node's id in cluster mode, where each site is planned only by the node
  // holding its site lease; empty otherwise.
  Service(const Config& config, boost::asio::io_context& io, db::ConnectionPool& pool,
          Database& database, commands::CommandRouter& commands, EventBus& events,
          std::string node_id = {});
  ~Service();

  // Learns from the finished sessions in the database, subscribes to its outbox topics and
  // plans every site with a vehicle. Nothing runs unless --smart-charging is on.
  void start();
  void stop();

  // Asks for a replan (coalesced with others that come within a moment).
  void replan_site(std::int64_t site_id, const std::string& reason);
  void replan_station(const std::string& station_id, const std::string& reason);

  // Prometheus text: the sessions the sites' departure predictors learnt, their rebuilds.
  void render_metrics(std::string& out) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace chargegrid::server::smart_charging
