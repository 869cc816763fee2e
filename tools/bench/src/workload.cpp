#include "workload.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace chargegrid::bench {

namespace {

const std::vector<std::pair<Workload, std::string>>& names() {
  static const std::vector<std::pair<Workload, std::string>> all{
      {Workload::idle, "idle"},
      {Workload::boot_storm, "boot-storm"},
      {Workload::metering, "metering"},
      {Workload::sessions, "sessions"},
      {Workload::mixed, "mixed"}};
  return all;
}

sim::FleetOptions base_fleet(const LoadPlan& plan, int first, int count) {
  sim::FleetOptions fleet;
  fleet.stations = count;
  fleet.first_index = first;
  fleet.id_prefix = plan.id_prefix;
  fleet.threads = plan.threads;
  fleet.source_address_spread = plan.source_spread;
  auto& station = fleet.station;
  station.version = plan.version;
  station.endpoint = sim::parse_url(plan.url);
  station.verify_peer = plan.verify_peer;
  station.ca_file = plan.ca_file;
  station.connectors = plan.connectors;
  station.response_timeout_s = plan.response_timeout_s;
  station.sessions = 0;
  station.time_scale = 1.0;
  return fleet;
}

}  // namespace

std::optional<Workload> parse_workload(const std::string& name) {
  for (const auto& [workload, text] : names()) {
    if (text == name) return workload;
  }
  return std::nullopt;
}

std::string to_string(Workload workload) {
  for (const auto& [w, text] : names()) {
    if (w == workload) return text;
  }
  return "?";
}

bool stores_meter_values(Workload workload) {
  return workload == Workload::metering || workload == Workload::sessions ||
         workload == Workload::mixed;
}

Slice slice_of(int total, int processes, int index) {
  if (processes < 1 || index < 0 || index >= processes) {
    throw std::invalid_argument("process index out of range");
  }
  const int base = total / processes;
  const int extra = total % processes;
  Slice slice;
  slice.count = base + (index < extra ? 1 : 0);
  slice.first = 1 + index * base + std::min(index, extra);
  return slice;
}

int heartbeat_interval_for(const LoadPlan& plan) {
  switch (plan.workload) {
    case Workload::idle:
      return 60;  // one heartbeat per station per minute-long window
    case Workload::mixed:
      return 1800;  // simulated seconds: the stations scale it with the day
    default:
      return 300;
  }
}

std::vector<sim::FleetOptions> fleets_for(const LoadPlan& plan) {
  const Slice slice = slice_of(plan.total_stations, plan.processes, plan.process_index);
  std::vector<sim::FleetOptions> fleets;
  switch (plan.workload) {
    case Workload::idle:
    case Workload::boot_storm: {
      fleets.push_back(base_fleet(plan, slice.first, slice.count));
      break;
    }
    case Workload::metering: {
      if (plan.rate <= 0) throw std::invalid_argument("metering needs a positive rate");
      auto fleet = base_fleet(plan, slice.first, slice.count);
      auto& station = fleet.station;
      // Each station sends one sample per interval; together they make `rate` per second.
      station.sessions = 1;
      station.meter_interval_s = plan.total_stations / plan.rate;
      station.session_length_s = 1e9;
      station.first_session_delay_s = 0.0;
      // Starts spread over one interval, so the samples do not arrive in bursts.
      fleet.ramp_up_s = plan.processes / plan.rate;
      fleets.push_back(fleet);
      break;
    }
    case Workload::sessions: {
      auto fleet = base_fleet(plan, slice.first, slice.count);
      auto& station = fleet.station;
      station.sessions = plan.sessions;
      station.session_length_s = plan.session_length_s;
      station.meter_interval_s = plan.meter_interval_s;
      station.time_scale = plan.time_scale;
      station.idle_between_sessions_s = plan.meter_interval_s;
      station.first_session_delay_s = 0.0;
      // Starts spread over one session, so sessions begin and end all the time.
      const double session_real_s = plan.session_length_s / plan.time_scale;
      fleet.ramp_up_s = slice.count > 0 ? session_real_s / slice.count : 0.0;
      fleets.push_back(fleet);
      break;
    }
    case Workload::mixed: {
      // A day compressed into day_s real seconds: half the stations are depot chargers
      // (1.6, two long sessions), three tenths public chargers (2.0.1, six one-hour
      // sessions), the rest stay idle; starts spread over the first fifth of the day.
      const double scale = 86400.0 / plan.day_s;
      const int depot = static_cast<int>(std::lround(slice.count * 0.5));
      const int pub = static_cast<int>(std::lround(slice.count * 0.3));
      const int idle = slice.count - depot - pub;
      struct Group {
        const char* prefix;
        int count;
        sim::OcppVersion version;
        int sessions;
        double length_s, meter_s, idle_s;
      };
      const Group groups[] = {{"D", depot, sim::OcppVersion::v16, 2, 4 * 3600.0, 900.0, 3 * 3600.0},
                              {"P", pub, sim::OcppVersion::v201, 6, 3600.0, 300.0, 1800.0},
                              {"I", idle, sim::OcppVersion::v201, 0, 0.0, 0.0, 0.0}};
      for (const auto& g : groups) {
        if (g.count == 0) continue;
        auto fleet = base_fleet(plan, slice.first, g.count);
        fleet.id_prefix = plan.id_prefix + g.prefix;
        auto& station = fleet.station;
        station.version = g.version;
        station.time_scale = scale;
        station.sessions = g.sessions;
        if (g.sessions > 0) {
          station.session_length_s = g.length_s;
          station.meter_interval_s = g.meter_s;
          station.idle_between_sessions_s = g.idle_s;
          station.first_session_delay_s = 0.0;
        }
        fleet.ramp_up_s = plan.day_s * 0.2 / g.count;
        fleets.push_back(fleet);
      }
      break;
    }
  }
  return fleets;
}

}  // namespace chargegrid::bench
