// The planning rules without a server: slot limits under demand-response windows, which
// departure and energy count, and profile periods in W and A.

#include "smart_charging/planning.hpp"

#include <catch2/catch.hpp>

using namespace chargegrid::server::smart_charging;
namespace plans = chargegrid::server::store::charging_plans;
using std::chrono::seconds;

namespace {
Time at(std::int64_t s) {
  return Time{seconds{s}};
}
}  // namespace

TEST_CASE("Slot limits are the site limits narrowed by each window that overlaps the slot",
          "[unit][smart_charging]") {
  const auto horizon = horizon_at(at(1'800'000'130), seconds{300}, seconds{1200});
  CHECK(horizon.start == at(1'800'000'000));
  CHECK(horizon.slots == 4);
  plans::Site site{1, 20000, 5000, "UTC"};
  chargegrid::server::store::demand_response::Window w;
  w.event_id = "ev-1";
  w.starts_at = format_time(at(1'800'000'300));
  w.ends_at = format_time(at(1'800'000'600));
  w.import_limit_w = 10000.0;
  w.import_price_minor_per_kwh = 42.0;
  const auto limits = slot_limits(horizon, site, {w});
  CHECK(limits[0].import_limit_w == 20000);
  CHECK(limits[1].import_limit_w == 10000);
  CHECK(limits[1].import_price == 42);
  CHECK(limits[1].event_ids == std::vector<std::string>{"ev-1"});
  CHECK(limits[2].import_limit_w == 20000);
  CHECK(limits[2].event_ids.empty());
  CHECK(limits[3].export_limit_w == 5000);
}

TEST_CASE("A declaration replaces the predicted median and ISO 15118 needs come next",
          "[unit][smart_charging]") {
  const plans::Prediction prediction{1000, 5000, 9000, 2000, 8000, 20000, "site"};
  VehicleState state;
  state.vehicle.delivered_wh = 1000;
  state.evse_max_power_w = 11000;
  auto need = need_of(state, prediction, at(500));
  CHECK(need.departure_source == "predicted");
  CHECK(need.departure_p50 == at(5000));
  CHECK(need.energy_wh == 7000);

  // Needs sent when 1,000 Wh were delivered ask for 3,000 Wh from then on.
  state.vehicle.charging_needs = {{"departure_time", format_time(at(7000))},
                                  {"energy_amount_wh", 3000},
                                  {"ev_max_power_w", 7400}};
  state.vehicle.delivered_wh_at_needs = 1000;
  need = need_of(state, prediction, at(500));
  CHECK(need.departure_source == "iso15118");
  CHECK(need.departure_p50 == at(7000));
  CHECK(need.energy_wh == 3000);
  CHECK(need.max_power_w == 7400);
  // What the vehicle charged since counts against the amount, down to nothing.
  state.vehicle.delivered_wh = 3500;
  CHECK(need_of(state, prediction, at(500)).energy_wh == 500);
  state.vehicle.delivered_wh = 4200;
  CHECK(need_of(state, prediction, at(500)).energy_wh == 0);
  state.vehicle.delivered_wh = 1000;

  state.vehicle.declaration = plans::Declaration{600, 4000, std::nullopt};
  need = need_of(state, prediction, at(500));
  CHECK(need.departure_source == "declared");
  CHECK(need.departure_p50 == at(600));
  CHECK(need.departure_p10 == at(600));  // the interval holds the median
  CHECK(need.energy_wh == 3000);         // 4000 declared, 1000 delivered
}

TEST_CASE("Profile periods merge equal slots and amperes stay inside the watts",
          "[unit][smart_charging]") {
  const auto w = periods_of({11000, 11000, 5000, 0}, seconds{300}, false);
  REQUIRE(w.size() == 3);
  CHECK(w[1].start_s == 600);
  CHECK(w[1].limit == 5000);
  const auto a = periods_of({5000}, seconds{300}, true);
  CHECK(a[0].limit == Approx(7.2));
  CHECK(a[0].limit * kVolts * kPhases <= 5000);
}

TEST_CASE("Slot prices follow the tariff's local bands, a priced window overrides them",
          "[unit][smart_charging]") {
  // 2026-03-29 00:00 UTC: Oslo is at +01:00 until 01:00 UTC, then +02:00.
  const auto start = at(1'774'742'400);
  const auto horizon = horizon_at(start, seconds{3600}, seconds{4 * 3600});
  plans::Site site{1, 20000, std::nullopt, "Europe/Oslo"};
  const auto tariff = chargegrid::server::tariff::parse(nlohmann::json::parse(R"({
    "currency": "NOK",
    "import": [{"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "00:00", "to": "03:00",
                "price_minor_per_kwh": 50},
               {"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "03:00", "to": "24:00",
                "price_minor_per_kwh": 90}],
    "export_credit_minor_per_kwh": 12})"));
  chargegrid::server::store::demand_response::Window w;
  w.event_id = "price";
  w.starts_at = format_time(horizon.slot_start(3));
  w.ends_at = format_time(horizon.end());
  w.import_price_minor_per_kwh = 200.0;
  const auto limits = slot_limits(horizon, site, {w}, &tariff);
  // Local 01:00 and 03:00 (clocks went forward at 02:00), then 04:00 and 05:00.
  CHECK(limits[0].import_price == 50);
  CHECK(limits[1].import_price == 90);
  CHECK(limits[2].import_price == 90);
  CHECK(limits[3].import_price == 200);
  CHECK(limits[0].export_price == 12);
  CHECK(limits[3].export_price == 12);
  CHECK(slot_limits(horizon, site, {})[0].import_price == std::nullopt);
}

TEST_CASE("Amperes are per phase of the EVSE", "[unit][smart_charging]") {
  const auto one = periods_of({3680}, seconds{300}, true, 1);
  CHECK(one[0].limit == Approx(16.0));
  const auto three = periods_of({3680}, seconds{300}, true, 3);
  CHECK(three[0].limit == Approx(5.3));
}

TEST_CASE("A slot whose export price is above its import price still plans",
          "[unit][smart_charging]") {
  const auto horizon = horizon_at(at(1'800'000'000), seconds{900}, seconds{3600});
  std::vector<SlotLimits> limits(horizon.slots);
  for (auto& l : limits) {
    l.import_limit_w = 11000;
    l.import_price = 5;  // a cheap night band under the export credit
    l.export_price = 8;
  }
  VehicleState state;
  state.vehicle.session_id = 1;
  state.vehicle.started_s = 1'800'000'000;
  state.vehicle.declaration = plans::Declaration{1'800'003'600, 4000, std::nullopt};
  const plans::Prediction prediction{1'800'001'000, 1'800'002'000, 1'800'003'000, 0, 0, 0, "prior"};
  chargegrid::scheduler::Planner planner;
  const auto plan = plan_site(planner, horizon, limits, {state}, {prediction}, at(1'800'000'000));
  REQUIRE(plan.ok);
  std::int64_t wh = 0;
  for (auto p : plan.vehicles[0].power_w) wh += p * 900 / 3600;
  CHECK(wh >= 3990);
}

TEST_CASE("Discharging slots become setpoints below zero with no charging allowed",
          "[unit][smart_charging]") {
  const auto periods = discharge_periods_of({11000, -7000, -7000, 0}, seconds{300});
  REQUIRE(periods.size() == 3);
  CHECK(periods[0].limit == 11000);
  CHECK(!periods[0].setpoint);
  CHECK(periods[1].start_s == 300);
  CHECK(periods[1].limit == 0);
  CHECK(periods[1].setpoint == -7000);
  CHECK(periods[2].start_s == 900);
  CHECK(!periods[2].setpoint);

  VehicleState state;
  state.vehicle.protocol = "ocpp2.1";
  state.evse_bidirectional = true;
  state.discharge_bands = {{20, 60, 45}};
  state.vehicle.charging_needs = {{"ev_max_discharge_power_w", 10000},
                                  {"state_of_charge_percent", 50},
                                  {"ev_energy_capacity_wh", 60000}};
  CHECK(may_discharge(state));
  state.vehicle.protocol = "ocpp2.0.1";  // no setpoints in 2.0.1 profiles
  CHECK(!may_discharge(state));
  state.vehicle.protocol = "ocpp2.1";
  state.evse_bidirectional = false;
  CHECK(!may_discharge(state));
  state.evse_bidirectional = true;
  state.discharge_bands.clear();  // the tariff does not price discharge
  CHECK(!may_discharge(state));
  state.discharge_bands = {{20, 60, 45}};
  state.vehicle.charging_needs.erase("state_of_charge_percent");
  CHECK(!may_discharge(state));
}

TEST_CASE("Slots shorter than a minute plan energy by their own length", "[unit][smart_charging]") {
  const auto horizon = horizon_at(at(1'800'000'005), seconds{10}, seconds{600});
  CHECK(horizon.start == at(1'800'000'000));
  REQUIRE(horizon.slots == 60);
  std::vector<SlotLimits> limits(horizon.slots);
  for (auto& l : limits) l.import_limit_w = 11000;
  VehicleState state;
  state.vehicle.session_id = 1;
  state.vehicle.started_s = 1'800'000'000;
  state.vehicle.declaration = plans::Declaration{1'800'000'600, 200, std::nullopt};
  const plans::Prediction prediction{1'800'000'300, 1'800'000'400, 1'800'000'500, 0, 0, 0, "prior"};
  chargegrid::scheduler::Planner planner;
  const auto plan = plan_site(planner, horizon, limits, {state}, {prediction}, at(1'800'000'005));
  REQUIRE(plan.ok);
  double wh = 0;
  for (auto p : plan.vehicles[0].power_w) wh += static_cast<double>(p) * 10 / 3600;
  // 200 Wh is 6.5 slots at 11 kW: delivered, and not more than one slot at the vehicle's
  // minimum power (4,140 W for 10 s, 11.5 Wh) beyond it.
  CHECK(wh >= 199);
  CHECK(wh <= 200 + 11.5);
}

TEST_CASE("An arrival may draw what the plan leaves, shared among the EVSEs free in the slot",
          "[unit][smart_charging]") {
  SitePlan plan;
  plan.horizon.slots = 4;
  plan.limits.resize(4);
  for (std::size_t i = 0; i < 3; ++i) plan.limits[i].import_limit_w = 22000;  // slot 3: none
  plan.baseline_w.assign(4, 0);
  VehiclePlan staying;  // planned 11 kW for two slots, then gone
  staying.power_w = {11000, 11000, 0, 0};
  staying.slots_connected = 2;
  plan.vehicles.push_back(staying);
  const auto share = arrival_share_w(plan, 4);
  REQUIRE(share.size() == 4);
  CHECK(share[0] == 3000);  // (22,000 - 11,000) W over 3 free EVSEs, down to whole kW
  CHECK(share[1] == 3000);
  CHECK(share[2] == 5000);  // the vehicle has left: 4 free
  CHECK_FALSE(share[3]);    // no limit
  // A vehicle out of control draws its EVSE's power (the baseline) and keeps its EVSE.
  VehiclePlan offline;
  offline.state.control = Control::station_offline;
  offline.power_w.assign(4, 0);
  plan.vehicles.push_back(offline);
  plan.baseline_w.assign(4, 11000);
  const auto narrowed = arrival_share_w(plan, 4);
  CHECK(narrowed[0] == 0);     // 22,000 - 11,000 - 11,000
  CHECK(narrowed[2] == 3000);  // 11,000 over 3
  // More vehicles than EVSEs described: the share goes to one.
  CHECK(arrival_share_w(plan, 1)[2] == 11000);
}

namespace {
// A schedule as the loop sends it: `limits` per `slot_s` from `start`.
nlohmann::json schedule_of(std::int64_t start, const std::vector<double>& limits,
                           std::int64_t slot_s = 900) {
  nlohmann::json periods = nlohmann::json::array();
  for (std::size_t i = 0; i < limits.size(); ++i)
    if (i == 0 || limits[i] != limits[i - 1])
      periods.push_back({{"start_s", static_cast<std::int64_t>(i) * slot_s}, {"limit", limits[i]}});
  return {{"evse_id", 0},
          {"stack_level", 0},
          {"purpose", "TxDefaultProfile"},
          {"rate_unit", "W"},
          {"start", format_time(at(start))},
          {"duration_s", static_cast<std::int64_t>(limits.size()) * slot_s},
          {"periods", periods}};
}
}  // namespace

TEST_CASE(
    "A profile that lowers what an EVSE may draw now, or later where now is unchanged, goes first",
    "[unit][smart_charging]") {
  const std::int64_t t0 = 1'800'000'000;
  const auto held = schedule_of(t0, {5000, 5000, 5000, 5000});
  CHECK(lowers(schedule_of(t0, {5000, 4000, 5000, 5000}), &held, at(t0), 1));
  CHECK_FALSE(lowers(schedule_of(t0, {5000, 6000, 5000, 5000}), &held, at(t0), 1));
  // What it may draw now decides: raised now and lowered later is a raise.
  CHECK_FALSE(lowers(schedule_of(t0, {6000, 4000, 5000, 5000}), &held, at(t0), 1));
  CHECK(lowers(schedule_of(t0, {4000, 6000, 5000, 5000}), &held, at(t0), 1));
  // Lower only in a slot already past: not lowering any more.
  CHECK_FALSE(lowers(schedule_of(t0, {4000, 5000, 5000, 5000}), &held, at(t0 + 900), 1));
  // Beyond what is held the station holds nothing: any limit there lowers.
  CHECK(lowers(schedule_of(t0, {5000, 5000, 5000, 5000, 9000}), &held, at(t0), 1));
  CHECK(lowers(held, nullptr, at(t0), 1));
  // Time-scaled: periods count 900 times as fast as the wall clock.
  const auto scaled = schedule_of(t0, {5000, 5000, 5000, 5000});
  CHECK(lowers(schedule_of(t0 + 1, {5000, 5000, 4000}), &scaled, at(t0 + 1), 900));
}

TEST_CASE("A station keeps what it holds while the new schedule sets the same limits",
          "[unit][smart_charging]") {
  const std::int64_t t0 = 1'800'000'000;
  const auto held = schedule_of(t0, std::vector<double>(96, 3000));
  // The next slot's replan: the same limits from a start one slot later.
  CHECK(keeps_holding(schedule_of(t0 + 900, std::vector<double>(96, 3000)), held, at(t0 + 900), 1));
  // A limit that differs anywhere before the held schedule ends is sent.
  auto changed = std::vector<double>(96, 3000);
  changed[40] = 2000;
  CHECK_FALSE(keeps_holding(schedule_of(t0 + 900, changed), held, at(t0 + 900), 1));
  // ... but not where only what the station holds has run out (past its end).
  changed = std::vector<double>(96, 3000);
  changed[95] = 2000;
  CHECK(keeps_holding(schedule_of(t0 + 900, changed), held, at(t0 + 900), 1));
  // Once less than half of the new schedule's reach is held, it is sent again.
  const std::int64_t later = t0 + 49 * 900;
  CHECK_FALSE(keeps_holding(schedule_of(later, std::vector<double>(96, 3000)), held, at(later), 1));
  // Another unit, EVSE or purpose is another profile.
  auto amps = schedule_of(t0 + 900, std::vector<double>(96, 3000));
  amps["rate_unit"] = "A";
  CHECK_FALSE(keeps_holding(amps, held, at(t0 + 900), 1));
  auto for_a_transaction = schedule_of(t0 + 900, std::vector<double>(96, 3000));
  for_a_transaction["transaction_id"] = "tx-1";
  CHECK_FALSE(keeps_holding(for_a_transaction, held, at(t0 + 900), 1));
  CHECK_FALSE(keeps_holding(held, for_a_transaction, at(t0 + 900), 1));
  // A period that says more than its limit (a 2.1 setpoint) must be said again.
  auto with_setpoint = schedule_of(t0 + 900, std::vector<double>(96, 3000));
  with_setpoint["periods"][0]["setpoint"] = -2000;
  CHECK_FALSE(keeps_holding(with_setpoint, held, at(t0 + 900), 1));
  // Time-scaled: 96 slots of 900 s held from t0 last 96 wall seconds at x900.
  const auto scaled = schedule_of(t0, std::vector<double>(96, 3000));
  CHECK(keeps_holding(schedule_of(t0 + 1, std::vector<double>(96, 3000)), scaled, at(t0 + 1), 900));
  CHECK_FALSE(
      keeps_holding(schedule_of(t0 + 50, std::vector<double>(96, 3000)), scaled, at(t0 + 50), 900));
}

TEST_CASE("No vehicle is planned below its minimum current", "[unit][smart_charging]") {
  VehicleState state;
  CHECK(min_power_w(state) == 4140);  // 6 A on the EVSE's three phases
  state.evse_phases = 1;
  CHECK(min_power_w(state) == 1380);
  state.vehicle.charging_needs = {{"requested_energy_transfer", "AC_three_phase_core"},
                                  {"ev_min_current_a", 8}};
  CHECK(min_power_w(state) == 5520);
  state.vehicle.charging_needs = {{"requested_energy_transfer", "DC"}};
  CHECK(min_power_w(state) == 0);
  // 6 A at 230 V on three phases is sent as 6.0 A, not rounded below it.
  CHECK(periods_of({4140}, seconds{300}, true, 3)[0].limit == Approx(6.0));

  // Six vehicles on 10 kW: an even share (1.7 kW) is below every minimum, so two charge at a
  // time and the others wait their turn.
  const auto horizon = horizon_at(at(1'800'000'000), seconds{900}, seconds{4 * 3600});
  std::vector<SlotLimits> limits(horizon.slots);
  for (auto& l : limits) l.import_limit_w = 10000;
  std::vector<VehicleState> fleet;
  std::vector<plans::Prediction> predictions;
  for (int i = 0; i < 6; ++i) {
    VehicleState v;
    v.vehicle.session_id = i + 1;
    v.vehicle.started_s = 1'800'000'000;
    v.vehicle.declaration = plans::Declaration{1'800'000'000 + 4 * 3600, 20000, std::nullopt};
    fleet.push_back(v);
    predictions.push_back({1'800'010'000, 1'800'014'400, 1'800'020'000, 0, 0, 0, "prior"});
  }
  chargegrid::scheduler::Planner planner;
  const auto plan = plan_site(planner, horizon, limits, fleet, predictions, at(1'800'000'000));
  REQUIRE(plan.ok);
  for (std::size_t t = 0; t < horizon.slots; ++t) {
    std::int64_t site = 0;
    for (const auto& vp : plan.vehicles) {
      CHECK((vp.power_w[t] == 0 || vp.power_w[t] >= 4140));
      site += vp.power_w[t];
    }
    CHECK(site <= 10000);
    CHECK(site >= 8280);
  }
  for (const auto& vp : plan.vehicles) {
    std::int64_t wh = 0;
    for (auto p : vp.power_w) wh += p / 4;
    CHECK(wh > 4000);  // every vehicle gets its turn
  }
}
