// chargegrid-predict-eval: replays a sessions file and scores departure and energy predictions
// against baselines, with no leakage from the future.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../eval-common/session_input.hpp"
#include "chargegrid/scheduler/holidays.hpp"
#include "chargegrid/scheduler/prediction_eval.hpp"
#include "chargegrid/tools/options.hpp"

using namespace chargegrid::scheduler;
using chargegrid::tools::option;

int main(int argc, char** argv) {
  CLI::App app{"Scores ChargeGrid's departure and energy prediction against baselines"};
  chargegrid::tools::SessionInput input;
  std::string out_path;
  PredictorSettings settings;
  chargegrid::tools::add_session_input(app, input, true);
  app.add_option("--out", out_path, "Write one row per scored session to this CSV");
  option(app, "--bandwidth-h", settings.time_of_day_bandwidth_h,
         "Kernel width over arrival time of day");
  option(app, "--other-day-type-weight", settings.other_day_type_weight,
         "Weight of sessions of the other day type (weekday/weekend)");
  option(app, "--same-weekday-boost", settings.same_weekday_boost,
         "Extra weight of arrivals on the same weekday");
  option(app, "--half-life-days", settings.recency_half_life_days, "Recency half-life");
  option(app, "--site-prior-weight", settings.site_prior_weight,
         "Pseudo-sessions of site behaviour mixed into each driver");
  option(app, "--clock-anchor-h", settings.departure_clock_anchor_h,
         "Stays at least this long keep their departure clock time");
  option(app, "--day-type-shift-h", settings.day_type_shift_h,
         "Day type of the local time this many hours after arrival");
  option(app, "--sessions-per-driver", settings.sessions_per_driver,
         "Sessions remembered per driver", CLI::PositiveNumber);
  std::string holidays = "none";
  option(app, "--holidays", holidays, "Public holidays counted as Sundays",
         CLI::IsMember({"none", "norway"}));
  EvaluationRules rules;
  app.add_flag("--validation", rules.validation,
               "Score the slice before the test split instead (for tuning)");
  CLI11_PARSE(app, argc, argv);

  // The Norway data set's sites are all in Norway; its sessions fall in these years.
  if (holidays == "norway")
    for (const auto& h : public_holidays("NO", 2000, 2099)) settings.holidays.push_back(h.date);
  auto file = chargegrid::tools::read_session_input(input);
  if (!file) return 2;
  std::size_t rejected = file->rejected.size();
  PredictionEvaluation eval = evaluate_predictions(std::move(file->sessions), settings, rules);

  if (!out_path.empty()) {
    std::ofstream out(out_path);
    if (!out) {
      std::cerr << "cannot write " << out_path << "\n";
      return 2;
    }
    out << "user_id,plugin_time,departure_p10,departure_p50,departure_p90,energy_p50_kwh,"
           "actual_plugout_time,actual_energy_kwh\n";
    char kwh[32], actual_kwh[32];
    for (const auto& p : eval.chargegrid_predictions) {
      std::snprintf(kwh, sizeof kwh, "%.3f", p.energy_p50_wh / 1000.0);
      std::snprintf(actual_kwh, sizeof actual_kwh, "%.3f", p.actual_energy_wh / 1000.0);
      out << p.user_id << ',' << format_iso8601(p.plugin, p.utc_offset) << ','
          << format_iso8601(p.departure_p10, p.utc_offset) << ','
          << format_iso8601(p.departure_p50, p.utc_offset) << ','
          << format_iso8601(p.departure_p90, p.utc_offset) << ',' << kwh << ','
          << format_iso8601(p.actual_plugout, p.utc_offset) << ',' << actual_kwh << '\n';
    }
  }

  if (input.json) {
    nlohmann::json j;
    j["sessions"] = eval.sessions;
    j["rejected_rows"] = rejected;
    j["test_sessions"] = eval.test_sessions;
    j["test_start"] = format_iso8601(eval.test_start);
    for (const auto& m : eval.models) {
      j["models"][m.name] = {{"mae_h", m.mae_h},
                             {"median_ae_h", m.median_ae_h},
                             {"capped_mae_h", m.capped_mae_h},
                             {"p10_p90_coverage", m.p10_p90_coverage},
                             {"mean_interval_width_h", m.mean_interval_width_h},
                             {"energy_mae_kwh", m.energy_mae_kwh},
                             {"scored_sessions", m.scored_sessions}};
    }
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("sessions %zu (rejected rows %zu), test %zu from %s\n", eval.sessions, rejected,
              eval.test_sessions, format_iso8601(eval.test_start).c_str());
  std::printf("%-32s %8s %8s %8s %8s %8s %8s %8s\n", "model", "scored", "MAE h", "medAE h",
              "capMAE h", "P10-P90", "width h", "E MAE");
  for (const auto& m : eval.models)
    std::printf("%-32s %8zu %8.2f %8.2f %8.2f %7.1f%% %8.2f %8.2f\n", m.name.c_str(),
                m.scored_sessions, m.mae_h, m.median_ae_h, m.capped_mae_h, 100 * m.p10_p90_coverage,
                m.mean_interval_width_h, m.energy_mae_kwh);
  return 0;
}
