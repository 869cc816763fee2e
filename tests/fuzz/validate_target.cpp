// protocols::validate with the action drawn from the input. Input: a first line
// "<version> <Request|Response> <Action>" (version 1.6, 2.0.1 or 2.1) and the payload as
// JSON after it; anything else picks version, direction and action from its first two bytes
// (so every input checks some real action) and takes the rest as the payload.
// Properties: validate never throws; an unknown action gives NotImplemented; an error's
// path is a JSON Pointer whose parent is in the payload; the error makes a valid CALLERROR.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chargegrid/protocols/json_limits.hpp"
#include "chargegrid/protocols/rpc.hpp"
#include "chargegrid/protocols/validation.hpp"
#include "targets.hpp"

namespace chargegrid::fuzz {

namespace {

using nlohmann::json;
using protocols::Direction;
using protocols::OcppVersion;

struct Selection {
  OcppVersion version = OcppVersion::v16;
  Direction direction = Direction::Request;
  std::string action;
  std::string_view payload;
};

bool parse_header(std::string_view input, Selection& out) {
  const auto end = input.find('\n');
  if (end == std::string_view::npos) return false;
  const std::string_view header = input.substr(0, end);
  const auto first = header.find(' ');
  const auto second = first == std::string_view::npos ? first : header.find(' ', first + 1);
  if (second == std::string_view::npos) return false;
  const auto version = header.substr(0, first);
  const auto direction = header.substr(first + 1, second - first - 1);
  if (version == "1.6")
    out.version = OcppVersion::v16;
  else if (version == "2.0.1")
    out.version = OcppVersion::v201;
  else if (version == "2.1")
    out.version = OcppVersion::v21;
  else
    return false;
  if (direction == "Request")
    out.direction = Direction::Request;
  else if (direction == "Response")
    out.direction = Direction::Response;
  else
    return false;
  out.action = std::string(header.substr(second + 1));
  out.payload = input.substr(end + 1);
  return true;
}

Selection select(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Selection s;
  if (parse_header(input, s) || size < 2) return s;
  constexpr OcppVersion kVersions[] = {OcppVersion::v16, OcppVersion::v201, OcppVersion::v21};
  s.version = kVersions[data[0] % 3];
  s.direction = (data[0] / 3) % 2 == 0 ? Direction::Request : Direction::Response;
  const auto names = protocols::actions(s.version);
  s.action = std::string(names[data[1] % names.size()]);
  s.payload = input.substr(2);
  return s;
}

}  // namespace

int validate(const std::uint8_t* data, std::size_t size) {
  const Selection s = select(data, size);
  if (s.action.empty()) return 0;
  // Parsed as parse_rpc parses frames: deeper payloads never reach validate().
  auto parsed_payload = protocols::parse_json(s.payload);
  if (!parsed_payload) return 0;
  const json payload = std::move(parsed_payload.value);

  const auto error = protocols::validate(s.version, s.action, s.direction, payload);
  if (!protocols::is_known_action(s.version, s.action)) {
    require(error && error->code == protocols::RpcErrorCode::NotImplemented,
            "an unknown action is NotImplemented");
    return 0;
  }
  if (!error) return 0;
  if (error->code == protocols::RpcErrorCode::NotImplemented) {
    // Only a 2.1 SEND-only action has no response to validate.
    require(s.version == OcppVersion::v21 && s.direction == Direction::Response,
            "a known action's message is never NotImplemented");
    return 0;
  }
  json::json_pointer pointer;
  try {
    pointer = json::json_pointer(error->path);
  } catch (const json::exception&) {
    require(false, "an error's path is a JSON Pointer");
  }
  require(error->path.empty() || payload.contains(pointer.parent_pointer()),
          "an error's path leads into the payload");
  const auto reply = protocols::make_call_error("1", error->code, s.version, error->message,
                                                {{"path", error->path}});
  const auto parsed = protocols::parse_rpc(reply, s.version);
  require(std::holds_alternative<protocols::RpcMessage>(parsed),
          "the CALLERROR for an invalid payload is a valid frame");
  return 0;
}

}  // namespace chargegrid::fuzz
