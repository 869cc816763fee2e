#pragma once
// The shared parts every connection and handler uses, owned by the Server.

#include "chargegrid/server/config.hpp"
#include "connections/station_registry.hpp"
#include "events/event_bus.hpp"
#include "meter_writer.hpp"
#include "metrics.hpp"
#include "ocpp/handler.hpp"
#include "state_writers.hpp"
#include "store/database.hpp"

namespace chargegrid::server::security {
class Security;
}

namespace chargegrid::server {

class Cluster;
namespace commands {
class CommandRouter;
}

struct Services {
  const Config& config;
  Database& database;
  MeterWriter& meters;
  StateWriters& writers;  // statuses, boots and connections in group commits
  Metrics& metrics;
  StationRegistry& stations;
  HandlerRegistry& handlers;
  EventBus& events;
  security::Security& security;
  Cluster& cluster;
  commands::CommandRouter& commands;  // the one way out to a station
};

}  // namespace chargegrid::server
