#pragma once
// A vehicle-plus-meter model for simulated stations: the energy registers a real
// station's meter would report while a vehicle charges (and, with V2G, discharges).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chargegrid::sim {

struct MeterConfig {
  int phases = 3;                    // 1 or 3
  double nominal_voltage_v = 230.0;  // phase-to-neutral
  double max_power_w = 11000.0;      // charging limit of the EVSE (and, by default, the vehicle)
  double ev_max_power_w = 0.0;       // the vehicle's own charging limit; 0: as the EVSE's
  // The lowest current per phase the vehicle charges at (IEC 61851-1: 6 A): a limit that
  // allows less pauses it. 0: it follows any limit.
  double ev_min_current_a = 6.0;
  double battery_capacity_wh = 60000.0;
  double initial_soc_percent = 30.0;
  double target_soc_percent = 100.0;  // the vehicle stops charging there
  bool v2g = false;  // vehicle discharges part of the time on its own (an hourly window)
  // The vehicle can discharge when a charging profile sets a setpoint below zero (2.1);
  // a v2g vehicle always can.
  bool bidirectional = false;
  double discharge_power_w = 7000.0;        // the vehicle's discharging limit
  double min_soc_percent = 20.0;            // it never discharges below this
  double initial_import_register_wh = 0.0;  // meters do not start at zero in the field
  double initial_export_register_wh = 0.0;
  // The registers' step in meter values: whole Wh as most meters report; finer where a test
  // measures a few seconds' energy from them.
  double register_resolution_wh = 1.0;
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
  // Sets a charging-power limit (from a charging profile); negative means none. Takes
  // effect at once (the power reported next follows it).
  void set_power_limit_w(double limit_w);
  // A setpoint (OCPP 2.1 CentralSetpoint): the power the EVSE asks the vehicle to run at,
  // below zero to discharge; within the vehicle's and the limit's bounds. nullopt: none.
  void set_setpoint_w(std::optional<double> setpoint_w);

  // What the vehicle can draw now: the lower of its own and the EVSE's maximum.
  double max_charge_power_w() const;
  bool can_discharge() const { return config_.v2g || config_.bidirectional; }
  // Energy still wanted to reach the target state of charge.
  double energy_needed_wh() const;
  bool full() const { return soc_ >= config_.target_soc_percent; }

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
  // register when the vehicle can discharge — between 4 and 8 values.
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
  std::optional<double> setpoint_w_;
  double elapsed_s_ = 0.0;
  double voltage_v_;
  std::uint64_t rng_state_;
};

}  // namespace chargegrid::sim
