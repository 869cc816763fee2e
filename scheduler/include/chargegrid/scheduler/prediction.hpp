#pragma once
// Connection-period and energy prediction: when will a vehicle that just plugged in leave, and
// how much energy will it take. Learns online from each finished session.

#include <chrono>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "chargegrid/scheduler/sessions.hpp"

namespace chargegrid::scheduler {

// What is known of a session at plug-in.
struct Arrival {
  std::string user_id;  // empty when the driver is unknown
  std::string site_id;
  Time plugin{};
  std::chrono::minutes utc_offset{0};      // site local time offset, for time-of-day patterns
  std::optional<Time> declared_departure;  // driver app or ISO 15118 departure time
  std::optional<std::int64_t> declared_energy_wh;  // driver app or ISO 15118 energy request
};

enum class PredictionBasis { driver, site, global, prior };

struct Prediction {
  Time departure_p10{}, departure_p50{}, departure_p90{};
  std::int64_t energy_p10_wh = 0, energy_p50_wh = 0, energy_p90_wh = 0;
  PredictionBasis basis = PredictionBasis::prior;
  // Set when a declared value replaced the model's median: whether the declaration lies inside
  // the model's P10-P90 interval (the interval itself is kept as the model's).
  std::optional<bool> declared_departure_plausible;
  std::optional<bool> declared_energy_plausible;
};

struct PredictorSettings {
  double time_of_day_bandwidth_h = 1.5;  // kernel width over arrival time of day
  double other_day_type_weight = 0.15;   // weight of weekday sessions for a weekend arrival etc.
  double same_weekday_boost = 2.0;       // extra weight of arrivals on the same weekday
  // Day type and weekday are those of the local time this many hours after the arrival (0 = the
  // arrival's own day; 8 makes a Friday-evening arrival a weekend stay).
  double day_type_shift_h = 9;
  // Local dates of public holidays: they count as Sundays (weekend day type, Sunday for the
  // weekday boost). Empty by default: the library does not know the site's country.
  std::vector<std::chrono::sys_days> holidays;
  double recency_half_life_days = 80;   // older sessions count less
  double site_prior_weight = 1.0;       // pseudo-sessions of site behaviour mixed into a driver
  double departure_clock_anchor_h = 6;  // sessions longer than this keep their departure clock
  std::size_t sessions_per_driver = 150;
  std::size_t sessions_per_site = 1500;
  std::size_t sessions_global = 5000;
};

// Kernel-weighted quantiles over a driver's similar past arrivals, shrunk toward the site and
// then the global pool when the driver has little history. State is bounded per driver.
class DeparturePredictor {
 public:
  explicit DeparturePredictor(PredictorSettings settings = {});
  ~DeparturePredictor();
  DeparturePredictor(DeparturePredictor&&) noexcept;
  DeparturePredictor& operator=(DeparturePredictor&&) noexcept;

  // Learns from one finished session (constant time per session, no retraining).
  void observe(const FinishedSession& session);
  Prediction predict(const Arrival& arrival) const;
  std::size_t driver_history_size(const std::string& user_id) const;

  // Text state: one line per remembered session. load() replaces the current state and
  // returns false (leaving the predictor empty) on a malformed stream.
  void save(std::ostream& out) const;
  bool load(std::istream& in);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chargegrid::scheduler
