#include "chargegrid/protocols/validation.hpp"

#include <algorithm>

#include "v16/validators.hpp"
#include "v201/validators.hpp"
#include "v21/validators.hpp"
#include "validation_support.hpp"

namespace chargegrid::protocols {
namespace {

std::span<const detail::ActionEntry> table_of(OcppVersion version) {
  switch (version) {
    case OcppVersion::v16:
      return v16::detail::action_table();
    case OcppVersion::v201:
      return v201::detail::action_table();
    case OcppVersion::v21:
      return v21::detail::action_table();
  }
  return {};
}

const detail::ActionEntry* find_action(OcppVersion version, std::string_view action) {
  const auto table = table_of(version);
  const auto it = std::lower_bound(
      table.begin(), table.end(), action,
      [](const detail::ActionEntry& entry, std::string_view name) { return entry.name < name; });
  if (it == table.end() || it->name != action) return nullptr;
  return &*it;
}

bool has_nul(const std::string& text) {
  return text.find('\0') != std::string::npos;
}

// Depth is bounded by the parser's nesting limit (kMaxJsonDepth).
bool free_of_nul(const nlohmann::json& value, detail::ValidationCursor& cursor) {
  if (value.is_string()) {
    if (!has_nul(value.get_ref<const std::string&>())) return true;
    return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                       "text must not contain a NUL character (\\u0000)");
  }
  if (value.is_object()) {
    for (const auto& [name, member] : value.items()) {
      if (has_nul(name)) {
        return cursor.fail(RpcErrorCode::PropertyConstraintViolation,
                           "member names must not contain a NUL character (\\u0000)");
      }
      const detail::PathSegment segment(cursor, name);
      if (!free_of_nul(member, cursor)) return false;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      const detail::PathSegment segment(cursor, i);
      if (!free_of_nul(value[i], cursor)) return false;
    }
  }
  return true;
}

}  // namespace

bool is_known_action(OcppVersion version, std::string_view action) {
  return find_action(version, action) != nullptr;
}

std::vector<std::string_view> actions(OcppVersion version) {
  std::vector<std::string_view> names;
  for (const auto& entry : table_of(version)) names.push_back(entry.name);
  return names;
}

std::optional<ValidationError> validate(OcppVersion version, std::string_view action,
                                        Direction direction, const nlohmann::json& payload) {
  const detail::ActionEntry* entry = find_action(version, action);
  if (entry == nullptr) {
    return ValidationError{RpcErrorCode::NotImplemented, "",
                           "action '" + std::string(action.substr(0, 64)) + "' is not known in " +
                               std::string(subprotocol(version))};
  }
  const detail::Validator validator =
      direction == Direction::Request ? entry->request : entry->response;
  if (validator == nullptr) {
    return ValidationError{RpcErrorCode::NotImplemented, "",
                           "action '" + std::string(action) + "' has no response message"};
  }
  if (!payload.is_object()) {
    return ValidationError{
        RpcErrorCode::FormatViolation, "",
        std::string("payload must be a JSON object, got ") + payload.type_name()};
  }
  detail::ValidationCursor cursor;
  if (validator(payload, cursor)) return std::nullopt;
  auto error = cursor.take_error();
  if (!error) {
    error = ValidationError{RpcErrorCode::InternalError, "", "validation failed without a reason"};
  }
  return error;
}

std::optional<ValidationError> find_nul_character(const nlohmann::json& payload) {
  detail::ValidationCursor cursor;
  if (free_of_nul(payload, cursor)) return std::nullopt;
  return cursor.take_error();
}

}  // namespace chargegrid::protocols
