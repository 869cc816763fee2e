#pragma once
// OCPP-J RPC framing: the JSON arrays carried in WebSocket text frames.
//   [2, id, action, payload]                      CALL
//   [3, id, payload]                              CALLRESULT
//   [4, id, errorCode, description, details]      CALLERROR
//   [5, id, errorCode, description, details]      CALLRESULTERROR (2.1 only)
//   [6, id, action, payload]                      SEND (2.1 only)

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "chargegrid/protocols/error_code.hpp"
#include "chargegrid/protocols/version.hpp"

namespace chargegrid::protocols {

// Longest message id OCPP-J allows.
inline constexpr std::size_t kMaxMessageIdLength = 36;
// Deepest JSON nesting parse_rpc accepts; OCPP payloads stay far below it.
inline constexpr int kMaxJsonDepth = 64;

struct Call {
  std::string message_id;
  std::string action;
  nlohmann::json payload;
};
struct CallResult {
  std::string message_id;
  nlohmann::json payload;
};
struct CallError {
  std::string message_id;
  std::string error_code;
  std::string description;
  nlohmann::json details;
};
struct CallResultError {  // 2.1, message type 5
  std::string message_id;
  std::string error_code;
  std::string description;
  nlohmann::json details;
};
struct Send {  // 2.1, message type 6
  std::string message_id;
  std::string action;
  nlohmann::json payload;
};
using RpcMessage = std::variant<Call, CallResult, CallError, CallResultError, Send>;

struct RpcParseError {
  std::string message_id;  // empty if it could not be read
  RpcErrorCode code;
  std::string description;
  // JSON Pointer into the payload when one value is at fault (a number out of range).
  std::optional<std::string> path = {};
};

// Parses one WebSocket text frame. Never throws, whatever the input.
std::variant<RpcMessage, RpcParseError> parse_rpc(std::string_view frame, OcppVersion version);

// The frame for a message. Strings that are not valid UTF-8 are written with
// U+FFFD replacement characters rather than failing.
std::string serialize(const RpcMessage& message);

// A CALLERROR frame. An empty message_id (the id could not be read) is sent as
// the placeholder "-1".
std::string make_call_error(std::string_view message_id, RpcErrorCode code, OcppVersion version,
                            std::string_view description,
                            const nlohmann::json& details = nlohmann::json::object());

}  // namespace chargegrid::protocols
