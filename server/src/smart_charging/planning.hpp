#pragma once
// One site's plan from what the database knows: the site's slots (its limits, narrowed by the
// demand-response windows in force), the connected vehicles (departure and energy from the
// driver's declaration, the vehicle's ISO 15118 charging needs or the prediction), the
// scheduler's optimum, and each controlled vehicle's charging profile. Pure: no I/O.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/scheduler/planner.hpp"
#include "chargegrid/scheduler/prediction.hpp"
#include "store/charging_plans.hpp"
#include "store/demand_response.hpp"
#include "tariff/tariff.hpp"

namespace chargegrid::server::smart_charging {

using Time = scheduler::Time;

struct Horizon {
  Time start{};  // a slot boundary
  std::chrono::seconds slot{900};
  std::size_t slots = 96;
  Time slot_start(std::size_t i) const { return start + slot * static_cast<long>(i); }
  Time end() const { return slot_start(slots); }
};

// The horizon of `length` that starts at the slot boundary at or before `now`.
Horizon horizon_at(Time now, std::chrono::seconds slot, std::chrono::seconds length);

struct SlotLimits {
  std::optional<std::int64_t> import_limit_w, export_limit_w;  // none: unlimited
  std::optional<std::int64_t> import_price, export_price;      // minor units per kWh
  std::vector<std::string> event_ids;                          // demand-response events
};
// Per slot: the site's limits narrowed by every window that overlaps the slot. Prices come from
// the site's `tariff` when it has one (the import band in force at the slot's start in the
// site's time zone, the export credit); a demand-response window that prices a slot overrides
// them there.
std::vector<SlotLimits> slot_limits(const Horizon& horizon, const store::charging_plans::Site& site,
                                    const std::vector<store::demand_response::Window>& windows,
                                    const tariff::Tariff* tariff = nullptr);

// Why a vehicle is not controlled by a profile of its own (it then counts at full power).
enum class Control { controlled, station_offline, profile_rejected };

struct VehicleState {
  store::charging_plans::Vehicle vehicle;
  Control control = Control::controlled;
  std::int64_t evse_max_power_w = 11000;  // the EVSE's described power, else the flag's
  int evse_phases = 3;                    // what 1.6 profiles in A per phase are computed for
  bool evse_bidirectional = false;
  // The site tariff's discharge bands (the operator's price by state of charge); none: the
  // vehicle is not offered for discharge.
  std::vector<tariff::DischargeBand> discharge_bands;
};

// Whether the vehicle may be discharged (V2G): an OCPP 2.1 session on a bidirectional EVSE
// whose vehicle reported its discharge power, state of charge and capacity, at a site whose
// tariff prices discharged energy.
bool may_discharge(const VehicleState& state);

// Departure and energy as planned: the source is "declared", "iso15118" or "predicted".
struct Need {
  Time departure_p10{}, departure_p50{}, departure_p90{};
  std::string departure_source;
  std::int64_t energy_wh = 0;  // still to deliver
  std::string energy_source;
  std::int64_t max_power_w = 0;
  std::int64_t min_power_w = 0;  // below it the vehicle draws nothing (min_power_w())
};
// `prediction` is the session's stored prediction (the vehicle's, made at plug-in).
Need need_of(const VehicleState& state, const store::charging_plans::Prediction& prediction,
             Time now);

// A profile's periods from a vehicle's power per slot: consecutive equal slots merge; in A per
// phase (`phases` at 230 V) when `amps`, rounded down to 0.1 A so the sum in W stays inside.
struct Period {
  std::int64_t start_s = 0;
  double limit = 0;
  std::optional<double> setpoint;  // W below zero: discharge at that power (OCPP 2.1)
};
std::vector<Period> periods_of(const std::vector<std::int64_t>& power_w, std::chrono::seconds slot,
                               bool amps, int phases = 3);
// A 2.1 profile's periods: charging slots as limits, discharging slots as a setpoint below
// zero with no charging allowed.
std::vector<Period> discharge_periods_of(const std::vector<std::int64_t>& power_w,
                                         std::chrono::seconds slot);
inline constexpr double kVolts = 230.0;
inline constexpr int kPhases = 3;
// The lowest current an AC vehicle charges at (IEC 61851-1); below it the vehicle pauses.
inline constexpr double kMinCurrentA = 6.0;
// The lowest charging power the vehicle draws: its reported minimum current (ISO 15118), else
// 6 A, on the phases its transfer names, else the EVSE's; 0 for DC.
std::int64_t min_power_w(const VehicleState& state);

struct VehiclePlan {
  VehicleState state;
  Need need;
  std::vector<std::int64_t> power_w;  // per slot of the horizon
  std::size_t slots_connected = 0;    // slots until the planned departure
};

struct SitePlan {
  Horizon horizon;
  std::vector<SlotLimits> limits;
  std::vector<std::int64_t> baseline_w;  // uncontrolled vehicles at full power
  std::vector<VehiclePlan> vehicles;
  bool ok = true;
  std::string error;
  // Per slot: the baseline and what the controlled vehicles are planned to draw.
  std::vector<std::int64_t> planned_import_w() const;
  // The plan as GET /sites/{id}/schedule shows it (slots and vehicles).
  nlohmann::json to_json() const;
};

// Plans the controlled vehicles inside what the uncontrolled ones leave of each slot's limit.
SitePlan plan_site(scheduler::Planner& planner, const Horizon& horizon,
                   std::vector<SlotLimits> limits, std::vector<VehicleState> vehicles,
                   const std::vector<store::charging_plans::Prediction>& predictions, Time now);

// The station-wide limit a station holds during demand-response windows: its share of the
// slot's import limit, in proportion to its EVSEs' maximum power (stations without a vehicle
// count too: a vehicle may arrive while ChargeGrid is away).
std::int64_t station_share_w(std::int64_t site_limit_w, std::int64_t station_max_w,
                             std::int64_t site_max_w);

// What an EVSE without a vehicle may let the next one to arrive draw (the limit of its
// TxDefaultProfile), per slot of the plan: what the plan leaves of the slot's import limit,
// shared among the site's EVSEs that are free in that slot (each may see an arrival before the
// replan that arrival causes has reached it), rounded down to whole kArrivalStepW (coarse, so
// that a replan that moves the headroom a little sends the stations nothing). None: the slot
// has no import limit. `site_evses`: the EVSEs of the site's stations.
inline constexpr std::int64_t kArrivalStepW = 1000;
std::vector<std::optional<std::int64_t>> arrival_share_w(const SitePlan& plan,
                                                         std::size_t site_evses);

// Comparing a profile's schedule with the one its station holds. A schedule is the JSON of a
// profile's arguments: "start" (RFC 3339, wall time), "duration_s" and "periods" (each
// "start_s" and "limit"); `now` is wall time, and the periods count `scale` times as fast
// (LoopClock, 1 outside a time-scaled replay).
//
// Whether `next` lowers what `held` lets the EVSE draw: now, or, where both set the same limit
// now, at some later moment. Such a profile is sent before those that raise limits, so that
// while a replan is on its way no station runs its new, higher limit beside another's old one
// and the site goes over its own (what a station draws during the send is what it may draw
// now). Nothing held counts as lowering (the vehicle was drawing freely).
bool lowers(const nlohmann::json& next, const nlohmann::json* held, Time now, int scale);
// Whether the station may keep `held` instead of receiving `next`: both address the same
// EVSE, purpose, transaction, unit and stack level and set the same limit at every moment from
// `now` until `held` ends, and `held` still reaches at least half as far ahead as `next`.
// A replan that changes nothing for a station still moves its schedule's start (to the
// horizon's); this keeps that from being sent again at every slot boundary, and sends it once
// half of what the station holds has run out.
bool keeps_holding(const nlohmann::json& next, const nlohmann::json& held, Time now, int scale);

std::string format_time(Time t);

}  // namespace chargegrid::server::smart_charging
