// chargegrid-sim: runs simulated OCPP stations against a CSMS and prints statistics.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <thread>

#include "chargegrid/sim/fleet.hpp"

namespace {
chargegrid::sim::Fleet* running_fleet = nullptr;
void on_signal(int) {
  // Fleet::stop only takes a lock and notifies; the signal arrives on a thread that
  // holds no fleet lock (the main thread waits on a condition variable).
  if (running_fleet != nullptr) running_fleet->stop();
}
}  // namespace

int main(int argc, char** argv) {
  using namespace chargegrid::sim;
  CLI::App app{"chargegrid-sim: simulated OCPP 1.6J / 2.0.1 charging stations"};
  FleetOptions fleet;
  StationOptions& station = fleet.station;
  std::string url = "ws://127.0.0.1:9000/ocpp";
  std::string version = "1.6";
  double run_for_s = 0;
  bool json = false;
  std::string log_level = "warn";
  std::optional<std::string> password;

  app.add_option("--url", url, "CSMS endpoint; stations connect to URL/{stationId}")
      ->capture_default_str();
  app.add_option("--version", version, "OCPP version: 1.6 or 2.0.1")
      ->check(CLI::IsMember({"1.6", "1.6J", "2.0.1"}))
      ->capture_default_str();
  app.add_option("--stations", fleet.stations, "number of stations")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--id-prefix", fleet.id_prefix, "station id prefix (ids are PREFIX0001, ...)")
      ->capture_default_str();
  app.add_option("--first-index", fleet.first_index, "number of the first station")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--threads", fleet.threads, "I/O threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--connectors", station.connectors, "connectors (1.6) / EVSEs (2.0.1) per station")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  app.add_option("--sessions", station.sessions,
                 "charging sessions each station starts itself; 0 = only the ones the CSMS "
                 "starts (boot and heartbeat until --duration or a signal)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--meter-interval", station.meter_interval_s, "seconds between meter samples")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--session-length", station.session_length_s,
                 "seconds each session charges before the station ends it by itself "
                 "(0 = only when the CSMS or the end of the run stops it)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--idle", station.idle_between_sessions_s, "seconds between sessions")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--first-session-delay", station.first_session_delay_s,
                 "seconds after boot before the first session")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--time-scale", station.time_scale,
                 "speed-up of simulated time (60 turns minutes into seconds)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--duration,--run-for", run_for_s,
                 "real seconds after which running sessions are stopped and the stations "
                 "disconnect (0 = until every station is done with its sessions, or a signal)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--password", password, "HTTP Basic auth password (user = station id)");
  app.add_option("--ca-file", station.ca_file, "CA bundle to verify a wss:// server");
  app.add_flag("!--no-verify", station.verify_peer, "do not verify the wss:// server certificate");
  app.add_option("--id-tag", station.id_tag, "idTag / idToken the stations present")
      ->capture_default_str();
  app.add_option("--max-power", station.meter.max_power_w, "charging power in W")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--phases", station.meter.phases, "1 or 3")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
  app.add_flag("--v2g", station.meter.v2g,
               "vehicles also discharge and report the export register");
  app.add_option("--response-timeout", station.response_timeout_s,
                 "real seconds to wait for a CALLRESULT")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--source-spread", fleet.source_address_spread,
                 "spread source addresses over 127.0.0.2..(1+N) (loopback targets)")
      ->check(CLI::Range(0, 253))
      ->capture_default_str();
  app.add_option("--ramp-up", fleet.ramp_up_s, "real seconds between station starts")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--json", json, "print the statistics as JSON");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    station.endpoint = parse_url(url);
  } catch (const std::exception& e) {
    std::cerr << "chargegrid-sim: " << e.what() << "\n";
    return 2;
  }
  station.password = password;
  station.version = *parse_version(version);

  try {
    Fleet runner(fleet);
    running_fleet = &runner;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::optional<std::chrono::milliseconds> limit;
    if (run_for_s > 0) limit = std::chrono::milliseconds(static_cast<long>(run_for_s * 1000));
    const Stats stats = runner.run(limit);
    running_fleet = nullptr;
    if (json) {
      std::cout << stats.to_json().dump(2) << "\n";
    } else {
      const auto j = stats.to_json();
      std::cout << "stations " << stats.stations << " (finished " << stats.stations_finished
                << "), sessions " << stats.sessions_completed << "/" << stats.sessions_started
                << ", calls " << stats.calls_answered << "/" << stats.calls_sent << " answered, "
                << stats.call_errors_received << " CALLERRORs, connects " << stats.connects
                << " (reconnects " << stats.reconnects << ", failures " << stats.connect_failures
                << "), latency ms p50 " << j["latency_ms"]["p50"] << " p99 "
                << j["latency_ms"]["p99"] << " p99.9 " << j["latency_ms"]["p99.9"] << "\n";
    }
    const bool all_finished = station.sessions == 0 || stats.stations_finished == stats.stations;
    return all_finished && stats.call_timeouts == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "chargegrid-sim: " << e.what() << "\n";
    return 2;
  }
}
