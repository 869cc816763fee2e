#pragma once
// Building blocks the generated typed readers call (src/<version>/readers.cpp). Private to
// the library. Each accepts exactly what its validator counterpart (validation_support.hpp)
// accepts and converts as from_json does; anything else is `false`, and the caller takes the
// DOM path, whose validator names the error.

#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "chargegrid/protocols/typed_call.hpp"
#include "validation_support.hpp"

namespace chargegrid::protocols::detail {

inline bool read_string(simdjson::dom::element value, std::string& out, std::size_t max_length,
                        StringFormat format) {
  std::string_view text;
  if (value.get_string().get(text)) return false;
  if (max_length != 0 && utf8_length(text) > max_length) return false;
  if (format == StringFormat::DateTime && !is_rfc3339_date_time(text)) return false;
  if (format == StringFormat::Uri && !is_absolute_uri(text)) return false;
  out.assign(text);
  return true;
}

// 32-bit signed, as check_integer: a whole number written as 5.0 counts, 5.5 does not.
inline bool read_integer(simdjson::dom::element value, std::int64_t& out,
                         const NumberLimits& limits) {
  constexpr std::int64_t kMin = std::numeric_limits<std::int32_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  std::int64_t whole = 0;
  if (value.is_int64()) {
    whole = value.get_int64().value_unsafe();
  } else if (value.is_double()) {
    const double number = value.get_double().value_unsafe();
    if (!std::isfinite(number) || std::floor(number) != number || number < double(kMin) ||
        number > double(kMax))
      return false;
    whole = static_cast<std::int64_t>(number);
  } else {
    return false;  // not a number, or an unsigned beyond the signed range
  }
  if (whole < kMin || whole > kMax) return false;
  if (breached_limit(static_cast<double>(whole), limits) != LimitBreach::None) return false;
  out = whole;
  return true;
}

inline bool read_number(simdjson::dom::element value, double& out, const NumberLimits& limits) {
  double number = 0;
  if (value.is_int64())
    number = static_cast<double>(value.get_int64().value_unsafe());
  else if (value.is_uint64())
    number = static_cast<double>(value.get_uint64().value_unsafe());
  else if (value.is_double())
    number = value.get_double().value_unsafe();
  else
    return false;
  if (!std::isfinite(number) || breached_limit(number, limits) != LimitBreach::None) return false;
  out = number;
  return true;
}

inline bool read_boolean(simdjson::dom::element value, bool& out) {
  return !value.get_bool().get(out);
}

inline bool items_within(std::size_t count, std::size_t min_items,
                         std::optional<std::size_t> max_items) {
  return count >= min_items && (!max_items || count <= *max_items);
}

}  // namespace chargegrid::protocols::detail

namespace chargegrid::protocols {
// Each version's generated dispatch: the payload of `action` into `out`, or false.
namespace v16 {
bool read_typed_request(std::string_view action, simdjson::dom::element payload, TypedRequest& out);
}
namespace v201 {
bool read_typed_request(std::string_view action, simdjson::dom::element payload, TypedRequest& out);
}
namespace v21 {
bool read_typed_request(std::string_view action, simdjson::dom::element payload, TypedRequest& out);
}
}  // namespace chargegrid::protocols
