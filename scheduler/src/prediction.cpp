#include "chargegrid/scheduler/prediction.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chargegrid::scheduler {
namespace {

using namespace std::chrono;

constexpr int minutes_per_day = 24 * 60;

// What the predictor remembers of one finished session.
struct Remembered {
  std::int64_t plugin_s = 0;    // UTC seconds since epoch
  std::int16_t offset_min = 0;  // local offset at plug-in
  std::int32_t duration_s = 0;
  std::int32_t energy_wh = 0;
};

struct LocalFeatures {
  int minute_of_day;
  bool weekend;
  unsigned weekday;
};

// Time of day of the arrival; day type and weekday of the local time `day_shift_s` later (the
// day an evening arrival's stay usually ends: a Friday evening is a weekend stay). A holiday
// (`holidays` sorted) is a Sunday: people stay home as they do at weekends.
LocalFeatures features(std::int64_t plugin_s, int offset_min, std::int64_t day_shift_s,
                       const std::vector<sys_days>& holidays) {
  sys_seconds local{seconds{plugin_s + offset_min * 60LL}};
  auto day = floor<days>(local);
  auto stay_end_day = floor<days>(local + seconds{day_shift_s});
  weekday wd{stay_end_day};
  if (std::binary_search(holidays.begin(), holidays.end(), stay_end_day)) wd = Sunday;
  return {static_cast<int>(duration_cast<minutes>(local - day).count()),
          wd == Saturday || wd == Sunday, wd.c_encoding()};
}

// Signed difference a-b of two times of day, in minutes, within [-720, 720).
int signed_tod_delta(int a, int b) {
  int d = (a - b) % minutes_per_day;
  if (d < -720) d += minutes_per_day;
  if (d >= 720) d -= minutes_per_day;
  return d;
}

struct Sample {
  double duration_s;
  double energy_wh;
  double weight;
};

double weighted_quantile(std::vector<std::pair<double, double>>& values, double total, double q) {
  // values: (value, weight), sorted by value by the caller.
  double target = q * total, cumulative = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    double next = cumulative + values[i].second;
    if (next >= target) {
      // Interpolate between neighbouring values by the position of the target in this step.
      if (i + 1 < values.size() && values[i].second > 0) {
        double mid = cumulative + values[i].second / 2;
        if (target > mid) {
          double span = values[i].second / 2 + values[i + 1].second / 2;
          double f = span > 0 ? (target - mid) / span : 0;
          return values[i].first + f * (values[i + 1].first - values[i].first);
        }
      }
      if (i > 0 && values[i].second > 0) {
        double mid = cumulative + values[i].second / 2;
        if (target < mid) {
          double span = values[i - 1].second / 2 + values[i].second / 2;
          double f = span > 0 ? (mid - target) / span : 0;
          return values[i].first - f * (values[i].first - values[i - 1].first);
        }
      }
      return values[i].first;
    }
    cumulative = next;
  }
  return values.empty() ? 0.0 : values.back().first;
}

}  // namespace

struct DeparturePredictor::State {
  PredictorSettings settings;
  std::unordered_map<std::string, std::deque<Remembered>> drivers;
  std::unordered_map<std::string, std::deque<Remembered>> sites;
  std::deque<Remembered> global;

  static void push(std::deque<Remembered>& pool, const Remembered& r, std::size_t limit) {
    pool.push_back(r);
    while (pool.size() > limit) pool.pop_front();
  }

  // Kernel-weighted samples of a pool for an arrival; returns the total weight.
  double collect(const std::deque<Remembered>& pool, std::int64_t plugin_s,
                 const LocalFeatures& arrival, double scale, std::vector<Sample>& out) const {
    const double bandwidth_min = settings.time_of_day_bandwidth_h * 60;
    const double half_life_s = settings.recency_half_life_days * 86400;
    const double anchor_s = settings.departure_clock_anchor_h * 3600;
    const auto day_shift_s = std::llround(settings.day_type_shift_h * 3600);
    std::size_t first = out.size();
    double total = 0;
    for (const auto& r : pool) {
      auto f = features(r.plugin_s, r.offset_min, day_shift_s, settings.holidays);
      int delta = signed_tod_delta(arrival.minute_of_day, f.minute_of_day);
      double z = delta / bandwidth_min;
      double w = std::exp(-0.5 * z * z);
      if (f.weekend != arrival.weekend) w *= settings.other_day_type_weight;
      if (f.weekday == arrival.weekday) w *= settings.same_weekday_boost;
      double age_s = std::max<double>(0, static_cast<double>(plugin_s - r.plugin_s));
      w *= std::exp2(-age_s / half_life_s);
      if (w < 1e-9) continue;
      // Long stays end at a habitual clock time (next morning), so a later arrival means a
      // shorter stay; short stays keep their length.
      double duration = r.duration_s;
      if (duration >= anchor_s) duration = std::max(300.0, duration - delta * 60.0);
      out.push_back({duration, static_cast<double>(r.energy_wh), w});
      total += w;
    }
    if (total > 0 && scale > 0) {
      for (std::size_t i = first; i < out.size(); ++i) out[i].weight *= scale / total;
      return scale;
    }
    return total;
  }
};

DeparturePredictor::DeparturePredictor(PredictorSettings settings)
    : state_(std::make_unique<State>()) {
  state_->settings = std::move(settings);
  auto& holidays = state_->settings.holidays;  // sorted for binary_search in features()
  std::sort(holidays.begin(), holidays.end());
}
DeparturePredictor::~DeparturePredictor() = default;
DeparturePredictor::DeparturePredictor(DeparturePredictor&&) noexcept = default;
DeparturePredictor& DeparturePredictor::operator=(DeparturePredictor&&) noexcept = default;

void DeparturePredictor::observe(const FinishedSession& session) {
  if (session.plugout < session.plugin) return;
  Remembered r;
  r.plugin_s = session.plugin.time_since_epoch().count();
  r.offset_min = static_cast<std::int16_t>(session.utc_offset.count());
  r.duration_s = static_cast<std::int32_t>(
      std::min<std::int64_t>((session.plugout - session.plugin).count(), 366LL * 86400));
  r.energy_wh =
      static_cast<std::int32_t>(std::clamp<std::int64_t>(session.energy_wh, 0, 1'000'000'000));
  auto& s = state_->settings;
  if (!session.user_id.empty())
    State::push(state_->drivers[session.user_id], r, s.sessions_per_driver);
  State::push(state_->sites[session.site_id], r, s.sessions_per_site);
  State::push(state_->global, r, s.sessions_global);
}

std::size_t DeparturePredictor::driver_history_size(const std::string& user_id) const {
  auto it = state_->drivers.find(user_id);
  return it == state_->drivers.end() ? 0 : it->second.size();
}

Prediction DeparturePredictor::predict(const Arrival& arrival) const {
  const auto& st = *state_;
  std::int64_t plugin_s = arrival.plugin.time_since_epoch().count();
  LocalFeatures f =
      features(plugin_s, static_cast<int>(arrival.utc_offset.count()),
               std::llround(st.settings.day_type_shift_h * 3600), st.settings.holidays);
  std::vector<Sample> samples;
  Prediction p;

  double driver_weight = 0;
  if (!arrival.user_id.empty()) {
    if (auto it = st.drivers.find(arrival.user_id); it != st.drivers.end())
      driver_weight = st.collect(it->second, plugin_s, f, 0, samples);
  }
  double prior_weight = st.settings.site_prior_weight;
  bool have_prior = false;
  if (auto it = st.sites.find(arrival.site_id); it != st.sites.end() && !it->second.empty()) {
    have_prior = st.collect(it->second, plugin_s, f, prior_weight, samples) > 0;
    p.basis = driver_weight > 0 ? PredictionBasis::driver : PredictionBasis::site;
  }
  if (!have_prior && !st.global.empty()) {
    have_prior = st.collect(st.global, plugin_s, f, prior_weight, samples) > 0;
    p.basis = driver_weight > 0 ? PredictionBasis::driver : PredictionBasis::global;
  }
  if (driver_weight > 0 && !have_prior) p.basis = PredictionBasis::driver;

  double d10, d50, d90, e10, e50, e90;
  if (samples.empty()) {
    // Nothing learnt yet: a wide residential prior (overnight stay, 10 kWh).
    p.basis = PredictionBasis::prior;
    d10 = 2 * 3600.0, d50 = 11 * 3600.0, d90 = 22 * 3600.0;
    e10 = 2000, e50 = 9000, e90 = 25000;
  } else {
    double total = 0;
    std::vector<std::pair<double, double>> values;
    values.reserve(samples.size());
    for (const auto& s : samples) {
      values.emplace_back(s.duration_s, s.weight);
      total += s.weight;
    }
    std::sort(values.begin(), values.end());
    d10 = weighted_quantile(values, total, 0.1);
    d50 = weighted_quantile(values, total, 0.5);
    d90 = weighted_quantile(values, total, 0.9);
    values.clear();
    for (const auto& s : samples) values.emplace_back(s.energy_wh, s.weight);
    std::sort(values.begin(), values.end());
    e10 = weighted_quantile(values, total, 0.1);
    e50 = weighted_quantile(values, total, 0.5);
    e90 = weighted_quantile(values, total, 0.9);
  }
  auto at = [&](double duration_s) { return arrival.plugin + seconds{std::llround(duration_s)}; };
  p.departure_p10 = at(d10);
  p.departure_p50 = at(d50);
  p.departure_p90 = at(d90);
  p.energy_p10_wh = std::llround(e10);
  p.energy_p50_wh = std::llround(e50);
  p.energy_p90_wh = std::llround(e90);

  if (arrival.declared_departure && *arrival.declared_departure > arrival.plugin) {
    p.declared_departure_plausible = *arrival.declared_departure >= p.departure_p10 &&
                                     *arrival.declared_departure <= p.departure_p90;
    p.departure_p50 = *arrival.declared_departure;
  }
  if (arrival.declared_energy_wh && *arrival.declared_energy_wh >= 0) {
    p.declared_energy_plausible = *arrival.declared_energy_wh >= p.energy_p10_wh &&
                                  *arrival.declared_energy_wh <= p.energy_p90_wh;
    p.energy_p50_wh = *arrival.declared_energy_wh;
  }
  return p;
}

void DeparturePredictor::save(std::ostream& out) const {
  auto write = [&](char kind, const std::string& key, const std::deque<Remembered>& pool) {
    for (const auto& r : pool)
      out << kind << '\t' << key << '\t' << r.plugin_s << '\t' << r.offset_min << '\t'
          << r.duration_s << '\t' << r.energy_wh << '\n';
  };
  out << "chargegrid-predictor-state\t1\n";
  for (const auto& [user, pool] : state_->drivers) write('D', user, pool);
  for (const auto& [site, pool] : state_->sites) write('S', site, pool);
  write('G', "", state_->global);
}

bool DeparturePredictor::load(std::istream& in) {
  State fresh;
  fresh.settings = state_->settings;
  std::string line;
  if (!std::getline(in, line) || line != "chargegrid-predictor-state\t1") {
    *state_ = std::move(fresh);
    return false;
  }
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::string field;
    std::istringstream fields(line);
    while (std::getline(fields, field, '\t')) f.push_back(field);
    if (line.back() == '\t') f.emplace_back();
    Remembered r;
    bool ok = f.size() == 6 && f[0].size() == 1;
    try {
      if (ok) {
        std::size_t used = 0;
        r.plugin_s = std::stoll(f[2], &used);
        ok = ok && used == f[2].size();
        long offset = std::stol(f[3], &used);
        ok = ok && used == f[3].size() && offset >= -18 * 60 && offset <= 18 * 60;
        r.offset_min = static_cast<std::int16_t>(offset);
        long long duration = std::stoll(f[4], &used);
        ok = ok && used == f[4].size() && duration >= 0 && duration <= 366LL * 86400;
        r.duration_s = static_cast<std::int32_t>(duration);
        long long energy = std::stoll(f[5], &used);
        ok = ok && used == f[5].size() && energy >= 0 && energy <= 1'000'000'000;
        r.energy_wh = static_cast<std::int32_t>(energy);
      }
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok || (f[0] != "D" && f[0] != "S" && f[0] != "G")) {
      *state_ = State{};
      state_->settings = fresh.settings;
      return false;
    }
    const auto& s = fresh.settings;
    if (f[0] == "D") State::push(fresh.drivers[f[1]], r, s.sessions_per_driver);
    if (f[0] == "S") State::push(fresh.sites[f[1]], r, s.sessions_per_site);
    if (f[0] == "G") State::push(fresh.global, r, s.sessions_global);
  }
  *state_ = std::move(fresh);
  return true;
}

}  // namespace chargegrid::scheduler
