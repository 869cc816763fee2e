#include "chargegrid/scheduler/prediction.hpp"

#include <catch2/catch.hpp>
#include <sstream>

using namespace chargegrid::scheduler;
using namespace std::chrono;

namespace {

// A commuter: arrives around 18:00 UTC on weekdays, leaves at 07:00 next morning, 10 kWh.
std::vector<FinishedSession> commuter(const std::string& user, const std::string& site, int days) {
  std::vector<FinishedSession> out;
  sys_days start = sys_days{2024y / 1 / 1};  // a Monday
  for (int d = 0; d < days; ++d) {
    sys_days day = start + std::chrono::days{d};
    weekday wd{day};
    if (wd == Saturday || wd == Sunday) continue;
    FinishedSession s;
    s.user_id = user;
    s.site_id = site;
    s.plugin = day + 18h + minutes{(d * 7) % 40 - 20};
    s.plugout = day + 24h + 7h + minutes{(d * 11) % 30 - 15};
    s.energy_wh = 10000 + (d % 5) * 500;
    out.push_back(s);
  }
  return out;
}

double hours_between(Time a, Time b) {
  return duration<double, std::ratio<3600>>(b - a).count();
}

}  // namespace

TEST_CASE("an empty predictor answers with a wide prior", "[scheduler][prediction]") {
  DeparturePredictor predictor;
  Arrival a{"nobody", "nowhere", sys_days{2024y / 5 / 2} + 17h, 0min, {}, {}};
  auto p = predictor.predict(a);
  CHECK(p.basis == PredictionBasis::prior);
  CHECK(p.departure_p10 < p.departure_p50);
  CHECK(p.departure_p50 < p.departure_p90);
}

TEST_CASE("a regular driver's departure is learnt online", "[scheduler][prediction]") {
  DeparturePredictor predictor;
  for (const auto& s : commuter("alice", "home", 60)) predictor.observe(s);
  CHECK(predictor.driver_history_size("alice") > 30);
  Time plugin = sys_days{2024y / 3 / 5} + 18h + 30min;  // a Tuesday
  auto p = predictor.predict({"alice", "home", plugin, 0min, {}, {}});
  CHECK(p.basis == PredictionBasis::driver);
  // Leaves around 07:00 next morning even though she arrived 30 minutes late.
  CHECK(hours_between(plugin, p.departure_p50) == Approx(12.5).margin(0.5));
  CHECK(p.departure_p10 <= p.departure_p50);
  CHECK(p.departure_p50 <= p.departure_p90);
  CHECK(hours_between(p.departure_p10, p.departure_p90) < 2.0);
  CHECK(p.energy_p50_wh == Approx(11000).margin(1000));
}

TEST_CASE("an unknown driver falls back to the site, then to everyone", "[scheduler][prediction]") {
  DeparturePredictor predictor;
  for (const auto& s : commuter("alice", "home", 30)) predictor.observe(s);
  Time plugin = sys_days{2024y / 3 / 5} + 18h;
  auto site = predictor.predict({"stranger", "home", plugin, 0min, {}, {}});
  CHECK(site.basis == PredictionBasis::site);
  CHECK(hours_between(plugin, site.departure_p50) == Approx(13).margin(1));
  auto global = predictor.predict({"", "elsewhere", plugin, 0min, {}, {}});
  CHECK(global.basis == PredictionBasis::global);
}

TEST_CASE("a declared departure overrides the model and is checked", "[scheduler][prediction]") {
  DeparturePredictor predictor;
  for (const auto& s : commuter("alice", "home", 60)) predictor.observe(s);
  Time plugin = sys_days{2024y / 3 / 5} + 18h;
  auto model = predictor.predict({"alice", "home", plugin, 0min, {}, {}});
  Time usual = model.departure_p50;
  auto declared = predictor.predict({"alice", "home", plugin, 0min, usual + 10min, 9000});
  CHECK(declared.departure_p50 == usual + 10min);
  CHECK(declared.departure_p10 == model.departure_p10);
  CHECK(declared.declared_departure_plausible == true);
  CHECK(declared.energy_p50_wh == 9000);
  auto odd = predictor.predict({"alice", "home", plugin, 0min, plugin + 1h, 80000});
  CHECK(odd.departure_p50 == plugin + 1h);
  CHECK(odd.declared_departure_plausible == false);
  CHECK(odd.declared_energy_plausible == false);
  // A declared departure before plug-in is ignored.
  auto past = predictor.predict({"alice", "home", plugin, 0min, plugin - 1h, {}});
  CHECK(past.departure_p50 == usual);
  CHECK_FALSE(past.declared_departure_plausible.has_value());
}

TEST_CASE("predictor state survives save and load", "[scheduler][prediction]") {
  DeparturePredictor predictor;
  for (const auto& s : commuter("alice", "home", 40)) predictor.observe(s);
  for (const auto& s : commuter("bob", "home", 20)) predictor.observe(s);
  std::stringstream state;
  predictor.save(state);
  DeparturePredictor restored;
  REQUIRE(restored.load(state));
  for (const char* user : {"alice", "bob", "carol"}) {
    Arrival a{user, "home", sys_days{2024y / 3 / 5} + 19h, 60min, {}, {}};
    auto x = predictor.predict(a), y = restored.predict(a);
    CHECK(x.departure_p10 == y.departure_p10);
    CHECK(x.departure_p50 == y.departure_p50);
    CHECK(x.departure_p90 == y.departure_p90);
    CHECK(x.energy_p50_wh == y.energy_p50_wh);
    CHECK(x.basis == y.basis);
  }
  for (const char* bad : {"", "garbage\n", "chargegrid-predictor-state\t2\nD\ta\t1\t0\t5\t6\n",
                          "chargegrid-predictor-state\t2\nD\ta\t1\t0\t5\t6\t-7\n",
                          "chargegrid-predictor-state\t1\nD\talice\t1\t0\t5\n",
                          "chargegrid-predictor-state\t1\nX\ta\t1\t0\t5\t6\n",
                          "chargegrid-predictor-state\t1\nD\ta\t1\t0\t-5\t6\n",
                          "chargegrid-predictor-state\t1\nD\ta\t1x\t0\t5\t6\n"}) {
    std::istringstream in(bad);
    DeparturePredictor p;
    CHECK_FALSE(p.load(in));
    CHECK(p.driver_history_size("alice") == 0);
  }
}

namespace {

// Ten weeks of a driver's evenings at home from Monday 2024-01-01, Sundays off: weekday
// evenings gone next morning (13 h); Friday and Saturday evenings (weekend stays) gone the
// morning after next, here 40 h.
std::vector<FinishedSession> evenings_at_home(const std::string& user) {
  std::vector<FinishedSession> history;
  const sys_days start = sys_days{2024y / 1 / 1};  // a Monday
  for (int d = 0; d < 70; ++d) {
    const sys_days day = start + std::chrono::days{d};
    const weekday wd{day};
    if (wd == Sunday) continue;
    FinishedSession s{user, "home", "", day + 18h, {}, 9000, 0min};
    s.plugout = s.plugin + (wd == Friday || wd == Saturday ? 40h : 13h);
    history.push_back(s);
  }
  return history;
}

}  // namespace

TEST_CASE("a Friday-evening arrival is read as a weekend stay when the day type is shifted",
          "[scheduler][prediction]") {
  const auto history = evenings_at_home("dana");
  Time friday = sys_days{2024y / 3 / 15} + 18h;
  PredictorSettings plain;
  plain.day_type_shift_h = 0;
  PredictorSettings shifted;
  shifted.day_type_shift_h = 9;
  shifted.other_day_type_weight = 0.05;
  plain.other_day_type_weight = 0.05;
  DeparturePredictor a(plain), b(shifted);
  for (const auto& s : history) {
    a.observe(s);
    b.observe(s);
  }
  Arrival arrival{"dana", "home", friday, 0min, {}, {}};
  // By the arrival's own day, a Friday looks like the weekday evenings; by the day the stay
  // ends (Saturday), like the other weekend stays.
  CHECK(hours_between(friday, a.predict(arrival).departure_p50) < 20);
  CHECK(hours_between(friday, b.predict(arrival).departure_p50) == Approx(40).margin(2));
  Arrival tuesday{"dana", "home", sys_days{2024y / 3 / 12} + 18h, 0min, {}, {}};
  CHECK(hours_between(tuesday.plugin, b.predict(tuesday).departure_p50) == Approx(13).margin(1));
}

TEST_CASE("a public holiday is read as a Sunday", "[scheduler][prediction]") {
  const auto history = evenings_at_home("erik");
  // The evening before a Thursday holiday: the stay ends on the holiday, a day off.
  Time wednesday = sys_days{2024y / 3 / 13} + 18h;
  PredictorSettings with_holiday;
  with_holiday.holidays = {sys_days{2024y / 12 / 25}, sys_days{2024y / 3 / 14}};  // any order
  DeparturePredictor plain, aware(with_holiday);
  for (const auto& s : history) {
    plain.observe(s);
    aware.observe(s);
  }
  Arrival arrival{"erik", "home", wednesday, 0min, {}, {}};
  CHECK(hours_between(wednesday, plain.predict(arrival).departure_p50) == Approx(13).margin(1));
  CHECK(hours_between(wednesday, aware.predict(arrival).departure_p50) == Approx(40).margin(2));
  // Other weekday evenings are unchanged.
  Arrival tuesday{"erik", "home", sys_days{2024y / 3 / 12} + 18h, 0min, {}, {}};
  CHECK(hours_between(tuesday.plugin, aware.predict(tuesday).departure_p50) ==
        Approx(13).margin(1));
}
