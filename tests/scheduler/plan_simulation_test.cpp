#include "chargegrid/scheduler/plan_simulation.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval_support.hpp"

using namespace chargegrid::scheduler;
using namespace chargegrid::scheduler::testing;
using namespace std::chrono;

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

TEST_CASE("the training and held-back parts split the replayed plug-ins",
          "[scheduler][simulation]") {
  auto sessions = load_slice();
  SimulationOptions opt;
  opt.days = 3;
  opt.site_limit_share = 1.0;
  SimulationReport all = simulate_planning(sessions, opt);
  // A window that straddles the split: each part replays its own plug-ins, together all.
  opt.end = all.held_back_start + days{1};
  all = simulate_planning(sessions, opt);
  opt.part = ReplayPart::training;
  SimulationReport training = simulate_planning(sessions, opt);
  opt.part = ReplayPart::held_back;
  SimulationReport held_back = simulate_planning(sessions, opt);
  REQUIRE(training.sessions > 0);
  REQUIRE(held_back.sessions > 0);
  CHECK(training.sessions + held_back.sessions == all.sessions);
  // The split is the prediction benchmark's: the last 20 % of sessions by plug-in time.
  std::vector<Time> plugins;
  for (const auto& s : sessions) plugins.push_back(s.plugin);
  std::sort(plugins.begin(), plugins.end());
  CHECK(held_back.held_back_start == plugins[plugins.size() - plugins.size() / 5]);
  // Without an end, the held-back part's busiest window lies after the split.
  opt.end.reset();
  CHECK(simulate_planning(sessions, opt).window_end > all.held_back_start);
}

TEST_CASE("the workplace slice replays weekday daytime arrivals only", "[scheduler][simulation]") {
  auto sessions = load_slice();
  SimulationOptions opt;
  opt.days = 14;
  opt.site_limit_share = 1.0;
  SimulationReport all = simulate_planning(sessions, opt);
  opt.end = all.window_end;
  auto count = [&](int from_hour, int to_hour) {
    std::size_t n = 0;
    for (const auto& s : sessions) {
      if (s.plugin < all.window_start || s.plugin >= all.window_end) continue;
      auto local = s.plugin + s.utc_offset;
      auto hour = duration_cast<hours>(local - floor<days>(local)).count();
      if (weekday{floor<days>(local)}.iso_encoding() <= 5 && hour >= from_hour && hour < to_hour)
        ++n;
    }
    return n;
  };
  opt.workplace = true;
  SimulationReport workplace = simulate_planning(sessions, opt);
  CHECK(workplace.sessions > 0);
  CHECK(workplace.sessions == count(6, 12));
  CHECK(workplace.sessions < all.sessions);
  opt.workplace_from_hour = 0;
  opt.workplace_to_hour = 24;
  CHECK(simulate_planning(sessions, opt).sessions == count(0, 24));
}

TEST_CASE("on the held-back part the planner is not behind LLF at a lower cost",
          "[scheduler][simulation]") {
  SimulationOptions opt;
  opt.days = 7;
  opt.part = ReplayPart::held_back;
  opt.site_limit_share = 0.5;
  SimulationReport report = simulate_planning(load_slice(), opt);
  const auto& chargegrid = report.policies.at("chargegrid");
  const auto& llf = report.policies.at("llf");
  REQUIRE(report.limit_binding_share > 0);
  CHECK(chargegrid.violations == 0);
  CHECK(chargegrid.delivered_kwh >= llf.delivered_kwh - 0.001);
  CHECK(chargegrid.cost_minor <= llf.cost_minor);
}

TEST_CASE("chargegrid-plan-eval replays a part and the workplace slice",
          "[scheduler][simulation]") {
  auto j = nlohmann::json::parse(run(std::string(CHARGEGRID_PLAN_EVAL) + " --format norway " +
                                     slice + " --days 7 --part held-back --workplace --json"));
  CHECK(j["window_start"].get<std::string>() >= j["held_back_start"].get<std::string>());
  CHECK(j["sessions"].get<int>() > 0);
  CHECK(j["policies"]["chargegrid"]["violations"] == 0);
  CHECK(exit_status(std::string(CHARGEGRID_PLAN_EVAL) + " --format norway " + slice +
                    " --part future 2>/dev/null") != 0);
}

TEST_CASE("the online planner replans every slot with predicted departures only",
          "[scheduler][simulation]") {
  SimulationOptions opt;
  opt.days = 3;
  opt.replan_every_slots = 0;
  const auto sessions = load_slice();
  SimulationReport on_events = simulate_planning(sessions, opt);
  opt.replan_every_slots = 1;
  SimulationReport every_slot = simulate_planning(sessions, opt);
  const auto& replanned = every_slot.policies.at("chargegrid");
  // A plan per site and slot (up to the last departure), where events alone give far fewer.
  CHECK(replanned.replans == every_slot.slots);
  CHECK(on_events.policies.at("chargegrid").replans < every_slot.slots / 2);
  CHECK(replanned.violations == 0);
  // Exact departures leave nothing to learn from a vehicle still being here.
  CHECK(every_slot.policies.at("chargegrid_exact_departures").replans ==
        on_events.policies.at("chargegrid_exact_departures").replans);
}

TEST_CASE("the replay records what every policy delivered to each vehicle",
          "[scheduler][simulation]") {
  SimulationOptions opt;
  opt.days = 3;
  const auto sessions = load_slice();
  CHECK(simulate_planning(sessions, opt).session_results.empty());
  opt.record_sessions = true;
  SimulationReport report = simulate_planning(sessions, opt);
  REQUIRE_FALSE(report.session_results.empty());
  CHECK(report.session_results.size() <= report.sessions);
  for (const auto& [name, policy] : report.policies) {
    INFO(name);
    double delivered = 0, requested = 0;
    for (const auto& r : report.session_results) {
      REQUIRE(r.delivered_wh.count(name) == 1);
      CHECK(r.delivered_wh.at(name) <= r.need_wh);
      CHECK(r.depart > r.arrive);
      delivered += r.delivered_wh.at(name);
      requested += r.need_wh;
    }
    CHECK(delivered / 1000 == Approx(policy.delivered_kwh));
    CHECK(requested / 1000 == Approx(policy.requested_kwh));
  }
}

TEST_CASE("chargegrid-plan-eval writes the per-vehicle dump", "[scheduler][simulation]") {
  const std::string dump = "plan_eval_session_dump_test.csv";
  std::remove(dump.c_str());
  auto j = nlohmann::json::parse(run(std::string(CHARGEGRID_PLAN_EVAL) + " --format norway " +
                                     slice + " --days 3 --json --session-dump " + dump));
  std::ifstream in(dump);
  REQUIRE(in);
  std::string header, line;
  std::getline(in, header);
  CHECK(header.rfind("site,vehicle,arrival,departure,arrival_local_hour,stay_h,p10_h", 0) == 0);
  CHECK(header.find("chargegrid_kwh") != std::string::npos);
  CHECK(header.find("edf_kwh") != std::string::npos);
  int rows = 0;
  while (std::getline(in, line))
    if (!line.empty()) ++rows;
  CHECK(rows > 0);
  CHECK(rows <= j["sessions"].get<int>());
  in.close();
  std::remove(dump.c_str());
  CHECK(exit_status(std::string(CHARGEGRID_PLAN_EVAL) + " --format norway " + slice +
                    " --days 3 --session-dump /nonexistent-dir/x.csv >/dev/null 2>&1") != 0);
}

TEST_CASE("vehicles that pause below a minimum current: every policy plans for it",
          "[scheduler][simulation]") {
  SimulationOptions opt;
  opt.days = 3;
  opt.site_limit_share = 0.25;
  const SimulationReport any = simulate_planning(load_slice(), opt);
  opt.min_charge_kw = 4.14;  // 6 A on three phases
  const SimulationReport paused = simulate_planning(load_slice(), opt);
  const auto& ours = paused.policies.at("chargegrid");
  for (const char* name :
       {"chargegrid", "chargegrid_exact_departures", "round_robin", "edf", "llf"}) {
    INFO(name);
    CHECK(paused.policies.at(name).violations == 0);
    // Pausing never delivers more than any power does.
    CHECK(paused.policies.at(name).delivered_kwh <= any.policies.at(name).delivered_kwh + 0.5);
  }
  // The hindsight optimum stays the bound at any power.
  CHECK(paused.policies.at("hindsight_optimum").delivered_kwh ==
        Approx(any.policies.at("hindsight_optimum").delivered_kwh));
  // Measured on this slice: the planner loses nothing to the minimum (262.2 kWh both ways),
  // equal shares lose 4.5 % (264.0 -> 252.0 kWh).
  CHECK(ours.delivered_kwh >= 0.99 * any.policies.at("chargegrid").delivered_kwh);
  CHECK(ours.delivered_kwh > paused.policies.at("round_robin").delivered_kwh);
}
