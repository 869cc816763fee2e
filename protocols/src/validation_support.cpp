#include "validation_support.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "chargegrid/base/time.hpp"

namespace chargegrid::protocols::detail {
namespace {

// Input values quoted in messages are cut so a hostile payload cannot blow up logs.
std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMaxQuoted = 64;
  std::string out = "'";
  if (text.size() <= kMaxQuoted) {
    out.append(text);
  } else {
    // Cut on a UTF-8 character boundary.
    std::size_t cut = kMaxQuoted;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    out.append(text.substr(0, cut)).append("...");
  }
  out += "'";
  return out;
}

std::string format_limit(double limit) {
  if (std::floor(limit) == limit && std::abs(limit) < 1e15) {
    return std::to_string(static_cast<long long>(limit));
  }
  nlohmann::json j = limit;
  return j.dump();
}

bool check_limits(double value, ValidationCursor& cursor, const NumberLimits& limits) {
  switch (breached_limit(value, limits)) {
    case LimitBreach::None:
      return true;
    case LimitBreach::BelowMinimum:
      return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                         "value is below the minimum of " + format_limit(*limits.minimum));
    case LimitBreach::AboveMaximum:
      return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                         "value is above the maximum of " + format_limit(*limits.maximum));
    case LimitBreach::NotMultiple:
      return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                         "value is not a multiple of " + format_limit(*limits.multiple_of));
  }
  return true;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

LimitBreach breached_limit(double value, const NumberLimits& limits) {
  if (limits.minimum && value < *limits.minimum) return LimitBreach::BelowMinimum;
  if (limits.maximum && value > *limits.maximum) return LimitBreach::AboveMaximum;
  if (limits.multiple_of) {
    const double quotient = value / *limits.multiple_of;
    // Decimal steps such as 0.1 are not exact in binary: allow rounding noise.
    const double tolerance = 1e-9 * std::max(1.0, std::abs(quotient));
    if (!std::isfinite(quotient) || std::abs(quotient - std::round(quotient)) > tolerance)
      return LimitBreach::NotMultiple;
  }
  return LimitBreach::None;
}

void ValidationCursor::append_key(std::string_view key) {
  path_ += '/';
  for (char c : key) {
    if (c == '~') {
      path_ += "~0";
    } else if (c == '/') {
      path_ += "~1";
    } else {
      path_ += c;
    }
  }
}

void ValidationCursor::append_index(std::size_t index) {
  path_ += '/';
  path_ += std::to_string(index);
}

bool ValidationCursor::fail(RpcErrorCode code, std::string message) {
  if (!error_) error_ = ValidationError{code, path_, std::move(message)};
  return false;
}

bool ValidationCursor::fail_at(std::string_view key, RpcErrorCode code, std::string message) {
  PathSegment segment(*this, key);
  return fail(code, std::move(message));
}

bool check_object(const nlohmann::json& value, ValidationCursor& cursor) {
  if (value.is_object()) return true;
  return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                     std::string("expected an object, got ") + value.type_name());
}

bool check_string(const nlohmann::json& value, ValidationCursor& cursor, std::size_t max_length,
                  StringFormat format) {
  if (!value.is_string()) {
    return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                       std::string("expected a string, got ") + value.type_name());
  }
  const auto& text = value.get_ref<const std::string&>();
  if (max_length != 0 && utf8_length(text) > max_length) {
    return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                       "string is longer than " + std::to_string(max_length) + " characters");
  }
  switch (format) {
    case StringFormat::None:
      break;
    case StringFormat::DateTime:
      if (!is_rfc3339_date_time(text)) {
        return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                           quote_for_message(text) + " is not an RFC 3339 date-time");
      }
      break;
    case StringFormat::Uri:
      if (!is_absolute_uri(text)) {
        return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                           quote_for_message(text) + " is not an absolute URI");
      }
      break;
  }
  return true;
}

bool check_integer(const nlohmann::json& value, ValidationCursor& cursor,
                   const NumberLimits& limits) {
  // OCPP integers are 32-bit signed (2.0.1 part 2, "Primitive Datatypes"), and that is
  // what ids, EVSE numbers and sequence numbers are stored as: a wider value would wrap.
  constexpr double kMin = std::numeric_limits<std::int32_t>::min();
  constexpr double kMax = std::numeric_limits<std::int32_t>::max();
  double as_double = 0;
  if (value.is_number_integer()) {
    if (value.is_number_unsigned()) {
      const auto unsigned_value = value.get<std::uint64_t>();
      as_double = unsigned_value > static_cast<std::uint64_t>(kMax)
                      ? kMax + 1
                      : static_cast<double>(unsigned_value);
    } else {
      as_double = static_cast<double>(value.get<std::int64_t>());
    }
  } else if (value.is_number_float()) {
    // JSON Schema counts 5.0 as an integer; fractional values are not.
    as_double = value.get<double>();
    if (!std::isfinite(as_double) || std::floor(as_double) != as_double) {
      return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                         "expected an integer, got a fractional number");
    }
  } else {
    return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                       std::string("expected an integer, got ") + value.type_name());
  }
  if (as_double < kMin || as_double > kMax) {
    return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                       "integer is outside the 32-bit range (-2147483648 to 2147483647)");
  }
  return check_limits(as_double, cursor, limits);
}

bool check_number(const nlohmann::json& value, ValidationCursor& cursor,
                  const NumberLimits& limits) {
  if (!value.is_number()) {
    return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                       std::string("expected a number, got ") + value.type_name());
  }
  const double as_double = value.get<double>();
  if (!std::isfinite(as_double)) {
    return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                       "number is outside the double range");
  }
  return check_limits(as_double, cursor, limits);
}

bool check_boolean(const nlohmann::json& value, ValidationCursor& cursor) {
  if (value.is_boolean()) return true;
  return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                     std::string("expected a boolean, got ") + value.type_name());
}

bool check_array(const nlohmann::json& value, ValidationCursor& cursor, std::size_t min_items,
                 std::optional<std::size_t> max_items) {
  if (!value.is_array()) {
    return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                       std::string("expected an array, got ") + value.type_name());
  }
  if (value.size() < min_items) {
    return cursor.fail(RpcErrorCode::OccurrenceConstraintViolation,
                       "array has " + std::to_string(value.size()) + " items, at least " +
                           std::to_string(min_items) + " required");
  }
  if (max_items && value.size() > *max_items) {
    return cursor.fail(RpcErrorCode::OccurrenceConstraintViolation,
                       "array has " + std::to_string(value.size()) + " items, at most " +
                           std::to_string(*max_items) + " allowed");
  }
  return true;
}

bool fail_missing(ValidationCursor& cursor, std::string_view key) {
  return cursor.fail_at(key, RpcErrorCode::OccurrenceConstraintViolation,
                        "required property " + quote_for_message(key) + " is missing");
}

bool fail_unexpected(ValidationCursor& cursor, std::string_view key) {
  return cursor.fail_at(key, RpcErrorCode::FormatViolation,
                        "property " + quote_for_message(key) + " is not allowed here");
}

bool fail_enum(ValidationCursor& cursor, const nlohmann::json& value) {
  if (!value.is_string()) {
    return cursor.fail(RpcErrorCode::TypeConstraintViolation,
                       std::string("expected a string, got ") + value.type_name());
  }
  return cursor.fail(
      RpcErrorCode::PropertyConstraintViolation,
      quote_for_message(value.get_ref<const std::string&>()) + " is not one of the allowed values");
}

bool is_rfc3339_date_time(std::string_view text) {
  return base::is_rfc3339(text);
}

bool is_absolute_uri(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(text[0])) return false;
  for (std::size_t i = 1; i < colon; ++i) {
    const char c = text[i];
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  constexpr std::string_view kAllowed = "-._~:/?#[]@!$&'()*+,;=%";
  for (std::size_t i = colon + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (!is_alpha(c) && !is_digit(c) && kAllowed.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

void throw_unknown_enum_value(std::string_view type, std::string_view value) {
  throw std::invalid_argument(std::string(type) + ": unknown value " + quote_for_message(value));
}

}  // namespace chargegrid::protocols::detail
