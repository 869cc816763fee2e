#pragma once
// The charging and V2G planner: power per connected vehicle per slot for one site, inside the
// site's grid limits, at the lowest cost, delivering as much of each vehicle's need as possible.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/scheduler/sessions.hpp"

namespace chargegrid::scheduler {

// The vehicle operator's price for discharged energy: applies while the state of charge is at
// or above soc_wh (the point with the highest soc_wh not above the current SoC applies).
struct DischargePricePoint {
  std::int64_t soc_wh = 0;
  std::int64_t price_minor_per_kwh = 0;
};

struct PlannedVehicle {
  std::string id;
  Time arrival{};                   // connected from (may lie before the horizon start)
  Time departure{};                 // planning departure: a conservative quantile of the prediction
  std::int64_t energy_need_wh = 0;  // energy still to deliver by departure
  std::int64_t max_charge_w = 0;    // min of EVSE and vehicle limits
  // The lowest charging power the vehicle draws at all: an AC vehicle given less than its
  // minimum current (IEC 61851-1: 6 A per phase) pauses. A plan gives it 0 or at least this
  // (capped at max_charge_w). 0 = any power.
  std::int64_t min_charge_w = 0;
  std::int64_t max_discharge_w = 0;         // min of EVSE and vehicle limits; 0 = no V2G hardware
  std::optional<std::int64_t> soc_wh;       // state of charge now, when known
  std::optional<std::int64_t> capacity_wh;  // battery capacity, when known
  bool discharge_allowed = false;           // operator's permission for V2G
  std::int64_t min_soc_wh = 0;              // never discharge below this
  std::vector<DischargePricePoint> discharge_price;  // empty = discharge free of charge
  // Predicted departure quantiles. When set, energy counts by the chance that the vehicle is
  // still connected when it is delivered (expected delivered energy), so energy at risk of an
  // early departure goes first; `departure` stays the hard end of the plan.
  struct DepartureQuantiles {
    Time p10{}, p50{}, p90{};
  };
  std::optional<DepartureQuantiles> departure_quantiles;
};

struct SiteSlots {
  Time start{};
  std::chrono::seconds slot_length{std::chrono::minutes{15}};  // any whole number of seconds
  // One entry per slot; the horizon is import_limit_w.size() slots.
  std::vector<std::int64_t> import_limit_w;
  std::vector<std::int64_t> export_limit_w;
  std::vector<std::int64_t> import_price_minor_per_kwh;
  std::vector<std::int64_t> export_price_minor_per_kwh;
  std::vector<std::int64_t> building_load_w;  // forecast; empty = none (negative = generation)
};

// Time scale of departures after a predicted quantile (see PlanRequest). 0 (linear) by
// default: on the Norway training part 4 h served daytime (workplace) stays better but cost
// overnight (residential) sites delivered energy, which is what most sites are.
inline constexpr double default_departure_front_load_h = 0;
// Vehicles past their predicted P10 with little time to spare (see PlanRequest): the extra
// departure rate they are counted with, per hour, and the laxity below which it applies.
inline constexpr double default_overdue_hazard_per_h = 0.08;
inline constexpr double default_overdue_laxity_h = 3;

struct PlanRequest {
  SiteSlots site;
  std::vector<PlannedVehicle> vehicles;
  // What a kWh is worth that may arrive after the vehicle has left (vehicles with departure
  // quantiles): charge in a slot costs this value times the chance the vehicle is gone by
  // then. Unset: the unmet-energy weight, i.e. energy first whatever the price. A value of a
  // few times the highest import price lets the planner wait for cheaper slots when the risk
  // of an early departure is small.
  std::optional<std::int64_t> at_risk_value_minor_per_kwh;
  // Shape of the survival curve between P10 and P50 and between P50 and P90: departures come
  // soon after each quantile rather than evenly over a wide interval, so the curve falls as
  // 1 - exp(-hours / front_load_h), scaled to reach the next quantile. 0 = linear in time.
  double departure_front_load_h = default_departure_front_load_h;
  // A vehicle already past its predicted P10 when the plan is made, whose remaining need at its
  // full power would leave less than `overdue_laxity_h` hours to spare before its P50, counts
  // as leaving at an extra `overdue_hazard_per_h` per hour from the start of the horizon (its
  // presence is multiplied by exp(-rate x hours)). Such a vehicle is charged before others
  // whose curve says they can wait: the vehicles still connected after P10 that need nearly all
  // of their remaining time leave sooner than the curve between P10 and P50 says, and a plan
  // that postpones them loses their energy. 0 = off.
  double overdue_hazard_per_h = default_overdue_hazard_per_h;
  double overdue_laxity_h = default_overdue_laxity_h;
};

struct Plan {
  bool ok = false;
  std::string error;  // why no plan could be made (bad request or solver failure)
  std::vector<std::vector<std::int64_t>> power_w;  // [vehicle][slot]; + charge, - discharge
};

// Figures of a plan, computed from its integer powers.
struct PlanFigures {
  std::int64_t delivered_wh = 0;  // net energy toward the needs, capped at each need
  std::int64_t unmet_wh = 0;
  std::int64_t peak_import_w = 0;
  std::int64_t import_cost_minor = 0;
  std::int64_t export_revenue_minor = 0;
  std::int64_t discharge_payment_minor = 0;  // paid to vehicle operators for V2G energy
  double max_unmet_share = 0;                // worst vehicle's unmet share of its need
};

// The production planner: the optimum in integer watts, from a network-simplex solver over the
// problem's flow structure (energy, then cost, then flat import and shares of any shortfall in
// proportion to the needs). Every plan keeps every constraint.
Plan plan_charging(const PlanRequest& request);

// The same planner keeping its solver state between calls: a request that only adds vehicles
// to the previous one (same site slots, the earlier vehicles unchanged, matched by id) is solved
// from the previous optimum, which costs a fraction of a full solve. Any other request is
// solved from scratch.
class Planner {
 public:
  Planner();
  ~Planner();
  Planner(Planner&&) noexcept;
  Planner& operator=(Planner&&) noexcept;

  Plan plan(const PlanRequest& request);
  bool last_plan_incremental() const;  // whether the last plan started from the previous one

 private:
  Plan solve_flow(const PlanRequest& request);  // the optimum before minimum powers

  struct State;
  std::unique_ptr<State> state_;
};

// The continuous LP optimum's objective and figures, for comparison (no rounding).
struct LpOptimum {
  bool ok = false;
  double objective = 0;
  double unmet_wh = 0;
  double cost_minor = 0;  // import cost - export revenue + discharge payments
};
LpOptimum solve_reference_lp(const PlanRequest& request);

// Objective of an integer plan under the same weights as the LP.
double plan_objective(const PlanRequest& request, const Plan& plan);
PlanFigures plan_figures(const PlanRequest& request, const Plan& plan);

// Every constraint the plan breaks, one readable line each; empty when the plan is valid.
std::vector<std::string> check_plan(const PlanRequest& request, const Plan& plan);

// Which slots a vehicle is connected for the whole of (arrival <= slot start, departure >= end).
bool connected_in_slot(const SiteSlots& site, const PlannedVehicle& vehicle, std::size_t slot);
// Chance that the vehicle is still connected at the end of the slot, given that it is connected
// at the start of the horizon (1 without departure quantiles); front_load_h,
// overdue_hazard_per_h and overdue_laxity_h as in PlanRequest.
double presence_probability(const SiteSlots& site, const PlannedVehicle& vehicle, std::size_t slot,
                            double front_load_h = default_departure_front_load_h,
                            double overdue_hazard_per_h = default_overdue_hazard_per_h,
                            double overdue_laxity_h = default_overdue_laxity_h);
// Whether the planner may discharge this vehicle in this slot at all (permission, hardware,
// known SoC, and the slot's export price strictly above the vehicle's discharge price).
bool discharge_permitted(const SiteSlots& site, const PlannedVehicle& vehicle, std::size_t slot);

}  // namespace chargegrid::scheduler
