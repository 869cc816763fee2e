#pragma once
// The wire text of a generated field: enums through their generated to_string (found by
// argument-dependent lookup in the version's namespace), strings as they are.

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace chargegrid::server::ocpp::adapters {

// An enumeration's wire name as a view of its static string, without a copy.
template <class Enum>
requires std::is_enum_v<Enum> std::string_view name(const Enum& value) {
  return to_string(value);
}

template <class Enum>
requires std::is_enum_v<Enum> std::string_view name_or(const std::optional<Enum>& value,
                                                       std::string_view fallback) {
  return value ? name(*value) : fallback;
}

inline std::string text(const std::string& value) {
  return value;
}

template <class Enum>
requires std::is_enum_v<Enum> std::string text(const Enum& value) {
  return std::string(name(value));
}

template <class T>
std::optional<std::string> optional_text(const std::optional<T>& value) {
  if (!value) return std::nullopt;
  return text(*value);
}

template <class T>
std::string text_or(const std::optional<T>& value, std::string fallback) {
  return value ? text(*value) : std::move(fallback);
}

template <class T>
std::optional<double> optional_number(const std::optional<T>& value) {
  if (!value) return std::nullopt;
  return static_cast<double>(*value);
}

}  // namespace chargegrid::server::ocpp::adapters
