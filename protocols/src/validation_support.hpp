#pragma once
// Building blocks the generated validators call. Private to the library.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chargegrid/protocols/validation.hpp"

namespace chargegrid::protocols::detail {

// Tracks the JSON Pointer of the value being checked and keeps the first error.
class ValidationCursor {
 public:
  const std::string& path() const { return path_; }
  std::size_t path_length() const { return path_.size(); }
  void append_key(std::string_view key);
  void append_index(std::size_t index);
  void truncate(std::size_t length) { path_.resize(length); }

  // Records an error at the current path; always returns false so callers can
  // `return cursor.fail(...)`.
  bool fail(RpcErrorCode code, std::string message);
  // Records an error at the current path extended by `key`.
  bool fail_at(std::string_view key, RpcErrorCode code, std::string message);

  std::optional<ValidationError> take_error() { return std::move(error_); }

 private:
  std::string path_;
  std::optional<ValidationError> error_;
};

// Appends one path segment for its lifetime.
class PathSegment {
 public:
  PathSegment(ValidationCursor& cursor, std::string_view key)
      : cursor_(cursor), saved_length_(cursor.path_length()) {
    cursor.append_key(key);
  }
  PathSegment(ValidationCursor& cursor, std::size_t index)
      : cursor_(cursor), saved_length_(cursor.path_length()) {
    cursor.append_index(index);
  }
  ~PathSegment() { cursor_.truncate(saved_length_); }
  PathSegment(const PathSegment&) = delete;
  PathSegment& operator=(const PathSegment&) = delete;

 private:
  ValidationCursor& cursor_;
  std::size_t saved_length_;
};

enum class StringFormat { None, DateTime, Uri };

struct NumberLimits {
  std::optional<double> minimum;
  std::optional<double> maximum;
  std::optional<double> multiple_of;
};

// Which of a number's schema limits a value breaks, if any (the validators and the typed
// readers share it).
enum class LimitBreach { None, BelowMinimum, AboveMaximum, NotMultiple };
LimitBreach breached_limit(double value, const NumberLimits& limits);

using Validator = bool (*)(const nlohmann::json&, ValidationCursor&);

// One action of a version: its name and the validators of its two messages
// (response is null for 2.1 SEND-only actions).
struct ActionEntry {
  std::string_view name;
  Validator request;
  Validator response;
};

bool check_object(const nlohmann::json& value, ValidationCursor& cursor);
bool check_string(const nlohmann::json& value, ValidationCursor& cursor, std::size_t max_length,
                  StringFormat format);
bool check_integer(const nlohmann::json& value, ValidationCursor& cursor,
                   const NumberLimits& limits);
bool check_number(const nlohmann::json& value, ValidationCursor& cursor,
                  const NumberLimits& limits);
bool check_boolean(const nlohmann::json& value, ValidationCursor& cursor);
bool check_array(const nlohmann::json& value, ValidationCursor& cursor, std::size_t min_items,
                 std::optional<std::size_t> max_items);
bool fail_missing(ValidationCursor& cursor, std::string_view key);
bool fail_unexpected(ValidationCursor& cursor, std::string_view key);
bool fail_enum(ValidationCursor& cursor, const nlohmann::json& value);

// RFC 3339 date-time (the JSON Schema "date-time" format).
bool is_rfc3339_date_time(std::string_view text);
// An absolute URI per RFC 3986: scheme ":" followed by URI characters only.
bool is_absolute_uri(std::string_view text);
// Number of Unicode code points in a UTF-8 string (JSON Schema counts these).
std::size_t utf8_length(std::string_view text);

[[noreturn]] void throw_unknown_enum_value(std::string_view type, std::string_view value);

}  // namespace chargegrid::protocols::detail
