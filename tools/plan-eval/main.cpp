// chargegrid-plan-eval: replays sessions per site through the online planner, the hindsight
// optimum and classic charging policies, and reports energy, limits, cost and V2G revenue.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "../eval-common/session_input.hpp"
#include "chargegrid/scheduler/plan_simulation.hpp"
#include "chargegrid/scheduler/planner.hpp"
#include "chargegrid/tools/options.hpp"

using namespace chargegrid::scheduler;
using chargegrid::tools::option;

namespace {

// A site with `vehicles` connected vehicles over 96 quarter-hours whose limit binds in the
// evening; a tenth may discharge. Deterministic, so runs can be compared.
PlanRequest speed_scenario(int vehicles, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  using namespace std::chrono;
  PlanRequest r;
  r.site.start = sys_days{2024y / 1 / 15} + 16h;
  r.site.slot_length = 15min;
  const std::size_t slots = 96;
  for (std::size_t t = 0; t < slots; ++t) {
    bool evening = t < 20;
    r.site.import_limit_w.push_back(vehicles * (evening ? 2500 : 4000));
    r.site.export_limit_w.push_back(evening ? vehicles * 1000 : 0);
    r.site.import_price_minor_per_kwh.push_back(evening ? 250 : t > 32 && t < 56 ? 60 : 100);
    r.site.export_price_minor_per_kwh.push_back(evening ? 200 : 40);
  }
  for (int i = 0; i < vehicles; ++i) {
    PlannedVehicle v;
    v.id = "v" + std::to_string(i);
    v.arrival = r.site.start + 15min * uniform(-8, 40);
    v.departure = v.arrival + 15min * uniform(8, 80);
    v.energy_need_wh = uniform(2000, 40000);
    v.max_charge_w = uniform(0, 1) ? 7400 : 11000;
    if (uniform(0, 9) == 0) {
      v.discharge_allowed = true;
      v.max_discharge_w = v.max_charge_w;
      v.capacity_wh = 60000;
      v.soc_wh = uniform(15000, 20000);
      v.min_soc_wh = 10000;
      v.discharge_price = {{0, 120}};
    }
    r.vehicles.push_back(v);
  }
  return r;
}

template <class F>
double seconds_of(F&& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run_speed(int vehicles, bool json) {
  PlanRequest full = speed_scenario(vehicles, 42);
  PlanRequest before = full;
  before.vehicles.pop_back();  // the incremental case: one vehicle arrives
  Plan plan, after;
  LpOptimum lp;
  double planner_s = seconds_of([&] { plan = plan_charging(full); });
  double lp_s = seconds_of([&] { lp = solve_reference_lp(full); });
  Planner planner;
  planner.plan(before);
  double incremental_s = seconds_of([&] { after = planner.plan(full); });
  bool incremental = planner.last_plan_incremental();
  auto problems = check_plan(full, plan);
  auto after_problems = check_plan(full, after);
  double objective = plan.ok ? plan_objective(full, plan) : 0;
  double after_objective = after.ok ? plan_objective(full, after) : 0;
  // Minimisation: the share of CLP's objective quality reached is CLP / planner.
  double quality = objective > 0 ? lp.objective / objective : 0;
  if (json) {
    nlohmann::json j = {{"vehicles", vehicles},
                        {"slots", 96},
                        {"planner_s", planner_s},
                        {"clp_from_scratch_s", lp_s},
                        {"speedup", lp_s / planner_s},
                        {"replan_after_one_arrival_s", incremental_s},
                        {"replan_incremental", incremental},
                        {"full_over_incremental", planner_s / incremental_s},
                        {"planner_objective", objective},
                        {"replan_objective", after_objective},
                        {"clp_objective", lp.objective},
                        {"objective_quality", quality},
                        {"violations", problems.size() + after_problems.size()}};
    std::cout << j.dump() << "\n";
  } else {
    std::printf(
        "%d vehicles x 96 slots: planner %.4f s, CLP from scratch %.3f s (ratio %.1f)\n"
        "replan after one arrival %.4f s (%s, %.1fx cheaper than a full plan)\n"
        "objective planner %.2f, after the arrival %.2f, CLP %.2f (%.4f %% of CLP's quality); "
        "%zu violations\n",
        vehicles, planner_s, lp_s, lp_s / planner_s, incremental_s,
        incremental ? "from the previous optimum" : "from scratch", planner_s / incremental_s,
        objective, after_objective, lp.objective, 100 * quality,
        problems.size() + after_problems.size());
  }
  return plan.ok && after.ok && lp.ok && problems.empty() && after_problems.empty() ? 0 : 1;
}

// Hours from a vehicle's arrival slot to another slot.
double hours_after_arrival(const SessionResult& r, int slot, std::chrono::minutes slot_length) {
  return std::chrono::duration<double, std::ratio<3600>>(slot_length * (slot - r.arrive)).count();
}

bool write_session_dump(const std::string& path, const SimulationReport& report,
                        std::chrono::minutes slot_length) {
  std::ofstream out(path);
  if (!out) {
    std::cerr << "--session-dump: cannot write " << path << "\n";
    return false;
  }
  std::vector<std::string> policies;
  for (const auto& [name, r] : report.policies) policies.push_back(name);
  out << "site,vehicle,arrival,departure,arrival_local_hour,stay_h,p10_h,p50_h,p90_h,need_kwh,"
         "site_limit_kw";
  for (const auto& name : policies) out << "," << name << "_kwh";
  out << "\n";
  for (const auto& r : report.session_results) {
    auto at = [&](int slot) { return r.site_start + slot_length * slot; };
    auto local = at(r.arrive) + r.utc_offset;
    auto local_hour = std::chrono::duration<double, std::ratio<3600>>(
                          local - std::chrono::floor<std::chrono::days>(local))
                          .count();
    out << r.site_id << "," << r.vehicle_id << "," << format_iso8601(at(r.arrive)) << ","
        << format_iso8601(at(r.depart)) << "," << local_hour << ","
        << hours_after_arrival(r, r.depart, slot_length) << ","
        << hours_after_arrival(r, r.p10, slot_length) << ","
        << hours_after_arrival(r, r.p50, slot_length) << ","
        << hours_after_arrival(r, r.p90, slot_length) << "," << r.need_wh / 1000 << ","
        << r.import_limit_w / 1000.0;
    for (const auto& name : policies) {
      auto found = r.delivered_wh.find(name);
      out << "," << (found == r.delivered_wh.end() ? 0.0 : found->second / 1000);
    }
    out << "\n";
  }
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replays sessions through ChargeGrid's planner and classic charging policies"};
  chargegrid::tools::SessionInput input;
  SimulationOptions opt;
  int slot_minutes = 15;
  chargegrid::tools::add_session_input(app, input, false);
  option(app, "--slot-minutes", slot_minutes, "Slot length", CLI::Range(1, 60));
  option(app, "--days", opt.days, "Simulate the last N days of plug-ins", CLI::Range(1, 3660));
  option(app, "--evse-kw", opt.evse_kw, "Charge (and V2G) power of every EVSE",
         CLI::Range(0.1, 1000.0));
  option(app, "--min-charge-kw", opt.min_charge_kw,
         "Lowest power a vehicle charges at (6 A: 1.38 on one phase, 4.14 on three); less "
         "pauses it, under every policy (0: any power)",
         CLI::Range(0.0, 1000.0));
  option(app, "--site-limit-share", opt.site_limit_share,
         "Site import limit as a share of the uncontrolled peak", CLI::Range(0.01, 10.0));
  option(app, "--v2g-share", opt.v2g_share, "Share of vehicles that may discharge",
         CLI::Range(0.0, 1.0));
  option(app, "--vehicle-multiplier", opt.vehicle_multiplier,
         "Replay every session this many times", CLI::Range(1, 100));
  option(app, "--dr-start-hour", opt.dr_start_hour,
         "Daily demand-response window start (local hour)", CLI::Range(0, 23));
  option(app, "--dr-hours", opt.dr_hours, "Daily demand-response window length (0 = none)",
         CLI::Range(0, 24));
  option(app, "--dr-import-share", opt.dr_import_share,
         "Import limit in the window, as a share of the site limit", CLI::Range(0.0, 1.0));
  option(app, "--dr-export-kw", opt.dr_export_kw, "Export requested in the window",
         CLI::Range(0.0, 100000.0));
  option(app, "--building-kw", opt.building_kw,
         "Mean building load per site (residential daily shape); 0 = none",
         CLI::Range(0.0, 100000.0));
  option(app, "--building-noise", opt.building_noise,
         "Actual building load differs from the forecast by up to this share",
         CLI::Range(0.0, 1.0));
  option(app, "--departure-quantile", opt.departure_quantile,
         "Predicted departure quantile that EDF and LLF use as the deadline",
         CLI::IsMember({0.1, 0.5, 0.9}));
  std::int64_t at_risk_value = -1;
  option(app, "--at-risk-value", at_risk_value,
         "Value (minor units per kWh) of energy at risk of an early departure; "
         "-1 = energy first",
         CLI::Range(std::int64_t{-1}, std::int64_t{1000000}));
  option(app, "--front-load-h", opt.departure_front_load_h,
         "Departures after P10 and P50 come within this time scale (h) of the quantile rather "
         "than evenly until the next one; 0 = linear",
         CLI::Range(0.0, 1000.0));
  option(app, "--overdue-hazard", opt.overdue_hazard_per_h,
         "Extra departure rate per hour of a vehicle past its P10 that has less than "
         "--overdue-laxity-h to spare before its P50 (0 = off)",
         CLI::Range(0.0, 100.0));
  option(app, "--overdue-laxity-h", opt.overdue_laxity_h,
         "Laxity before P50 (hours) below which a vehicle past its P10 gets --overdue-hazard",
         CLI::Range(0.0, 1000.0));
  option(app, "--replan-every", opt.replan_every_slots,
         "Online planner: replan at least every N slots besides arrivals, departures and other "
         "events (0 = on events only)",
         CLI::Range(0, 100000));
  int speed_vehicles = 0;
  app.add_option("--speed", speed_vehicles,
                 "Instead of a replay, time a full replan of N vehicles x 96 slots against CLP")
      ->check(CLI::Range(1, 100000));
  std::map<std::string, ReplayPart> parts = {{"all", ReplayPart::all},
                                             {"training", ReplayPart::training},
                                             {"held-back", ReplayPart::held_back}};
  app.add_option(
         "--part", opt.part,
         "Replay plug-ins of this part only: all, training (tune here) or held-back (the "
         "last --held-back-share of sessions by plug-in time, as in chargegrid-predict-eval)")
      ->transform(CLI::CheckedTransformer(parts, CLI::ignore_case));
  option(app, "--held-back-share", opt.held_back_share,
         "Share of sessions (the latest by plug-in time) held back from tuning",
         CLI::Range(0.0, 1.0));
  app.add_flag("--workplace", opt.workplace,
               "Workplace-like slice: replay only weekday arrivals between --workplace-from-hour "
               "and --workplace-to-hour (local time)");
  option(app, "--workplace-from-hour", opt.workplace_from_hour,
         "First local arrival hour of the workplace slice", CLI::Range(0, 23));
  option(app, "--workplace-to-hour", opt.workplace_to_hour,
         "Local arrival hour the workplace slice ends before", CLI::Range(1, 24));
  std::string session_dump;
  app.add_option("--session-dump", session_dump,
                 "Also write one CSV row per replayed vehicle to this file: its stay, predicted "
                 "departure, need and the energy every policy delivered to it");
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
  if (at_risk_value >= 0) opt.at_risk_value_minor_per_kwh = at_risk_value;
  if (speed_vehicles > 0) return run_speed(speed_vehicles, input.json);
  opt.slot_length = std::chrono::minutes{slot_minutes};
  opt.horizon_slots = 24 * 60 / slot_minutes;
  auto file = chargegrid::tools::read_session_input(input);
  if (!file) return 2;
  opt.record_sessions = !session_dump.empty();
  SimulationReport report = simulate_planning(file->sessions, opt);
  if (!session_dump.empty() && !write_session_dump(session_dump, report, opt.slot_length)) return 2;
  if (input.json) {
    nlohmann::json j;
    j["window_start"] = format_iso8601(report.window_start);
    j["window_end"] = format_iso8601(report.window_end);
    j["held_back_start"] = format_iso8601(report.held_back_start);
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
