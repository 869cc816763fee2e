#include "chargegrid/sim/meter.hpp"

#include <algorithm>
#include <cmath>

namespace chargegrid::sim {

namespace {
// Deterministic xorshift so each simulated station reads the same values on every run.
double next_unit(std::uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53);
}

// V2G vehicles discharge in the third quarter of every hour of plug-in time.
constexpr double kV2gCycleSeconds = 3600.0;
}  // namespace

MeterModel::MeterModel(MeterConfig config)
    : config_(config),
      import_wh_(std::max(0.0, config.initial_import_register_wh)),
      export_wh_(std::max(0.0, config.initial_export_register_wh)),
      soc_(std::clamp(config.initial_soc_percent, 0.0, 100.0)),
      voltage_v_(config.nominal_voltage_v),
      rng_state_(config.seed == 0 ? 0x9e3779b97f4a7c15ULL : config.seed) {
  config_.phases = config_.phases == 1 ? 1 : 3;
  update_power();
}

void MeterModel::set_power_limit_w(double limit_w) {
  power_limit_w_ = limit_w;
  update_power();
}

void MeterModel::set_setpoint_w(std::optional<double> setpoint_w) {
  setpoint_w_ = setpoint_w;
  update_power();
}

double MeterModel::max_charge_power_w() const {
  const double ev = config_.ev_max_power_w > 0 ? config_.ev_max_power_w : config_.max_power_w;
  return std::max(0.0, std::min(config_.max_power_w, ev));
}

double MeterModel::energy_needed_wh() const {
  return std::max(0.0, (config_.target_soc_percent - soc_) / 100.0 * config_.battery_capacity_wh);
}

void MeterModel::update_power() {
  // A central setpoint below zero: discharge as asked, as far as the vehicle can.
  if (setpoint_w_ && *setpoint_w_ < 0) {
    const bool can = can_discharge() && soc_ > config_.min_soc_percent;
    power_w_ = can ? -std::min(std::max(0.0, config_.discharge_power_w), -*setpoint_w_) : 0.0;
    return;
  }
  const double cycle_pos = std::fmod(elapsed_s_, kV2gCycleSeconds) / kV2gCycleSeconds;
  const bool discharge_window = config_.v2g && !setpoint_w_ && cycle_pos >= 0.5 && cycle_pos < 0.75;
  if (discharge_window && soc_ > config_.min_soc_percent) {
    power_w_ = -std::max(0.0, config_.discharge_power_w);
    return;
  }
  // Constant power up to 80 % SoC, then a linear taper to 10 % of it at full.
  double power = max_charge_power_w();
  if (soc_ >= 100.0 || full()) {
    power = 0.0;
  } else if (soc_ > 80.0) {
    power *= 1.0 - 0.9 * (soc_ - 80.0) / 20.0;
  }
  if (power_limit_w_ >= 0.0) {
    // Below the vehicle's minimum current it does not charge at all.
    const double min_w = config_.ev_min_current_a * config_.nominal_voltage_v * config_.phases;
    power = power_limit_w_ + 1e-6 < min_w ? 0.0 : std::min(power, power_limit_w_);
  }
  if (setpoint_w_) power = std::min(power, *setpoint_w_);
  power_w_ = std::max(0.0, power);
}

void MeterModel::advance(double seconds) {
  if (!(seconds > 0.0)) return;  // also rejects NaN
  // Integrate in steps of at most a minute so the taper and the V2G window are followed.
  while (seconds > 0.0) {
    const double step = std::min(seconds, 60.0);
    update_power();
    const double energy_wh = std::abs(power_w_) * step / 3600.0;
    const double capacity = std::max(1.0, config_.battery_capacity_wh);
    if (power_w_ >= 0) {
      import_wh_ += energy_wh;
      soc_ = std::min(100.0, soc_ + 100.0 * energy_wh / capacity);
    } else {
      export_wh_ += energy_wh;
      soc_ = std::max(0.0, soc_ - 100.0 * energy_wh / capacity);
    }
    elapsed_s_ += step;
    seconds -= step;
  }
  update_power();
  voltage_v_ = config_.nominal_voltage_v * (0.98 + 0.04 * next_unit(rng_state_));
}

std::int64_t MeterModel::import_register_whole_wh() const {
  return static_cast<std::int64_t>(std::floor(import_wh_));
}

std::vector<SampledValue> MeterModel::sample() const {
  const auto round1 = [](double v) { return std::round(v * 10.0) / 10.0; };
  std::vector<SampledValue> values;
  const double step = config_.register_resolution_wh > 0 ? config_.register_resolution_wh : 1.0;
  const auto reading = [step](double wh) { return std::floor(wh / step) * step; };
  values.push_back({"Energy.Active.Import.Register", "", "Wh", "Outlet", reading(import_wh_)});
  if (can_discharge()) {
    values.push_back({"Energy.Active.Export.Register", "", "Wh", "Outlet", reading(export_wh_)});
  }
  if (power_w_ < 0) {
    values.push_back({"Power.Active.Export", "", "W", "Outlet", std::round(-power_w_)});
  } else {
    values.push_back({"Power.Active.Import", "", "W", "Outlet", std::round(power_w_)});
  }
  const double current_a = std::abs(power_w_) / (voltage_v_ * config_.phases);
  static const char* const kPhases[] = {"L1", "L2", "L3"};
  // Current.Import while charging; a discharging meter reports Current.Export.
  const char* current_measurand = power_w_ < 0 ? "Current.Export" : "Current.Import";
  for (int p = 0; p < config_.phases; ++p) {
    values.push_back({current_measurand, kPhases[p], "A", "Outlet", round1(current_a)});
  }
  values.push_back({"Voltage", "L1-N", "V", "Outlet", round1(voltage_v_)});
  values.push_back({"SoC", "", "Percent", "EV", std::round(soc_)});
  return values;
}

}  // namespace chargegrid::sim
