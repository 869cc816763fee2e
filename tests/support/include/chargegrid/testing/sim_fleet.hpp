#pragma once
// Simulated stations as the tests run them: a simulated minute per real second, sessions that
// start at once, quick reconnects and answers awaited for seconds, not minutes; and a fleet that
// runs in the background for as long as a test needs it.

#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <utility>

#include "chargegrid/sim/fleet.hpp"

namespace chargegrid::testing {

// The OCPP endpoint of a server listening on `port` of the loopback address.
inline std::string local_ocpp_url(std::uint16_t port) {
  return "ws://127.0.0.1:" + std::to_string(port) + "/ocpp";
}

// One station of `version` against `url`, ids PREFIX0001..., at the tests' pace; callers set
// what their stations do (connectors, sessions, their length).
inline sim::FleetOptions quick_fleet(const std::string& url, sim::OcppVersion version,
                                     const std::string& prefix) {
  sim::FleetOptions options;
  options.id_prefix = prefix;
  auto& s = options.station;
  s.version = version;
  s.endpoint = sim::parse_url(url);
  s.time_scale = 60;
  s.meter_interval_s = 60;
  s.first_session_delay_s = 0;
  s.reconnect_min_s = 0.1;
  s.response_timeout_s = 10;
  return options;
}

// A fleet running in the background until stop() or the end of its scope (a minute at most).
struct RunningFleet {
  explicit RunningFleet(sim::FleetOptions fleet_options)
      : options(std::move(fleet_options)),
        fleet(options),
        run(std::async(std::launch::async,
                       [this] { return fleet.run(std::chrono::seconds(60)); })) {}
  ~RunningFleet() {
    fleet.stop();
    if (run.valid()) run.wait();
  }
  // Stops the fleet; its statistics.
  sim::Stats stop() {
    fleet.stop();
    return run.get();
  }
  // The id of its i-th station (from 1).
  std::string id(int index = 1) const { return sim::station_id(options, index); }

  const sim::FleetOptions options;
  sim::Fleet fleet;
  std::future<sim::Stats> run;
};

}  // namespace chargegrid::testing
