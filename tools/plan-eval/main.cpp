// chargegrid-plan-eval: replays sessions per site through the online planner, the hindsight
// optimum and classic charging policies, and reports energy, limits, cost and V2G revenue.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "chargegrid/scheduler/plan_simulation.hpp"

using namespace chargegrid::scheduler;

int main(int argc, char** argv) {
  CLI::App app{"Replays sessions through ChargeGrid's planner and classic charging policies"};
  std::string format = "generic", input;
  bool json = false;
  SimulationOptions opt;
  int slot_minutes = 15;
  app.add_option("--format", format, "Input format")->check(CLI::IsMember({"generic", "norway"}));
  app.add_option("SESSIONS", input, "Sessions CSV")->required();
  app.add_flag("--json", json, "Print the summary as one JSON object");
  app.add_option("--slot-minutes", slot_minutes, "Slot length")
      ->check(CLI::Range(1, 60))
      ->capture_default_str();
  app.add_option("--days", opt.days, "Simulate the last N days of plug-ins")
      ->check(CLI::Range(1, 3660))
      ->capture_default_str();
  app.add_option("--evse-kw", opt.evse_kw, "Charge (and V2G) power of every EVSE")
      ->check(CLI::Range(0.1, 1000.0))
      ->capture_default_str();
  app.add_option("--site-limit-share", opt.site_limit_share,
                 "Site import limit as a share of the uncontrolled peak")
      ->check(CLI::Range(0.01, 10.0))
      ->capture_default_str();
  app.add_option("--v2g-share", opt.v2g_share, "Share of vehicles that may discharge")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--vehicle-multiplier", opt.vehicle_multiplier,
                 "Replay every session this many times")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--dr-start-hour", opt.dr_start_hour,
                 "Daily demand-response window start (local hour)")
      ->check(CLI::Range(0, 23))
      ->capture_default_str();
  app.add_option("--dr-hours", opt.dr_hours, "Daily demand-response window length (0 = none)")
      ->check(CLI::Range(0, 24))
      ->capture_default_str();
  app.add_option("--dr-import-share", opt.dr_import_share,
                 "Import limit in the window, as a share of the site limit")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--dr-export-kw", opt.dr_export_kw, "Export requested in the window")
      ->check(CLI::Range(0.0, 100000.0))
      ->capture_default_str();
  app.add_option("--departure-quantile", opt.departure_quantile,
                 "Predicted departure the planner plans for")
      ->check(CLI::IsMember({0.1, 0.5, 0.9}))
      ->capture_default_str();
  std::string end;
  app.add_option("--end", end,
                 "End of the replayed plug-ins (ISO 8601); default: the busiest window");
  CLI11_PARSE(app, argc, argv);
  if (!end.empty()) {
    Time t;
    std::chrono::minutes offset;
    if (!parse_iso8601(end, t, offset)) {
      std::cerr << "--end: not an ISO 8601 time with offset: " << end << "\n";
      return 2;
    }
    opt.end = t;
  }
  opt.slot_length = std::chrono::minutes{slot_minutes};
  opt.horizon_slots = 24 * 60 / slot_minutes;

  std::ifstream in(input);
  if (!in) {
    std::cerr << "cannot open " << input << "\n";
    return 2;
  }
  SessionFile file = format == "norway" ? read_norway_csv(in) : read_generic_csv(in);
  if (file.sessions.empty()) {
    std::cerr << "no usable sessions in " << input << "\n";
    for (const auto& r : file.rejected) std::cerr << "  " << r << "\n";
    return 2;
  }
  SimulationReport report = simulate_planning(file.sessions, opt);
  if (json) {
    nlohmann::json j;
    j["window_start"] = format_iso8601(report.window_start);
    j["window_end"] = format_iso8601(report.window_end);
    j["sites"] = report.sites;
    j["sessions"] = report.sessions;
    j["site_slots"] = report.slots;
    j["limit_binding_share"] = report.limit_binding_share;
    for (const auto& [name, r] : report.policies)
      j["policies"][name] = {{"delivered_share", r.delivered_share()},
                             {"delivered_kwh", r.delivered_kwh},
                             {"requested_kwh", r.requested_kwh},
                             {"unmet_kwh", r.unmet_kwh},
                             {"peak_import_w", r.peak_import_w},
                             {"violations", r.violations},
                             {"cost_minor", r.cost_minor},
                             {"export_revenue_minor", r.export_revenue_minor},
                             {"replans", r.replans}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("plug-ins from %s to %s\n", format_iso8601(report.window_start).c_str(),
              format_iso8601(report.window_end).c_str());
  std::printf(
      "%zu sites, %zu sessions, %zu site-slots; uncontrolled demand above the limit in %.1f%%\n",
      report.sites, report.sessions, report.slots, 100 * report.limit_binding_share);
  std::printf("%-28s %9s %10s %10s %10s %10s %10s\n", "policy", "delivered", "unmet kWh", "peak W",
              "violations", "cost", "export rev");
  for (const auto& [name, r] : report.policies)
    std::printf("%-28s %8.2f%% %10.1f %10lld %10lld %10lld %10lld\n", name.c_str(),
                100 * r.delivered_share(), r.unmet_kwh, static_cast<long long>(r.peak_import_w),
                static_cast<long long>(r.violations), static_cast<long long>(r.cost_minor),
                static_cast<long long>(r.export_revenue_minor));
  return 0;
}
