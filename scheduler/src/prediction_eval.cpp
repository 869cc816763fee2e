#include "chargegrid/scheduler/prediction_eval.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <numeric>
#include <queue>
#include <unordered_map>

namespace chargegrid::scheduler {
namespace {

using namespace std::chrono;

struct Past {
  double duration_h;
  double energy_kwh;
  int minute_of_day;  // local
};

int local_minute_of_day(Time t, minutes offset) {
  auto local = t + offset;
  return static_cast<int>(duration_cast<minutes>(local - floor<days>(local)).count());
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * (v.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(pos));
  auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

struct Guess {
  double p10_h, p50_h, p90_h, energy_kwh;
};

Guess from_set(const std::vector<Past>& set, bool use_mean) {
  std::vector<double> d, e;
  for (const auto& p : set) {
    d.push_back(p.duration_h);
    e.push_back(p.energy_kwh);
  }
  Guess g{quantile(d, 0.1), quantile(d, 0.5), quantile(d, 0.9), quantile(e, 0.5)};
  if (use_mean) {
    g.p50_h = std::accumulate(d.begin(), d.end(), 0.0) / d.size();
    g.energy_kwh = std::accumulate(e.begin(), e.end(), 0.0) / e.size();
  }
  return g;
}

struct Accumulator {
  std::string name;
  std::vector<double> errors_h;
  double capped_sum = 0, width_sum = 0, energy_error_sum = 0;
  std::size_t covered = 0;

  void add(double p10_h, double p50_h, double p90_h, double energy_kwh, double actual_h,
           double actual_kwh) {
    double e = std::abs(p50_h - actual_h);
    errors_h.push_back(e);
    capped_sum += std::min(e, 24.0);
    width_sum += p90_h - p10_h;
    if (actual_h >= p10_h && actual_h <= p90_h) ++covered;
    energy_error_sum += std::abs(energy_kwh - actual_kwh);
  }

  ModelScore score() const {
    ModelScore s;
    s.name = name;
    s.scored_sessions = errors_h.size();
    if (errors_h.empty()) return s;
    double n = static_cast<double>(errors_h.size());
    s.mae_h = std::accumulate(errors_h.begin(), errors_h.end(), 0.0) / n;
    s.median_ae_h = quantile(errors_h, 0.5);
    s.capped_mae_h = capped_sum / n;
    s.p10_p90_coverage = covered / n;
    s.mean_interval_width_h = width_sum / n;
    s.energy_mae_kwh = energy_error_sum / n;
    return s;
  }
};

}  // namespace

PredictionEvaluation evaluate_predictions(std::vector<FinishedSession> sessions,
                                          const PredictorSettings& settings,
                                          const EvaluationRules& rules) {
  std::stable_sort(sessions.begin(), sessions.end(),
                   [](const auto& a, const auto& b) { return a.plugin < b.plugin; });
  PredictionEvaluation result;
  result.sessions = sessions.size();
  std::size_t first_test =
      sessions.size() - static_cast<std::size_t>(std::floor(sessions.size() * rules.test_share));
  if (rules.validation) {
    std::size_t test_size = sessions.size() - first_test;
    sessions.resize(first_test);
    first_test = first_test >= test_size ? first_test - test_size : 0;
  }
  result.test_sessions = sessions.size() - first_test;
  if (first_test < sessions.size()) result.test_start = sessions[first_test].plugin;

  DeparturePredictor predictor(settings);
  std::unordered_map<std::string, std::vector<Past>> driver_history;
  std::deque<Past> recent_global;
  constexpr std::size_t global_window = 5000;

  Accumulator chargegrid{"chargegrid"}, global_median{"global_median_last_5000"},
      driver_median{"driver_median"}, driver_mean{"driver_mean"},
      driver_tod{"driver_median_same_time_of_day"};

  // Sessions still connected, ordered by plug-out: they become known when they end.
  auto later = [&](std::size_t a, std::size_t b) {
    return sessions[a].plugout > sessions[b].plugout;
  };
  std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)> connected(later);

  for (std::size_t i = 0; i < sessions.size(); ++i) {
    const auto& s = sessions[i];
    while (!connected.empty() && sessions[connected.top()].plugout <= s.plugin) {
      const auto& done = sessions[connected.top()];
      connected.pop();
      predictor.observe(done);
      Past p{duration<double, std::ratio<3600>>(done.plugout - done.plugin).count(),
             done.energy_wh / 1000.0, local_minute_of_day(done.plugin, done.utc_offset)};
      driver_history[done.user_id].push_back(p);
      recent_global.push_back(p);
      if (recent_global.size() > global_window) recent_global.pop_front();
    }
    connected.push(i);
    if (i < first_test) continue;
    auto hist = driver_history.find(s.user_id);
    if (hist == driver_history.end() || hist->second.size() < rules.min_driver_history) continue;
    const auto& history = hist->second;

    double actual_h = duration<double, std::ratio<3600>>(s.plugout - s.plugin).count();
    double actual_kwh = s.energy_wh / 1000.0;
    auto hours_after = [&](Time t) {
      return duration<double, std::ratio<3600>>(t - s.plugin).count();
    };

    Arrival arrival{s.user_id, s.site_id, s.plugin, s.utc_offset, std::nullopt, std::nullopt};
    Prediction p = predictor.predict(arrival);
    chargegrid.add(hours_after(p.departure_p10), hours_after(p.departure_p50),
                   hours_after(p.departure_p90), p.energy_p50_wh / 1000.0, actual_h, actual_kwh);
    result.chargegrid_predictions.push_back({s.user_id, s.plugin, s.utc_offset, p.departure_p10,
                                             p.departure_p50, p.departure_p90, p.energy_p50_wh,
                                             s.plugout, s.energy_wh});

    auto add = [&](Accumulator& acc, const Guess& g) {
      acc.add(g.p10_h, g.p50_h, g.p90_h, g.energy_kwh, actual_h, actual_kwh);
    };
    add(global_median, from_set({recent_global.begin(), recent_global.end()}, false));
    add(driver_median, from_set(history, false));
    add(driver_mean, from_set(history, true));
    int minute = local_minute_of_day(s.plugin, s.utc_offset);
    std::vector<Past> similar;
    for (const auto& past : history) {
      int d = std::abs(past.minute_of_day - minute) % 1440;
      if (std::min(d, 1440 - d) <= 120) similar.push_back(past);
    }
    add(driver_tod, from_set(similar.size() >= 3 ? similar : history, false));
  }
  for (const auto* acc : {&chargegrid, &global_median, &driver_median, &driver_mean, &driver_tod})
    result.models.push_back(acc->score());
  return result;
}

}  // namespace chargegrid::scheduler
