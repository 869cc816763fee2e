// parse_rpc on any bytes, as a frame of each OCPP version. Properties: it never throws; a
// parsed message serialises to a frame that parses back to the same message; an error
// becomes a CALLERROR frame that parses as one, with the id the error names (or "-1").
// read_typed_call on the same bytes reads only CALLs that parse_rpc reads and validate
// accepts, into the struct from_json makes of parse_rpc's payload.

#include <string_view>

#include "chargegrid/protocols/json_limits.hpp"
#include "chargegrid/protocols/rpc.hpp"
#include "chargegrid/protocols/typed_call.hpp"
#include "chargegrid/protocols/validation.hpp"
#include "targets.hpp"

namespace chargegrid::fuzz {

using protocols::OcppVersion;

namespace {

void check_typed(std::string_view frame, OcppVersion version) {
  const auto typed = protocols::read_typed_call(frame, version);
  if (!typed) return;
  const auto parsed = protocols::parse_rpc(frame, version);
  const auto* message = std::get_if<protocols::RpcMessage>(&parsed);
  require(message != nullptr, "a typed call is a frame parse_rpc reads");
  const auto* call = std::get_if<protocols::Call>(message);
  require(call != nullptr, "a typed call is a CALL");
  require(call->message_id == typed->message_id && call->action == typed->action,
          "a typed call has parse_rpc's id and action");
  require(!protocols::validate(version, call->action, protocols::Direction::Request, call->payload),
          "a typed call's payload passes validation");
  require(!protocols::find_nul_character(call->payload), "a typed call holds no NUL");
  const bool same = std::visit(
      [&](const auto& request) {
        using Request = std::decay_t<decltype(request)>;
        if constexpr (std::is_same_v<Request, std::monostate>) {
          return false;
        } else {
          return call->payload.get<Request>() == request;
        }
      },
      typed->request);
  require(same, "a typed request equals from_json of the payload");
  const auto payload = protocols::parse_json(typed->payload_json);
  require(payload && payload.value == call->payload, "a typed call's payload text is its payload");
}

void check_version(std::string_view frame, OcppVersion version) {
  check_typed(frame, version);
  const auto parsed = protocols::parse_rpc(frame, version);
  if (const auto* message = std::get_if<protocols::RpcMessage>(&parsed)) {
    const auto text = protocols::serialize(*message);
    const auto again = protocols::parse_rpc(text, version);
    const auto* reparsed = std::get_if<protocols::RpcMessage>(&again);
    require(reparsed != nullptr, "a serialised message parses again");
    require(reparsed->index() == message->index(), "the same message type after a round trip");
    require(protocols::serialize(*reparsed) == text, "a round trip keeps the frame");
    return;
  }
  const auto& error = std::get<protocols::RpcParseError>(parsed);
  require(error.message_id.size() <= protocols::kMaxMessageIdLength,
          "an error's message id is a valid id or empty");
  const auto frame_text =
      protocols::make_call_error(error.message_id, error.code, version, error.description);
  const auto reply = protocols::parse_rpc(frame_text, version);
  const auto* reply_message = std::get_if<protocols::RpcMessage>(&reply);
  require(reply_message != nullptr, "the CALLERROR for a bad frame is a valid frame");
  const auto* call_error = std::get_if<protocols::CallError>(reply_message);
  require(call_error != nullptr, "the answer to a bad frame is a CALLERROR");
  require(call_error->message_id == (error.message_id.empty() ? "-1" : error.message_id),
          "the CALLERROR answers the id that could be read");
  require(call_error->error_code == protocols::to_wire(error.code, version),
          "the CALLERROR carries the version's spelling of the code");
}

}  // namespace

int rpc(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  for (auto version : {OcppVersion::v16, OcppVersion::v201, OcppVersion::v21})
    check_version(frame, version);
  return 0;
}

}  // namespace chargegrid::fuzz
