#include "units.hpp"

#include <array>
#include <cmath>
#include <utility>

namespace chargegrid::server {

std::string_view default_unit(std::string_view measurand) {
  if (measurand.empty() || measurand.starts_with("Energy.Active")) return "Wh";
  if (measurand.starts_with("Energy.Reactive")) return "varh";
  if (measurand.starts_with("Energy.Apparent")) return "VAh";
  if (measurand.starts_with("Power.Active") || measurand.starts_with("Power.Offered")) return "W";
  if (measurand.starts_with("Power.Reactive")) return "var";
  if (measurand.starts_with("Power.Apparent")) return "VA";
  if (measurand == "Power.Factor") return "";
  if (measurand.starts_with("Current")) return "A";
  if (measurand.starts_with("Voltage")) return "V";
  if (measurand == "SoC") return "Percent";
  if (measurand == "Frequency") return "Hz";
  if (measurand == "Temperature") return "Celsius";
  if (measurand == "RPM") return "RPM";
  return "Wh";  // the OCPP default unit
}

std::optional<NormalisedValue> normalise(std::string_view measurand, std::string_view unit,
                                         double value, int multiplier) {
  if (unit.empty()) unit = default_unit(measurand);
  value *= std::pow(10.0, multiplier);
  if (unit.empty()) return NormalisedValue{value, ""};  // dimensionless (Power.Factor)
  // unit on the wire → (base unit, factor)
  static constexpr std::array<std::pair<std::string_view, std::pair<std::string_view, double>>, 23>
      table{{
          {"Wh", {"Wh", 1}},
          {"kWh", {"Wh", 1000}},
          {"varh", {"varh", 1}},
          {"kvarh", {"varh", 1000}},
          {"VAh", {"VAh", 1}},
          {"kVAh", {"VAh", 1000}},
          {"W", {"W", 1}},
          {"kW", {"W", 1000}},
          {"var", {"var", 1}},
          {"kvar", {"var", 1000}},
          {"VA", {"VA", 1}},
          {"kVA", {"VA", 1000}},
          {"A", {"A", 1}},
          {"V", {"V", 1}},
          {"Percent", {"%", 1}},
          {"%", {"%", 1}},
          {"Celsius", {"Celsius", 1}},
          {"Celcius", {"Celsius", 1}},  // misspelt in OCPP 1.6's schema, sent as such
          {"Fahrenheit", {"Celsius", 0}},
          {"K", {"K", 1}},
          {"Hz", {"Hz", 1}},
          {"RPM", {"RPM", 1}},
          {"ASU", {"ASU", 1}},
      }};
  if (unit == "Fahrenheit") return NormalisedValue{(value - 32.0) * 5.0 / 9.0, "Celsius"};
  for (const auto& [wire, target] : table)
    if (wire == unit) return NormalisedValue{value * target.second, std::string(target.first)};
  return std::nullopt;
}

}  // namespace chargegrid::server
