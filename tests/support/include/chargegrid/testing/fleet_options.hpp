#pragma once
// The load the robustness and cluster tests put on the server: fleets of simulated stations with
// short sessions and frequent meter values, 60 times faster than real time, and a server set up to
// serve them (free vend, short heartbeat interval).

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/sim_fleet.hpp"
#include "chargegrid/testing/test_config.hpp"

namespace chargegrid::testing {

inline server::Config server_config() {
  auto config = test_config();
  config.heartbeat_interval_s = 60;  // one real second at the fleets' time scale
  config.accept_unknown_tokens = true;
  config.log_level = "error";
  return config;
}

// `stations` stations of one version, ids PREFIX16-0001... or PREFIX201-0001...
inline sim::FleetOptions fleet_options(const std::string& url, sim::OcppVersion version,
                                       const std::string& prefix, int stations) {
  auto options =
      quick_fleet(url, version, prefix + (version == sim::OcppVersion::v16 ? "16-" : "201-"));
  options.stations = stations;
  options.ramp_up_s = 0.02;
  auto& s = options.station;
  s.connectors = 2;
  s.sessions = 3;
  s.meter_interval_s = 30;
  s.session_length_s = 360;
  s.idle_between_sessions_s = 60;
  s.default_heartbeat_s = 60;
  s.response_timeout_s = 20;
  s.reconnect_min_s = 0.2;
  s.reconnect_max_s = 1.0;
  // Keep refused transaction messages through an outage of a minute or two.
  s.transaction_message_attempts = 1000;
  s.transaction_message_retry_interval_s = 30;
  return options;
}

// Fleets running in the background, each until its stations are done or `limit` passes.
class BackgroundFleets {
 public:
  explicit BackgroundFleets(std::chrono::seconds limit) : limit_(limit) {}

  void start(sim::FleetOptions options) {
    fleets_.push_back(std::make_unique<sim::Fleet>(std::move(options)));
    auto* fleet = fleets_.back().get();
    runs_.push_back(std::async(std::launch::async, [fleet, limit = limit_] {
      return fleet->run(std::chrono::milliseconds(limit));
    }));
  }
  // A fleet of each OCPP version (fleet_options) of `stations` stations against `url`.
  void start_both_versions(const std::string& url, const std::string& prefix, int stations) {
    for (const auto version : {sim::OcppVersion::v16, sim::OcppVersion::v201})
      start(fleet_options(url, version, prefix, stations));
  }
  void stop() {
    for (auto& fleet : fleets_) fleet->stop();
  }
  // Waits until every fleet has finished; their statistics together.
  sim::Stats wait() {
    sim::Stats stats;
    for (auto& run : runs_) stats.merge(run.get());
    return stats;
  }

 private:
  std::chrono::seconds limit_;
  std::vector<std::unique_ptr<sim::Fleet>> fleets_;
  std::vector<std::future<sim::Stats>> runs_;
};

}  // namespace chargegrid::testing
