#include "chargegrid/scheduler/prediction_eval.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval_support.hpp"

using namespace chargegrid::scheduler;
using namespace chargegrid::scheduler::testing;

TEST_CASE("the validation slice lies before the test split", "[scheduler][eval]") {
  auto sessions = load_slice();
  auto test = evaluate_predictions(sessions);
  EvaluationRules rules;
  rules.validation = true;
  auto validation = evaluate_predictions(sessions, {}, rules);
  CHECK(validation.sessions == sessions.size());
  CHECK(validation.test_sessions == test.test_sessions);
  REQUIRE_FALSE(validation.chargegrid_predictions.empty());
  CHECK(validation.test_start < test.test_start);
  for (const auto& p : validation.chargegrid_predictions) {
    CHECK(p.plugin >= validation.test_start);
    CHECK(p.plugin < test.test_start);
  }
}

TEST_CASE("evaluation scores only drivers with history, on the last fifth", "[scheduler][eval]") {
  auto sessions = load_slice();
  REQUIRE(sessions.size() > 1900);
  auto eval = evaluate_predictions(sessions);
  CHECK(eval.test_sessions == sessions.size() / 5);
  REQUIRE(eval.models.size() == 5);
  CHECK(eval.models[0].name == "chargegrid");
  for (const auto& m : eval.models) {
    CHECK(m.scored_sessions == eval.chargegrid_predictions.size());
    CHECK(m.scored_sessions > 100);
    CHECK(m.mae_h >= m.median_ae_h * 0.5);
    CHECK(m.capped_mae_h <= m.mae_h);
    CHECK(m.p10_p90_coverage >= 0.0);
    CHECK(m.p10_p90_coverage <= 1.0);
  }
  for (const auto& p : eval.chargegrid_predictions) CHECK(p.plugin >= eval.test_start);
}

TEST_CASE("each evaluated prediction uses only sessions ended before its plug-in",
          "[scheduler][eval]") {
  auto sessions = load_slice();
  auto eval = evaluate_predictions(sessions);
  REQUIRE(eval.chargegrid_predictions.size() > 10);
  std::vector<FinishedSession> by_plugout = sessions;
  std::stable_sort(by_plugout.begin(), by_plugout.end(),
                   [](const auto& a, const auto& b) { return a.plugout < b.plugout; });
  for (std::size_t k = 0; k < eval.chargegrid_predictions.size(); k += 37) {
    const auto& scored = eval.chargegrid_predictions[k];
    DeparturePredictor fresh;
    for (const auto& s : by_plugout)
      if (s.plugout <= scored.plugin) fresh.observe(s);
    auto p = fresh.predict({scored.user_id, "ASK", scored.plugin, scored.utc_offset, {}, {}});
    CHECK(p.departure_p50 == scored.departure_p50);
    CHECK(p.departure_p90 == scored.departure_p90);
    CHECK(p.energy_p50_wh == scored.energy_p50_wh);
  }
}

TEST_CASE("chargegrid-predict-eval runs end to end on the fixed slice", "[scheduler][eval]") {
  std::string out_csv = "predict-eval-test-out.csv";
  std::string output = run(std::string(CHARGEGRID_PREDICT_EVAL) + " --format norway " + slice +
                           " --json --out " + out_csv);
  auto j = nlohmann::json::parse(output);
  for (const char* model : {"chargegrid", "global_median_last_5000", "driver_median", "driver_mean",
                            "driver_median_same_time_of_day"}) {
    INFO(model);
    REQUIRE(j["models"].contains(model));
    for (const char* key : {"mae_h", "median_ae_h", "capped_mae_h", "p10_p90_coverage",
                            "energy_mae_kwh", "scored_sessions"})
      CHECK(j["models"][model].contains(key));
  }
  std::ifstream rows(out_csv);
  std::string line;
  std::getline(rows, line);
  CHECK(line ==
        "user_id,plugin_time,departure_p10,departure_p50,departure_p90,energy_p50_kwh,"
        "actual_plugout_time,actual_energy_kwh");
  // Recompute the MAE from the rows to check the file matches the summary.
  double sum = 0;
  std::size_t n = 0;
  while (std::getline(rows, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) f.push_back(field);
    REQUIRE(f.size() == 8);
    Time p50, actual;
    std::chrono::minutes off;
    REQUIRE(parse_iso8601(f[3], p50, off));
    REQUIRE(parse_iso8601(f[6], actual, off));
    sum += std::abs(std::chrono::duration<double, std::ratio<3600>>(p50 - actual).count());
    ++n;
  }
  CHECK(n == j["models"]["chargegrid"]["scored_sessions"].get<std::size_t>());
  CHECK(sum / n == Approx(j["models"]["chargegrid"]["mae_h"].get<double>()).epsilon(1e-6));
  std::remove(out_csv.c_str());
}

TEST_CASE("chargegrid-predict-eval takes a holiday calendar", "[scheduler][eval]") {
  std::string tool = std::string(CHARGEGRID_PREDICT_EVAL) + " --format norway " + slice;
  auto j = nlohmann::json::parse(run(tool + " --json --holidays norway"));
  CHECK(j["models"]["chargegrid"]["scored_sessions"].get<std::size_t>() > 100);
  CHECK(exit_status(tool + " --holidays atlantis >/dev/null 2>&1") != 0);
}

TEST_CASE("chargegrid-predict-eval rejects unusable input", "[scheduler][eval]") {
  std::string bad = "predict-eval-bad.csv";
  std::ofstream(bad) << "not,a,session,file\n1,2,3,4\n";
  std::string cmd = std::string(CHARGEGRID_PREDICT_EVAL) + " " + bad + " 2>/dev/null";
  CHECK(exit_status(cmd) != 0);
  std::remove(bad.c_str());
}
