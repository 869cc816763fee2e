#include "chargegrid/scheduler/plan_simulation.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "eval_support.hpp"

using namespace chargegrid::scheduler;
using namespace chargegrid::scheduler::testing;

TEST_CASE("the replay keeps the limits and ranks the policies sensibly",
          "[scheduler][simulation]") {
  SimulationOptions opt;
  opt.days = 3;
  SimulationReport report = simulate_planning(load_slice(), opt);
  REQUIRE(report.sessions > 10);
  CHECK(report.limit_binding_share > 0);
  const auto& optimum = report.policies.at("hindsight_optimum");
  for (const char* name : {"chargegrid", "chargegrid_exact_departures", "hindsight_optimum",
                           "round_robin", "edf", "llf"}) {
    INFO(name);
    const auto& r = report.policies.at(name);
    CHECK(r.violations == 0);
    CHECK(r.requested_kwh == Approx(optimum.requested_kwh));
    // Nobody delivers more than the physical limit (up to integer-watt rounding).
    CHECK(r.delivered_kwh <= optimum.delivered_kwh + 0.01 * report.sessions);
  }
  CHECK(report.policies.at("uncontrolled").violations > 0);
  CHECK(report.policies.at("uncontrolled").delivered_share() == Approx(1.0));
  CHECK(report.policies.at("chargegrid_exact_departures").delivered_share() >=
        0.995 * optimum.delivered_share());
}

TEST_CASE("V2G vehicles answer an export request without breaking limits",
          "[scheduler][simulation]") {
  SimulationOptions opt;
  opt.days = 3;
  opt.v2g_share = 0.5;
  opt.dr_hours = 3;
  opt.dr_start_hour = 18;
  opt.dr_import_share = 0.3;
  opt.dr_export_kw = 20;
  SimulationReport report = simulate_planning(load_slice(), opt);
  for (const char* name : {"chargegrid", "chargegrid_exact_departures", "hindsight_optimum"}) {
    INFO(name);
    CHECK(report.policies.at(name).violations == 0);
  }
  CHECK(report.policies.at("hindsight_optimum").export_revenue_minor > 0);
  CHECK(report.policies.at("edf").export_revenue_minor == 0);
}

TEST_CASE("a building load with forecast errors is kept within the site limit",
          "[scheduler][simulation]") {
  SimulationOptions opt;
  opt.days = 3;
  SimulationReport bare = simulate_planning(load_slice(), opt);
  opt.building_kw = 8;
  opt.building_noise = 0.3;
  SimulationReport report = simulate_planning(load_slice(), opt);
  for (const char* name : {"chargegrid", "chargegrid_exact_departures", "hindsight_optimum",
                           "round_robin", "edf", "llf"}) {
    INFO(name);
    CHECK(report.policies.at(name).violations == 0);
    // The site pays for the building's energy too.
    CHECK(report.policies.at(name).cost_minor > bare.policies.at(name).cost_minor);
  }
  CHECK(report.policies.at("uncontrolled").violations > 0);
  CHECK(report.policies.at("hindsight_optimum").peak_import_w >
        bare.policies.at("hindsight_optimum").peak_import_w);
  CHECK(report.policies.at("chargegrid_exact_departures").delivered_share() >=
        0.99 * report.policies.at("hindsight_optimum").delivered_share());
}

TEST_CASE("chargegrid-plan-eval prints every policy as JSON", "[scheduler][simulation]") {
  auto j = nlohmann::json::parse(
      run(std::string(CHARGEGRID_PLAN_EVAL) + " --format norway " + slice + " --days 2 --json"));
  for (const char* name :
       {"chargegrid", "hindsight_optimum", "uncontrolled", "round_robin", "edf", "llf"})
    for (const char* key : {"delivered_share", "unmet_kwh", "peak_import_w", "violations",
                            "cost_minor", "export_revenue_minor"}) {
      INFO(name << " " << key);
      CHECK(j["policies"][name].contains(key));
    }
  CHECK(exit_status(std::string(CHARGEGRID_PLAN_EVAL) + " /nonexistent.csv 2>/dev/null") != 0);
}
