#pragma once
// The shared parts every connection and handler uses, owned by the Server.

#include "chargegrid/server/config.hpp"
#include "connections/station_registry.hpp"
#include "database.hpp"
#include "event_bus.hpp"
#include "meter_writer.hpp"
#include "metrics.hpp"
#include "ocpp/handler.hpp"

namespace chargegrid::server::security {
class Security;
}

namespace chargegrid::server {

class Cluster;

struct Services {
  const Config& config;
  Database& database;
  MeterWriter& meters;
  Metrics& metrics;
  StationRegistry& stations;
  HandlerRegistry& handlers;
  EventBus& events;
  security::Security& security;
  Cluster& cluster;
};

}  // namespace chargegrid::server
