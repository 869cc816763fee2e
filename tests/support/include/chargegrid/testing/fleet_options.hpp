#pragma once
// The load the robustness and cluster tests put on the server: fleets of simulated stations with
// short sessions and frequent meter values, 60 times faster than real time, and a server set up to
// serve them (free vend, short heartbeat interval).

#include <string>

#include "chargegrid/server/config.hpp"
#include "chargegrid/sim/fleet.hpp"

namespace chargegrid::testing {

inline server::Config server_config() {
  server::Config config;
  config.bind_address = "127.0.0.1";
  config.ocpp_port = 0;
  config.http_port = 0;
  config.tls = false;  // ws only: nothing is written to data_dir
  config.threads = 2;
  config.db_connections = 2;
  config.meter_batch_delay_ms = 2;
  config.heartbeat_interval_s = 60;  // one real second at the fleets' time scale
  config.accept_unknown_tokens = true;
  config.log_level = "error";
  return config;
}

// `stations` stations of one version, ids PREFIX16-0001... or PREFIX201-0001...
inline sim::FleetOptions fleet_options(const std::string& url, sim::OcppVersion version,
                                       const std::string& prefix, int stations) {
  sim::FleetOptions options;
  options.stations = stations;
  options.threads = 1;
  options.id_prefix = prefix + (version == sim::OcppVersion::v16 ? "16-" : "201-");
  options.ramp_up_s = 0.02;
  auto& s = options.station;
  s.version = version;
  s.endpoint = sim::parse_url(url);
  s.connectors = 2;
  s.sessions = 3;
  s.time_scale = 60;
  s.meter_interval_s = 30;
  s.session_length_s = 360;
  s.idle_between_sessions_s = 60;
  s.first_session_delay_s = 0;
  s.default_heartbeat_s = 60;
  s.response_timeout_s = 20;
  s.reconnect_min_s = 0.2;
  s.reconnect_max_s = 1.0;
  // Keep refused transaction messages through an outage of a minute or two.
  s.transaction_message_attempts = 1000;
  s.transaction_message_retry_interval_s = 30;
  return options;
}

}  // namespace chargegrid::testing
