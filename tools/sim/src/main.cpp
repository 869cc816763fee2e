// chargegrid-sim: runs simulated OCPP stations against a CSMS and prints statistics.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/tools/options.hpp"

using chargegrid::tools::option;

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
  CLI::App app{"chargegrid-sim: simulated OCPP 1.6J / 2.0.1 / 2.1 charging stations"};
  FleetOptions fleet;
  StationOptions& station = fleet.station;
  std::string url = "ws://127.0.0.1:9000/ocpp";
  std::string version = "1.6";
  double run_for_s = 0;
  bool json = false;
  std::string log_level = "warn";
  std::optional<std::string> password;

  option(app, "--url", url, "CSMS endpoint; stations connect to URL/{stationId}");
  option(app, "--version", version, "OCPP version: 1.6, 2.0.1 or 2.1",
         CLI::IsMember({"1.6", "1.6J", "2.0.1", "2.1"}));
  option(app, "--stations", fleet.stations, "number of stations", CLI::Range(0, 100000));
  option(app, "--id-prefix", fleet.id_prefix, "station id prefix (ids are PREFIX0001, ...)");
  option(app, "--first-index", fleet.first_index, "number of the first station",
         CLI::NonNegativeNumber);
  option(app, "--threads", fleet.threads, "I/O threads", CLI::Range(1, 256));
  option(app, "--connectors", station.connectors, "connectors (1.6) / EVSEs (2.0.1) per station",
         CLI::Range(1, 32));
  option(app, "--sessions", station.sessions,
         "charging sessions each station starts itself; 0 = only the ones the CSMS "
         "starts (boot and heartbeat until --duration or a signal)",
         CLI::NonNegativeNumber);
  option(app, "--meter-interval", station.meter_interval_s, "seconds between meter samples",
         CLI::PositiveNumber);
  option(app, "--session-length", station.session_length_s,
         "seconds each session charges before the station ends it by itself "
         "(0 = only when the CSMS or the end of the run stops it)",
         CLI::NonNegativeNumber);
  option(app, "--idle", station.idle_between_sessions_s, "seconds between sessions",
         CLI::NonNegativeNumber);
  option(app, "--first-session-delay", station.first_session_delay_s,
         "seconds after boot before the first session", CLI::NonNegativeNumber);
  option(app, "--time-scale", station.time_scale,
         "speed-up of simulated time (60 turns minutes into seconds)", CLI::PositiveNumber);
  option(app, "--duration,--run-for", run_for_s,
         "real seconds after which running sessions are stopped and the stations "
         "disconnect (0 = until every station is done with its sessions, or a signal)",
         CLI::NonNegativeNumber);
  app.add_option("--password", password, "HTTP Basic auth password (user = station id)");
  app.add_option("--ca-file", station.ca_file, "CA bundle to verify a wss:// server");
  app.add_flag("!--no-verify", station.verify_peer, "do not verify the wss:// server certificate");
  option(app, "--id-tag", station.id_tag, "idTag / idToken the stations present");
  option(app, "--max-power", station.meter.max_power_w, "charging power in W", CLI::PositiveNumber);
  option(app, "--phases", station.meter.phases, "1 or 3", CLI::IsMember({1, 3}));
  app.add_flag("--v2g", station.meter.v2g,
               "vehicles also discharge and report the export register");
  // The vehicles (one per session) and the station's electrics.
  double battery_kwh = station.meter.battery_capacity_wh / 1000;
  option(app, "--ev-battery-kwh", battery_kwh, "vehicle battery capacity in kWh",
         CLI::PositiveNumber);
  option(app, "--ev-soc", station.meter.initial_soc_percent, "mean state of charge (%) at plug-in",
         CLI::Range(0.0, 100.0));
  option(app, "--ev-soc-spread", station.ev.soc_spread_percent,
         "the state of charge at plug-in is drawn within this many points of --ev-soc",
         CLI::Range(0.0, 100.0));
  option(app, "--ev-target-soc", station.meter.target_soc_percent,
         "state of charge (%) at which the vehicle stops charging", CLI::Range(0.0, 100.0));
  option(app, "--ev-max-power", station.meter.ev_max_power_w,
         "the vehicle's own charging limit in W (0: as --max-power)", CLI::NonNegativeNumber);
  option(app, "--ev-min-current", station.meter.ev_min_current_a,
         "the lowest current per phase (A) the vehicle charges at: a lower limit pauses it "
         "(IEC 61851-1: 6; 0: it follows any limit)",
         CLI::NonNegativeNumber);
  option(app, "--ev-max-discharge", station.meter.discharge_power_w,
         "the vehicle's discharging limit in W (V2G)", CLI::NonNegativeNumber);
  option(app, "--v2g-share", station.ev.v2g_share,
         "share (0..1) of vehicles that discharge when a 2.1 setpoint below zero asks",
         CLI::Range(0.0, 1.0));
  app.add_flag("!--no-charging-needs", station.ev.notify_charging_needs,
               "2.0.1 / 2.1 vehicles do not send NotifyEVChargingNeeds after plug-in");
  option(app, "--voltage", station.meter.nominal_voltage_v,
         "nominal phase-to-neutral voltage (converts A limits to W)", CLI::PositiveNumber);
  option(app, "--seed", station.meter.seed,
         "seed of the vehicles drawn and of meter jitter (the same seed, the same run)");
  option(app, "--response-timeout", station.response_timeout_s,
         "real seconds to wait for a CALLRESULT", CLI::PositiveNumber);
  option(app, "--source-spread", fleet.source_address_spread,
         "spread source addresses over 127.0.0.2..(1+N) (loopback targets)", CLI::Range(0, 253));
  option(app, "--ramp-up", fleet.ramp_up_s, "real seconds between station starts",
         CLI::NonNegativeNumber);
  // ISO 15118 (Plug & Charge) vehicles; certificates and keys from scripts/pki.
  auto& pnc = station.iso15118;
  std::string pnc_authorize = "hash";
  app.add_flag("--iso15118", pnc.enabled,
               "the station's own sessions are ISO 15118 vehicles that authorize with their "
               "contract certificate (eMAID); the station asks for its SECC certificate");
  option(app, "--contract-cert", pnc.contract_certificate_file,
         "the vehicle's contract certificate followed by its MO sub-CAs (PEM)");
  option(app, "--emaid", pnc.emaid, "the vehicle's eMAID (default: the contract certificate's CN)");
  option(app, "--pnc-authorize", pnc_authorize,
         "hash: Authorize with iso15118CertificateHashData; certificate: with the chain",
         CLI::IsMember({"hash", "certificate"}));
  option(app, "--secc-key", pnc.secc_key_file,
         "the SECC's private key for its V2G CSR (PEM; default: a fresh P-256 key)");
  app.add_flag(
      "!--no-v2g-csr", pnc.sign_v2g_certificate,
      "the station does not ask for its SECC certificate (SignCertificate V2GCertificate)");
  option(app, "--ev-certificate-request", pnc.ev_certificate_request_file,
         "EXI CertificateInstallationReq the vehicle sends with Get15118EVCertificate after boot");
  app.add_flag("--json", json, "print the statistics as JSON");
  option(app, "--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    station.endpoint = parse_url(url);
  } catch (const std::exception& e) {
    std::cerr << "chargegrid-sim: " << e.what() << "\n";
    return 2;
  }
  station.password = password;
  station.meter.battery_capacity_wh = battery_kwh * 1000;
  station.version = *parse_version(version);
  pnc.authorize_with_certificate = pnc_authorize == "certificate";

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
