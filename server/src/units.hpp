#pragma once
// Meter readings arrive in whatever unit and multiplier a station uses (kWh,
// Wh with multiplier 3, kW, ...). They are stored in one base unit per
// quantity: Wh, W, A, V, %, varh, var, VA, Hz, Celsius, K.

#include <optional>
#include <string>
#include <string_view>

namespace chargegrid::server {

struct NormalisedValue {
  double value;
  std::string unit;
};

// `unit` may be empty (the station sent none): the measurand's usual unit is
// assumed. `multiplier` is the 2.0.1 power of ten (0 for 1.6). nullopt when
// the unit is unknown.
std::optional<NormalisedValue> normalise(std::string_view measurand, std::string_view unit,
                                         double value, int multiplier = 0);

// The unit a measurand is expressed in when the station names none.
std::string_view default_unit(std::string_view measurand);

}  // namespace chargegrid::server
