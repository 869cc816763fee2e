#pragma once
// Replays real sessions through the planner and through classic charging policies, slot by
// slot, with vehicles leaving at their real departure times.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/scheduler/planner.hpp"
#include "chargegrid/scheduler/prediction.hpp"
#include "chargegrid/scheduler/sessions.hpp"

namespace chargegrid::scheduler {

// Which part of the file the replayed plug-ins come from. The split is the prediction
// benchmark's: the last `held_back_share` of sessions by plug-in time are held back; settings are
// chosen on the training part and reported on the held-back part. The predictor always learns
// from every session that ended before a plug-in, whichever part it lies in.
enum class ReplayPart { all, training, held_back };

struct SimulationOptions {
  std::chrono::minutes slot_length{15};
  int days = 7;  // simulate N days of plug-ins: the busiest N days of the file unless `end` is set
  std::optional<Time> end;
  ReplayPart part = ReplayPart::all;
  double held_back_share = 0.2;
  // Workplace-like slice: replay only arrivals on weekdays (Monday-Friday, local time) between
  // these local hours [from, to); the predictor still learns from every session.
  bool workplace = false;
  int workplace_from_hour = 6;
  int workplace_to_hour = 12;
  double evse_kw = 7.4;  // charge power of every EVSE (and V2G discharge power)
  // The lowest power a vehicle charges at (IEC 61851-1's 6 A: 1.38 kW on one phase, 4.14 kW on
  // three): less pauses it, whatever policy set it. Every policy knows it (the planners through
  // PlannedVehicle::min_charge_w; the classic ones give it whole or not at all) except the
  // hindsight optimum, which stays the bound (any power). 0 = any power.
  double min_charge_kw = 0;
  double site_limit_share = 0.5;  // site import limit as a share of the uncontrolled peak
  double v2g_share = 0.0;         // share of vehicles that may discharge
  int vehicle_multiplier = 1;     // each session is replayed this many times (more vehicles)
  // Demand-response window every day, local time: import limit cut to a share of the site
  // limit, and optionally an export request (export limit and a high export price).
  int dr_start_hour = 18;
  int dr_hours = 0;  // 0 = no demand-response window
  double dr_import_share = 0.5;
  double dr_export_kw = 0;
  // Building load per site: a residential daily shape scaled to this mean (0 = no building
  // load). The planners get the shape as their forecast; the actual load differs from it by a
  // fixed pseudo-random factor per site and hour within +-building_noise.
  double building_kw = 0;
  double building_noise = 0.2;
  // Predictor behind the online planner and EDF/LLF. The day type is the arrival's own: the
  // shifted day type (better medians) puts Friday-evening arrivals with the weekend stays and
  // so underestimates their early departures, which costs the planner energy (measured on an
  // earlier window than the reported ones; see docs/scheduler.md).
  PredictorSettings predictor{.day_type_shift_h = 0};
  double departure_quantile = 0.1;  // 0.1, 0.5 or 0.9: the predicted departure EDF and LLF use
  int horizon_slots = 96;           // planning horizon of the online planner
  // Replan at least every this many slots besides the events (0 = on events only): presence is
  // conditional on being connected now, so a vehicle still here is worth more than planned.
  int replan_every_slots = 1;
  // Shape of the online planner's survival curve (PlanRequest::departure_front_load_h).
  double departure_front_load_h = default_departure_front_load_h;
  // Extra departure rate of vehicles past P10 with little to spare (PlanRequest).
  double overdue_hazard_per_h = default_overdue_hazard_per_h;
  double overdue_laxity_h = default_overdue_laxity_h;
  // Value of energy at risk of an early departure for the online planner with predicted
  // departures (PlanRequest::at_risk_value_minor_per_kwh); unset = energy first.
  std::optional<std::int64_t> at_risk_value_minor_per_kwh;
  // Fill SimulationReport::session_results: one row per replayed vehicle with what each policy
  // delivered to it (for finding which sessions a policy loses energy on).
  bool record_sessions = false;
};

struct PolicyResult {
  double requested_kwh = 0, delivered_kwh = 0;
  double unmet_kwh = 0;
  std::int64_t peak_import_w = 0;  // highest site import over all sites and slots
  std::int64_t violations = 0;     // site-slots over the import or export limit
  std::int64_t cost_minor = 0;
  std::int64_t export_revenue_minor = 0;
  std::size_t replans = 0;
  double delivered_share() const { return requested_kwh > 0 ? delivered_kwh / requested_kwh : 1; }
};

// One replayed vehicle: its stay, its predicted departure and what each policy delivered to it.
struct SessionResult {
  std::string site_id, vehicle_id;
  Time site_start{};  // the site's first replay slot (midnight UTC before the window)
  std::chrono::minutes utc_offset{0};
  int arrive = 0, depart = 0;     // usable slots [arrive, depart) from site_start
  int p10 = 0, p50 = 0, p90 = 0;  // predicted departure slots (exclusive end)
  double need_wh = 0;
  std::int64_t import_limit_w = 0;             // the site's limit outside a window
  std::map<std::string, double> delivered_wh;  // by policy, capped at the need
};

struct SimulationReport {
  Time window_start{}, window_end{};  // plug-ins replayed
  Time held_back_start{};             // first plug-in of the held-back part
  std::size_t sites = 0, sessions = 0, slots = 0;
  double limit_binding_share = 0;  // share of site-slots where uncontrolled demand > limit
  std::map<std::string, PolicyResult> policies;  // chargegrid, chargegrid_exact_departures, ...
  std::vector<SessionResult> session_results;    // with SimulationOptions::record_sessions
};

SimulationReport simulate_planning(const std::vector<FinishedSession>& sessions,
                                   const SimulationOptions& options);

// The replay's scenario for replaying it elsewhere (through the server, with simulated
// stations): the same window, sites, sessions, limits and prices as simulate_planning, and
// what the hindsight optimum delivers to each session.
struct ReplaySession {
  FinishedSession session;
  Time arrival{}, departure{};  // the slots it may use: [arrival, departure)
  double need_wh = 0;           // its energy, capped at what its EVSE delivers while it stays
  double hindsight_wh = 0;      // what the hindsight optimum delivers to it
};
struct ReplaySite {
  std::string id;
  Time start{};  // the first slot of the replay (midnight UTC before the window)
  std::chrono::minutes utc_offset{0};
  std::int64_t import_limit_w = 0;  // without a demand-response window: every slot's
  std::vector<ReplaySession> sessions;
};
struct ReplayScenario {
  Time window_start{}, window_end{};  // plug-ins replayed
  std::vector<ReplaySite> sites;
  std::vector<FinishedSession> earlier;  // every session that ended by window_start
};
ReplayScenario replay_scenario(const std::vector<FinishedSession>& sessions,
                               const SimulationOptions& options);
// The replay's import price by local hour (minor units per kWh; export earns 40).
std::int64_t replay_import_price(int local_hour);

}  // namespace chargegrid::scheduler
