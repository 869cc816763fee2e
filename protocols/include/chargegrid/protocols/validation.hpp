#pragma once
// Schema validation of OCPP payloads. The validators are generated from the
// OCA JSON schemas at build time; no schema file is read at run time.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/protocols/error_code.hpp"
#include "chargegrid/protocols/version.hpp"

namespace chargegrid::protocols {

enum class Direction { Request, Response };

struct ValidationError {
  RpcErrorCode code;    // TypeConstraintViolation, OccurrenceConstraintViolation,
                        // PropertyConstraintViolation, FormatViolation or NotImplemented
  std::string path;     // JSON Pointer (RFC 6901) to the first offending value
  std::string message;  // for people: what is wrong there
};

bool is_known_action(OcppVersion version, std::string_view action);

// Every action the version defines, sorted by name.
std::vector<std::string_view> actions(OcppVersion version);

// nullopt when the payload is valid. An unknown action, or a response to an
// action that has none (2.1 SEND-only messages), gives NotImplemented.
std::optional<ValidationError> validate(OcppVersion version, std::string_view action,
                                        Direction direction, const nlohmann::json& payload);

// The first string or member name in `payload` that holds a NUL character (U+0000), as a
// PropertyConstraintViolation at its path; nullopt if there is none. The schemas allow
// NUL, but no text column can store it: refusing it up front makes the error permanent
// and clear instead of a database failure.
std::optional<ValidationError> find_nul_character(const nlohmann::json& payload);

}  // namespace chargegrid::protocols
