#pragma once
// Leak-free replay of a session history that scores the departure predictor against simple
// baselines. A prediction only sees sessions that plugged out before the predicted plug-in.

#include <string>
#include <vector>

#include "chargegrid/scheduler/prediction.hpp"
#include "chargegrid/scheduler/sessions.hpp"

namespace chargegrid::scheduler {

struct ModelScore {
  std::string name;  // "chargegrid" or a baseline's name
  std::size_t scored_sessions = 0;
  double mae_h = 0, median_ae_h = 0, capped_mae_h = 0;  // capped: errors capped at 24 h
  double p10_p90_coverage = 0, mean_interval_width_h = 0;
  double energy_mae_kwh = 0;
};

struct ScoredPrediction {
  std::string user_id;
  Time plugin{};
  std::chrono::minutes utc_offset{0};
  Time departure_p10{}, departure_p50{}, departure_p90{};
  std::int64_t energy_p50_wh = 0;
  Time actual_plugout{};
  std::int64_t actual_energy_wh = 0;
};

struct PredictionEvaluation {
  std::size_t sessions = 0;       // sessions replayed
  std::size_t test_sessions = 0;  // the last 20 % by plug-in time
  Time test_start{};
  std::vector<ModelScore> models;  // chargegrid first, then the baselines
  std::vector<ScoredPrediction> chargegrid_predictions;
};

struct EvaluationRules {
  double test_share = 0.2;
  std::size_t min_driver_history = 5;
  // Score the validation slice instead: the test_share of sessions just before the test
  // split; the replay stops at the test split, so settings tuned here never see the test set.
  bool validation = false;
};

PredictionEvaluation evaluate_predictions(std::vector<FinishedSession> sessions,
                                          const PredictorSettings& settings = {},
                                          const EvaluationRules& rules = {});

}  // namespace chargegrid::scheduler
