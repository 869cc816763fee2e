#include "chargegrid/scheduler/planner.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

using namespace chargegrid::scheduler;
using namespace std::chrono;

namespace {

const Time t0 = sys_days{2024y / 1 / 15} + 16h;

SiteSlots flat_site(std::size_t slots, std::int64_t import_w, std::int64_t price = 100) {
  SiteSlots s;
  s.start = t0;
  s.slot_length = 15min;
  s.import_limit_w.assign(slots, import_w);
  s.export_limit_w.assign(slots, 0);
  s.import_price_minor_per_kwh.assign(slots, price);
  s.export_price_minor_per_kwh.assign(slots, 0);
  return s;
}

PlannedVehicle car(std::string id, int arrive_slot, int depart_slot, std::int64_t need_wh,
                   std::int64_t max_w = 11000) {
  PlannedVehicle v;
  v.id = std::move(id);
  v.arrival = t0 + 15min * arrive_slot;
  v.departure = t0 + 15min * depart_slot;
  v.energy_need_wh = need_wh;
  v.max_charge_w = max_w;
  return v;
}

// A request on a flat site of `slots` slots and `import_w` for `vehicles`.
PlanRequest flat_request(std::size_t slots, std::int64_t import_w,
                         std::vector<PlannedVehicle> vehicles) {
  PlanRequest r;
  r.site = flat_site(slots, import_w);
  r.vehicles = std::move(vehicles);
  return r;
}

// The planner's plan for `r`, which must be one and keep every limit.
Plan checked_plan(const PlanRequest& r) {
  Plan p = plan_charging(r);
  REQUIRE(p.ok);
  CHECK(check_plan(r, p).empty());
  return p;
}

std::int64_t delivered(const PlanRequest& r, const Plan& p, std::size_t i) {
  double wh = 0;
  for (auto w : p.power_w[i])
    wh += w * duration<double, std::ratio<3600>>(r.site.slot_length).count();
  return static_cast<std::int64_t>(wh);
}

// A random site and fleet: binding import limits, demand-response cuts, export calls, V2G.
PlanRequest random_scenario(std::mt19937_64& rng) {
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  std::size_t slots = uniform(4, 32);
  PlanRequest r;
  r.site = flat_site(slots, uniform(3000, 40000));
  for (std::size_t t = 0; t < slots; ++t) {
    r.site.import_price_minor_per_kwh[t] = uniform(5, 300);
    r.site.export_price_minor_per_kwh[t] = uniform(0, r.site.import_price_minor_per_kwh[t]);
    r.site.export_limit_w[t] = uniform(0, 1) ? uniform(0, 30000) : 0;
  }
  if (uniform(0, 1)) {  // a demand-response window: lower import, maybe an export call
    std::size_t from = uniform(0, slots - 1),
                to = std::min<std::size_t>(slots, from + uniform(1, 12));
    std::int64_t cut = uniform(0, r.site.import_limit_w[0]);
    bool export_call = uniform(0, 1);
    for (std::size_t t = from; t < to; ++t) {
      r.site.import_limit_w[t] = cut;
      if (export_call) {
        r.site.export_limit_w[t] = uniform(5000, 40000);
        r.site.import_price_minor_per_kwh[t] = uniform(300, 900);
        r.site.export_price_minor_per_kwh[t] = uniform(200, r.site.import_price_minor_per_kwh[t]);
      }
    }
  }
  if (uniform(0, 2) == 0) {
    r.site.building_load_w.resize(slots);
    for (auto& b : r.site.building_load_w) b = uniform(-5000, 15000);
  }
  if (uniform(0, 3) == 0) r.at_risk_value_minor_per_kwh = uniform(0, 3000);
  if (uniform(0, 3) == 0) r.departure_front_load_h = uniform(0, 8) / 4.0;
  if (uniform(0, 3) == 0) {
    r.overdue_hazard_per_h = uniform(0, 10) / 20.0;
    r.overdue_laxity_h = uniform(0, 24) / 2.0;
  }
  std::size_t vehicles = uniform(0, 10);
  for (std::size_t i = 0; i < vehicles; ++i) {
    int a = static_cast<int>(uniform(-4, slots - 1));
    int d = static_cast<int>(uniform(a + 1, slots + 6));
    PlannedVehicle v = car("v" + std::to_string(i), a, d, uniform(0, 50000), uniform(1, 22000));
    if (uniform(0, 2) == 0) v.max_charge_w = uniform(1400, 7400);
    if (uniform(0, 1)) {
      v.capacity_wh = uniform(20000, 90000);
      v.soc_wh = uniform(0, *v.capacity_wh);
      v.min_soc_wh = uniform(0, *v.capacity_wh / 2);
    }
    if (uniform(0, 1)) {
      v.discharge_allowed = true;
      v.max_discharge_w = uniform(0, 11000);
      if (uniform(0, 1)) {
        v.discharge_price.push_back({0, uniform(100, 800)});
        v.discharge_price.push_back({uniform(0, 60000), uniform(0, 300)});
      }
    }
    if (uniform(0, 2) == 0) {
      Time p10 = v.arrival + 15min * uniform(0, 20);
      Time p50 = p10 + 15min * uniform(0, 20);
      v.departure_quantiles =
          PlannedVehicle::DepartureQuantiles{p10, p50, p50 + 15min * uniform(0, 20)};
    }
    r.vehicles.push_back(v);
  }
  return r;
}

}  // namespace

TEST_CASE("the planner meets every need when the site allows it", "[scheduler][planner]") {
  const PlanRequest r = flat_request(16, 50000, {car("a", 0, 16, 20000), car("b", -3, 8, 5000)});
  const Plan p = checked_plan(r);
  CHECK(delivered(r, p, 0) == Approx(20000).margin(16));
  CHECK(delivered(r, p, 1) == Approx(5000).margin(16));
  CHECK(plan_figures(r, p).unmet_wh <= 32);
}

TEST_CASE("a binding limit serves the vehicle that leaves first", "[scheduler][planner]") {
  const PlanRequest r = flat_request(8, 7000, {car("late", 0, 8, 7000), car("early", 0, 4, 7000)});
  const Plan p = checked_plan(r);
  // 8 slots x 7 kW x 0.25 h = 14 kWh in all: both needs fit only if "early" goes first.
  CHECK(delivered(r, p, 1) >= 6990);
  CHECK(delivered(r, p, 0) >= 6990);
  for (std::size_t t = 0; t < 8; ++t) CHECK(p.power_w[0][t] + p.power_w[1][t] <= 7000);
}

TEST_CASE("the planner charges in the cheapest slots", "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(8, 50000);
  for (std::size_t t = 0; t < 8; ++t) r.site.import_price_minor_per_kwh[t] = t < 4 ? 300 : 50;
  r.vehicles = {car("a", 0, 8, 11000, 11000)};
  Plan p = plan_charging(r);
  REQUIRE(p.ok);
  for (std::size_t t = 0; t < 4; ++t) CHECK(p.power_w[0][t] == 0);
  CHECK(delivered(r, p, 0) >= 10990);
}

TEST_CASE("V2G discharges into an export call only when it pays", "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(8, 20000);
  for (std::size_t t = 0; t < 8; ++t) r.site.export_limit_w[t] = 10000;
  for (std::size_t t = 2; t < 4; ++t) {
    r.site.import_price_minor_per_kwh[t] = 800;
    r.site.export_price_minor_per_kwh[t] = 600;
  }
  PlannedVehicle v = car("v2g", 0, 8, 0, 11000);
  v.discharge_allowed = true;
  v.max_discharge_w = 10000;
  v.soc_wh = 40000;
  v.capacity_wh = 60000;
  v.min_soc_wh = 20000;
  v.discharge_price = {{0, 900}, {30000, 200}};
  r.vehicles = {v};
  Plan p = plan_charging(r);
  REQUIRE(p.ok);
  CHECK(check_plan(r, p).empty());
  CHECK(p.power_w[0][2] < -9000);
  CHECK(p.power_w[0][3] < -9000);
  CHECK(plan_figures(r, p).export_revenue_minor > 0);
  // The same vehicle with a price above the export price stays put.
  r.vehicles[0].discharge_price = {{0, 700}};
  Plan q = plan_charging(r);
  REQUIRE(q.ok);
  for (auto w : q.power_w[0]) CHECK(w >= 0);
}

TEST_CASE("the planner rejects malformed requests with a reason", "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(4, 10000);
  r.vehicles = {car("a", 0, 4, 1000)};
  auto broken = [&](auto change) {
    PlanRequest copy = r;
    change(copy);
    Plan p = plan_charging(copy);
    CHECK_FALSE(p.ok);
    CHECK_FALSE(p.error.empty());
    CHECK_FALSE(solve_reference_lp(copy).ok);
  };
  broken([](PlanRequest& x) { x.site.export_limit_w.pop_back(); });
  broken([](PlanRequest& x) { x.site.import_limit_w.clear(); });
  broken([](PlanRequest& x) { x.site.slot_length = 0min; });
  broken([](PlanRequest& x) { x.site.import_limit_w[1] = -1; });
  broken([](PlanRequest& x) { x.site.building_load_w = {1, 2}; });
  broken([](PlanRequest& x) { x.site.export_price_minor_per_kwh[0] = 1000; });
  broken([](PlanRequest& x) { x.vehicles[0].max_charge_w = -5; });
  broken([](PlanRequest& x) { x.vehicles[0].energy_need_wh = -5; });
  broken([](PlanRequest& x) { x.vehicles[0].capacity_wh = 1000, x.vehicles[0].soc_wh = 2000; });
  broken([](PlanRequest& x) { x.departure_front_load_h = -1; });
  broken([](PlanRequest& x) { x.overdue_hazard_per_h = -0.1; });
  broken([](PlanRequest& x) { x.overdue_laxity_h = std::nan(""); });
}

TEST_CASE("the checker catches broken plans", "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(4, 10000);
  r.vehicles = {car("a", 1, 4, 10000, 7000)};
  Plan p = plan_charging(r);
  REQUIRE(check_plan(r, p).empty());
  Plan bad = p;
  bad.power_w[0][0] = 1000;  // before arrival
  CHECK_FALSE(check_plan(r, bad).empty());
  bad = p;
  bad.power_w[0][2] = 8000;  // above the vehicle's limit
  CHECK_FALSE(check_plan(r, bad).empty());
  bad = p;
  bad.power_w[0][2] = -1000;  // discharge without permission
  CHECK_FALSE(check_plan(r, bad).empty());
  r.site.import_limit_w[3] = 2000;
  bad = p;
  bad.power_w[0][3] = 5000;  // over the site limit
  CHECK_FALSE(check_plan(r, bad).empty());
}

TEST_CASE("property: random scenarios keep every constraint and reach the CLP optimum",
          "[scheduler][planner][property]") {
  std::mt19937_64 rng(20240115);
  int planned = 0;
  for (int round = 0; round < 3000; ++round) {
    PlanRequest r = random_scenario(rng);
    INFO("scenario " << round << ": " << r.vehicles.size() << " vehicles, "
                     << r.site.import_limit_w.size() << " slots");
    Plan p = plan_charging(r);
    REQUIRE(p.ok);
    auto problems = check_plan(r, p);
    INFO((problems.empty() ? std::string() : problems.front()));
    REQUIRE(problems.empty());
    LpOptimum lp = solve_reference_lp(r);
    REQUIRE(lp.ok);
    double dt_h = 0.25, slots = static_cast<double>(r.site.import_limit_w.size());
    double n = static_cast<double>(r.vehicles.size());
    // Integer watts lose at most 1 W per vehicle per slot, plus the SoC safety margin.
    double rounding_wh = n * (2 * slots * dt_h + slots * dt_h + 1) + 1;
    PlanFigures f = plan_figures(r, p);
    CHECK(f.unmet_wh <= lp.unmet_wh + rounding_wh);
    double objective = plan_objective(r, p);
    // The integer plan is feasible for the LP, so it cannot beat the optimum ...
    CHECK(objective >= lp.objective - 1e-6 * (1 + std::abs(lp.objective)));
    // ... and it stays within the rounding tolerance of it.
    double w_energy = 100 * 900.0;  // bound on the energy weight for these prices
    CHECK(objective <=
          lp.objective + w_energy * rounding_wh / 1000 + 1e-3 * std::abs(lp.objective) + 1);
    ++planned;
  }
  CHECK(planned == 3000);
}

TEST_CASE("when the need cannot be met, the shortfall is shared fairly", "[scheduler][planner]") {
  const PlanRequest r = flat_request(8, 7000, {car("late", 0, 8, 14000), car("early", 0, 4, 7000)});
  const Plan p = checked_plan(r);
  // 14 kWh available for 21 kWh of needs: each vehicle misses a third of its need (shares of
  // a shortfall are equal to 1 % of the need).
  CHECK(delivered(r, p, 0) + delivered(r, p, 1) >= 13990);
  CHECK(delivered(r, p, 0) == Approx(9333).margin(140));
  CHECK(delivered(r, p, 1) == Approx(4667).margin(70));
}

TEST_CASE("energy at risk of an early departure is delivered first", "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(8, 7000);
  // Both may stay all 8 slots, but "risky" will probably leave after 4.
  r.vehicles = {car("safe", 0, 8, 7000), car("risky", 0, 8, 7000)};
  r.vehicles[1].departure_quantiles =
      PlannedVehicle::DepartureQuantiles{t0 + 30min, t0 + 60min, t0 + 2h};
  Plan p = plan_charging(r);
  REQUIRE(p.ok);
  CHECK(check_plan(r, p).empty());
  for (std::size_t t = 0; t < 4; ++t) CHECK(p.power_w[1][t] == 7000);
  CHECK(presence_probability(r.site, r.vehicles[1], 0) >
        presence_probability(r.site, r.vehicles[1], 5));
  CHECK(presence_probability(r.site, r.vehicles[0], 5) == 1.0);
}

TEST_CASE("a replan after arrivals starts from the previous optimum and matches a full plan",
          "[scheduler][planner][property]") {
  std::mt19937_64 rng(7);
  int incremental = 0;
  for (int round = 0; round < 500; ++round) {
    PlanRequest after = random_scenario(rng);
    if (after.vehicles.empty()) continue;
    PlanRequest before = after;
    // One to three vehicles arrive, anywhere in the list.
    std::size_t arriving = std::min<std::size_t>(after.vehicles.size(), 1 + round % 3);
    for (std::size_t k = 0; k < arriving; ++k)
      before.vehicles.erase(before.vehicles.begin() +
                            static_cast<long>((round + k) % before.vehicles.size()));
    INFO("scenario " << round);
    Planner planner;
    REQUIRE(planner.plan(before).ok);
    Plan p = planner.plan(after);
    REQUIRE(p.ok);
    incremental += planner.last_plan_incremental();
    REQUIRE(check_plan(after, p).empty());
    Plan full = plan_charging(after);
    // Both are optima of the same flow problem; they may differ only in ties of the peak and
    // fairness terms.
    double a = plan_objective(after, p), b = plan_objective(after, full);
    CHECK(a == Approx(b).epsilon(1e-9).margin(1e-3 *
                                                  (plan_figures(after, p).peak_import_w +
                                                   plan_figures(after, full).peak_import_w) /
                                                  1000 +
                                              2e-3));
    // Delivered energy is counted in whole Wh per vehicle.
    CHECK(std::abs(plan_figures(after, p).unmet_wh - plan_figures(after, full).unmet_wh) <=
          static_cast<std::int64_t>(after.vehicles.size()));
  }
  // Not every round can start from the previous optimum: an arriving vehicle whose discharge
  // price is the highest price in the request changes the energy weight of every vehicle.
  CHECK(incremental > 250);
}

TEST_CASE("a changed vehicle or site makes the planner solve from scratch",
          "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(8, 7000);
  r.vehicles = {car("a", 0, 8, 7000)};
  Planner planner;
  REQUIRE(planner.plan(r).ok);
  r.vehicles.push_back(car("b", 0, 4, 7000));
  REQUIRE(planner.plan(r).ok);
  CHECK(planner.last_plan_incremental());
  r.vehicles[0].energy_need_wh = 5000;  // a vehicle's need changed
  Plan p = planner.plan(r);
  CHECK_FALSE(planner.last_plan_incremental());
  CHECK(check_plan(r, p).empty());
  CHECK(delivered(r, p, 0) + delivered(r, p, 1) >= 11990);
  r.site.import_limit_w[3] = 1000;  // the site changed
  p = planner.plan(r);
  CHECK_FALSE(planner.last_plan_incremental());
  CHECK(check_plan(r, p).empty());
  r.departure_front_load_h = 1;  // the valuation changed
  p = planner.plan(r);
  CHECK_FALSE(planner.last_plan_incremental());
  CHECK(check_plan(r, p).empty());
  r.vehicles.pop_back();  // a vehicle left
  p = planner.plan(r);
  CHECK_FALSE(planner.last_plan_incremental());
  CHECK(check_plan(r, p).empty());
}

TEST_CASE("a value for energy at risk lets the planner wait for cheap slots",
          "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(16, 50000);
  for (std::size_t t = 0; t < 16; ++t) r.site.import_price_minor_per_kwh[t] = t < 8 ? 250 : 60;
  // Connected for 4 hours; a small chance of leaving early (P10 at the end of the horizon).
  r.vehicles = {car("v", 0, 16, 11000, 11000)};
  r.vehicles[0].departure_quantiles =
      PlannedVehicle::DepartureQuantiles{t0 + 4h, t0 + 10h, t0 + 14h};
  Plan energy_first = plan_charging(r);
  REQUIRE(energy_first.ok);
  CHECK(energy_first.power_w[0][0] == 11000);  // energy at risk outweighs any price
  r.at_risk_value_minor_per_kwh = 1000;
  Plan thrifty = plan_charging(r);
  REQUIRE(thrifty.ok);
  CHECK(check_plan(r, thrifty).empty());
  for (std::size_t t = 0; t < 8; ++t) CHECK(thrifty.power_w[0][t] == 0);
  CHECK(delivered(r, thrifty, 0) >= 10990);
  CHECK(plan_figures(r, thrifty).import_cost_minor <
        plan_figures(r, energy_first).import_cost_minor);
}

TEST_CASE("a vehicle still connected after its predicted departures is charged",
          "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(16, 7000);
  // Planned up to one hour past its P90: the long tail of stays keeps those slots worth
  // charging (the last slot's chance is still well above price / energy weight).
  r.vehicles = {car("late", 0, 16, 7 * 16 * 250, 7000)};
  r.vehicles[0].departure_quantiles = PlannedVehicle::DepartureQuantiles{t0 + 1h, t0 + 2h, t0 + 3h};
  for (std::size_t t = 12; t < 16; ++t) {
    INFO(t);
    CHECK(presence_probability(r.site, r.vehicles[0], t) > 0.02);
    CHECK(presence_probability(r.site, r.vehicles[0], t) <
          presence_probability(r.site, r.vehicles[0], t - 1));
  }
  Plan p = plan_charging(r);
  REQUIRE(p.ok);
  CHECK(check_plan(r, p).empty());
  for (std::size_t t = 0; t < 16; ++t) CHECK(p.power_w[0][t] == 7000);
}

TEST_CASE("a vehicle past its median departure is served before a new arrival",
          "[scheduler][planner]") {
  // "stayed" has been here 6 h and is just past its P50 with P90 a day away; "new" has just
  // arrived with P10 in 2 h. Departures bunch within hours after a quantile, so "stayed" is the
  // likelier to leave soon; spread evenly over the day to P90 it would look the safer one.
  PlanRequest r;
  r.site = flat_site(8, 7000);
  r.vehicles = {car("stayed", -24, 8, 7000), car("new", 0, 8, 7000)};
  r.vehicles[0].departure_quantiles = PlannedVehicle::DepartureQuantiles{t0 - 4h, t0, t0 + 24h};
  r.vehicles[1].departure_quantiles = PlannedVehicle::DepartureQuantiles{t0 + 2h, t0 + 4h, t0 + 6h};
  r.departure_front_load_h = 4;
  r.overdue_hazard_per_h = 0;  // the curve's shape alone
  // Conditional on being here now: 1 - 0.8 (1 - e^-0.5) / (1 - e^-6) after 2 h.
  CHECK(presence_probability(r.site, r.vehicles[0], 7, 4, 0) == Approx(0.6844).epsilon(1e-3));
  CHECK(presence_probability(r.site, r.vehicles[0], 7, 0, 0) == Approx(1 - 0.8 / 12));
  Plan p = checked_plan(r);
  for (std::size_t t = 0; t < 4; ++t) CHECK(p.power_w[0][t] == 7000);
  r.departure_front_load_h = 0;  // linear in time: the new arrival looks the more urgent
  p = checked_plan(r);
  for (std::size_t t = 0; t < 4; ++t) CHECK(p.power_w[1][t] == 7000);
}

TEST_CASE("a vehicle past its P10 with little to spare before P50 is served first",
          "[scheduler][planner]") {
  // "stayed" is past its P10 and needs 4 of the 5 hours to its P50; "new" has just arrived with
  // P10 in 30 minutes. The site has room for one vehicle for an hour, then for both. On the
  // linear curve alone the new arrival looks the more urgent at first; the overdue departure
  // rate puts the vehicle that cannot wait first.
  PlanRequest r;
  r.site = flat_site(32, 14000);
  for (std::size_t t = 0; t < 4; ++t) r.site.import_limit_w[t] = 7000;
  r.vehicles = {car("stayed", -16, 32, 28000, 7000), car("new", 0, 32, 14000, 7000)};
  r.vehicles[0].departure_quantiles =
      PlannedVehicle::DepartureQuantiles{t0 - 1h, t0 + 5h, t0 + 30h};
  r.vehicles[1].departure_quantiles =
      PlannedVehicle::DepartureQuantiles{t0 + 30min, t0 + 3h, t0 + 6h};
  // Laxity 5 h - 28 kWh / 7 kW = 1 h, under the default 3 h: an extra 8 % per hour.
  const double linear = presence_probability(r.site, r.vehicles[0], 3, 0, 0);
  CHECK(presence_probability(r.site, r.vehicles[0], 3) == Approx(linear * std::exp(-0.08)));
  Plan p = checked_plan(r);
  for (std::size_t t = 0; t < 4; ++t) CHECK(p.power_w[0][t] == 7000);
  r.overdue_hazard_per_h = 0;
  p = checked_plan(r);
  for (std::size_t t = 0; t < 2; ++t) CHECK(p.power_w[1][t] == 7000);
  // With time to spare before P50 (laxity 5 h - 7 kWh / 7 kW = 4 h), the curve stands.
  r.overdue_hazard_per_h = default_overdue_hazard_per_h;
  r.vehicles[0].energy_need_wh = 7000;
  CHECK(presence_probability(r.site, r.vehicles[0], 3) ==
        presence_probability(r.site, r.vehicles[0], 3, 0, 0));
  // Not yet at P10: no extra rate either.
  r.vehicles[0].energy_need_wh = 28000;
  r.vehicles[0].departure_quantiles->p10 = t0 + 15min;
  CHECK(presence_probability(r.site, r.vehicles[0], 3) ==
        presence_probability(r.site, r.vehicles[0], 3, 0, 0));
}

TEST_CASE("a departure predicted before the arrival carries no risk", "[scheduler][planner]") {
  PlanRequest r;
  r.site = flat_site(4, 7000);
  r.vehicles = {car("short", 0, 4, 1000, 7000)};
  r.vehicles[0].departure_quantiles =
      PlannedVehicle::DepartureQuantiles{t0 - 30min, t0 - 20min, t0};
  for (std::size_t t = 0; t < 4; ++t) CHECK(presence_probability(r.site, r.vehicles[0], t) == 1);
}

TEST_CASE("an at-risk value above the energy weight still delivers every need",
          "[scheduler][planner]") {
  PlanRequest r = flat_request(8, 50000, {car("v", 0, 8, 5000, 11000)});
  r.vehicles[0].departure_quantiles = PlannedVehicle::DepartureQuantiles{t0 + 1h, t0 + 2h, t0 + 3h};
  // Far above 100 x the highest price: unmet energy must weigh at least as much, or leaving
  // the need unmet would look cheaper than charging at any risk.
  r.at_risk_value_minor_per_kwh = 1000000;
  Plan p = plan_charging(r);
  REQUIRE(p.ok);
  CHECK(check_plan(r, p).empty());
  CHECK(delivered(r, p, 0) >= 4990);
  CHECK(p.power_w[0][0] == 11000);  // the surest slot first
  LpOptimum lp = solve_reference_lp(r);
  REQUIRE(lp.ok);
  CHECK(lp.unmet_wh < 1);
}

TEST_CASE("a shortfall shared below the minimum current rotates whole minimums",
          "[scheduler][planner]") {
  // 40 vehicles on 50 kW: the optimum gives each 1.25 kW, which no AC vehicle draws below
  // 6 A on three phases (4,140 W). The plan hands out whole minimums instead, to different
  // vehicles in turn, and keeps the site busy.
  std::vector<PlannedVehicle> fleet;
  for (int i = 0; i < 40; ++i) {
    fleet.push_back(car("v" + std::to_string(i), 0, 16, 20000));
    fleet.back().min_charge_w = 4140;
  }
  const PlanRequest r = flat_request(16, 50000, fleet);
  const Plan p = checked_plan(r);
  for (std::size_t t = 0; t < 16; ++t) {
    std::int64_t site = 0;
    for (std::size_t i = 0; i < 40; ++i) {
      CHECK((p.power_w[i][t] == 0 || p.power_w[i][t] >= 4140));
      site += p.power_w[i][t];
    }
    CHECK(site > 50000 - 4140);
    CHECK(site <= 50000);
  }
  // 200 kWh over 40 vehicles: each gets about its fifth (5 kWh), none is left out.
  for (std::size_t i = 0; i < 40; ++i) {
    CHECK(delivered(r, p, i) >= 3500);
    CHECK(delivered(r, p, i) <= 6500);
  }
}

TEST_CASE("a vehicle's last trickle becomes its minimum where the site has room",
          "[scheduler][planner]") {
  PlanRequest r = flat_request(8, 30000, {car("full", 0, 8, 300), car("busy", 0, 8, 20000)});
  r.vehicles[0].min_charge_w = 1380;  // one phase
  const Plan p = checked_plan(r);
  CHECK(delivered(r, p, 0) >= 300);
  CHECK(delivered(r, p, 1) >= 20000 * 0.999);
  for (auto w : p.power_w[0]) CHECK((w == 0 || w >= 1380));
  // A minimum above the vehicle's maximum is its maximum.
  r.vehicles[0].min_charge_w = 20000;
  r.vehicles[0].energy_need_wh = 5000;
  const Plan capped = checked_plan(r);
  for (auto w : capped.power_w[0]) CHECK((w == 0 || w == 11000));
  CHECK(delivered(r, capped, 0) >= 5000);
}

TEST_CASE("minimum charging powers are validated and checked", "[scheduler][planner]") {
  PlanRequest r = flat_request(4, 10000, {car("a", 0, 4, 1000)});
  r.vehicles[0].min_charge_w = -1;
  CHECK_FALSE(plan_charging(r).ok);
  r.vehicles[0].min_charge_w = 4140;
  Plan p = checked_plan(r);
  p.power_w[0] = {1000, 0, 0, 0};
  const auto problems = check_plan(r, p);
  REQUIRE(problems.size() == 1);
  CHECK(problems.front().find("below the vehicle's minimum power") != std::string::npos);
}

TEST_CASE("property: minimum powers keep every limit and cost at most a minimum per slot",
          "[scheduler][planner][property]") {
  std::mt19937_64 rng(6161);
  int lifted = 0;
  for (int round = 0; round < 1500; ++round) {
    PlanRequest free = random_scenario(rng);
    PlanRequest r = free;
    std::int64_t largest_min = 0;
    for (auto& v : r.vehicles) {
      v.min_charge_w = std::uniform_int_distribution<std::int64_t>(0, 2)(rng) * 2070;
      largest_min = std::max(largest_min, std::min(v.min_charge_w, v.max_charge_w));
    }
    INFO("scenario " << round);
    const Plan optimum = plan_charging(free);
    const Plan p = plan_charging(r);
    REQUIRE(p.ok);
    const auto problems = check_plan(r, p);
    INFO((problems.empty() ? std::string() : problems.front()));
    REQUIRE(problems.empty());
    // Pooled minimums hand out all but less than one minimum of each slot's charging.
    const double slots = static_cast<double>(r.site.import_limit_w.size());
    CHECK(plan_figures(r, p).delivered_wh >=
          plan_figures(free, optimum).delivered_wh - largest_min * 0.25 * slots - 1);
    if (p.power_w != optimum.power_w) ++lifted;
  }
  CHECK(lifted > 100);  // the scenarios do reach the adjustment
}
