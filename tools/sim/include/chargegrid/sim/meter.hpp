#pragma once
// A vehicle-plus-meter model for simulated stations: the energy registers a real
// station's meter would report while a vehicle charges (and, with V2G, discharges).

#include <cstdint>
#include <string>
#include <vector>

namespace chargegrid::sim {

struct MeterConfig {
  int phases = 3;                    // 1 or 3
  double nominal_voltage_v = 230.0;  // phase-to-neutral
  double max_power_w = 11000.0;      // charging limit of station and vehicle
  double battery_capacity_wh = 60000.0;
  double initial_soc_percent = 30.0;
  bool v2g = false;  // vehicle discharges part of the time
  double discharge_power_w = 7000.0;
  double initial_import_register_wh = 0.0;  // meters do not start at zero in the field
  double initial_export_register_wh = 0.0;
  std::uint64_t seed = 1;  // jitter on voltage, deterministic per station
};

// One measurand reading as a meter reports it.
struct SampledValue {
  std::string measurand;  // OCPP measurand name, e.g. "Energy.Active.Import.Register"
  std::string phase;      // "" (none), "L1", "L2", "L3", "L1-N", ...
  std::string unit;       // "Wh", "W", "A", "V", "Percent"
  std::string location;   // "Outlet" or "EV"
  double value = 0.0;
};

class MeterModel {
 public:
  explicit MeterModel(MeterConfig config);

  // Advances the model by `seconds` of simulated time at the current power.
  void advance(double seconds);
  // Sets a charging-power limit (from a charging profile); negative means none.
  void set_power_limit_w(double limit_w) { power_limit_w_ = limit_w; }

  double import_register_wh() const { return import_wh_; }
  double export_register_wh() const { return export_wh_; }
  double soc_percent() const { return soc_; }
  // Signed power at the meter: positive while charging, negative while discharging.
  double power_w() const { return power_w_; }
  bool discharging() const { return power_w_ < 0; }
  // Import register in whole Wh, as OCPP meterStart/meterStop carry it.
  std::int64_t import_register_whole_wh() const;

  // The values a station reports in one MeterValues sample: import register,
  // import (or export) power, current per phase, voltage, SoC, and the export
  // register when V2G is on — between 4 and 8 values.
  std::vector<SampledValue> sample() const;

  const MeterConfig& config() const { return config_; }

 private:
  void update_power();

  MeterConfig config_;
  double import_wh_;
  double export_wh_;
  double soc_;
  double power_w_ = 0.0;
  double power_limit_w_ = -1.0;
  double elapsed_s_ = 0.0;
  double voltage_v_;
  std::uint64_t rng_state_;
};

}  // namespace chargegrid::sim
