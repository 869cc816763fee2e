#pragma once
// The benchmark's workloads, as simulated fleets: what one load-generator process runs
// for its share of the stations.

#include <optional>
#include <string>
#include <vector>

#include "chargegrid/sim/fleet.hpp"

namespace chargegrid::bench {

enum class Workload {
  idle,        // connect, boot, report status, then heartbeats only
  boot_storm,  // every station connects and boots at once
  metering,    // one long session per station, periodic meter values at a total rate
  sessions,    // complete charging sessions back to back
  mixed,       // a fleet day: depot and public stations of both versions, and idle ones
};
std::optional<Workload> parse_workload(const std::string& name);
std::string to_string(Workload workload);
// Whether the workload's stations store meter values (so the COPY limit applies).
bool stores_meter_values(Workload workload);

struct LoadPlan {
  Workload workload = Workload::idle;
  sim::OcppVersion version = sim::OcppVersion::v16;
  std::string url;
  bool verify_peer = true;
  std::string ca_file;
  int total_stations = 1;  // in the whole run
  int processes = 1;       // load-generator processes sharing them
  int process_index = 0;   // this process: stations [first, first + count)
  std::string id_prefix = "BENCH";
  int connectors = 2;
  int threads = 1;
  int source_spread = 0;
  double rate = 1000.0;             // metering: meter messages per second, whole fleet
  int sessions = 3;                 // sessions: per station
  double session_length_s = 600.0;  // sessions: simulated seconds of charging
  double meter_interval_s = 60.0;   // sessions, mixed: simulated seconds between samples
  double time_scale = 60.0;         // sessions: simulated seconds per real second
  double day_s = 120.0;             // mixed: real seconds a fleet day lasts
  double response_timeout_s = 30.0;
};

// Stations [first, first + count) of process `index` out of `processes`.
struct Slice {
  int first = 0;
  int count = 0;
};
Slice slice_of(int total, int processes, int index);

// Fleets this process runs (several for the mixed day, one otherwise), each with its
// first station number and count already set.
std::vector<sim::FleetOptions> fleets_for(const LoadPlan& plan);

// Server flags that make a workload behave as described (the heartbeat interval).
int heartbeat_interval_for(const LoadPlan& plan);

}  // namespace chargegrid::bench
