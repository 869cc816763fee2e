#include "chargegrid/protocols/rpc.hpp"

#include <climits>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace chargegrid::protocols {
namespace {

using nlohmann::json;

constexpr std::int64_t kCall = 2;
constexpr std::int64_t kCallResult = 3;
constexpr std::int64_t kCallError = 4;
constexpr std::int64_t kCallResultError = 5;
constexpr std::int64_t kSend = 6;
// OCPP-J 2.0.1 limits errorDescription to 255 characters.
constexpr std::size_t kMaxErrorDescription = 255;

bool is_valid_message_id(const json& value) {
  if (!value.is_string()) return false;
  const auto& id = value.get_ref<const std::string&>();
  return !id.empty() && id.size() <= kMaxMessageIdLength;
}

bool nesting_exceeds(std::string_view frame, int limit) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : frame) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// Reads the message id of a frame that cannot be parsed whole (bad JSON, too
// deep), so the error can still be correlated. SAX parsing stops at the first
// problem and never recurses.
class MessageIdSniffer final : public nlohmann::json_sax<json> {
 public:
  std::string message_id;

  bool null() override { return scalar(nullptr); }
  bool boolean(bool) override { return scalar(nullptr); }
  bool number_integer(number_integer_t) override { return scalar(nullptr); }
  bool number_unsigned(number_unsigned_t) override { return scalar(nullptr); }
  bool number_float(number_float_t, const string_t&) override { return scalar(nullptr); }
  bool string(string_t& value) override { return scalar(&value); }
  bool binary(binary_t&) override { return scalar(nullptr); }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool scalar(const string_t* text) {
    if (depth_ == 1) {
      if (index_ == 1 && text != nullptr) {
        const json id = *text;
        if (is_valid_message_id(id)) message_id = *text;
      }
      ++index_;
    }
    return index_ <= 2 || depth_ > 1;  // nothing after the id matters
  }
  bool open() {
    if (depth_ == 1) ++index_;
    ++depth_;
    return depth_ <= kMaxJsonDepth && (depth_ > 1 || index_ == 0);
  }
  bool close() {
    --depth_;
    return true;
  }

  int depth_ = 0;
  std::size_t index_ = 0;  // elements seen in the top-level array
};

// Finds the value a number too large for a double sits at (the parser refuses 1e400 with
// error 406), so the station hears which field is out of range rather than "not JSON".
class OverflowFinder final : public nlohmann::json_sax<json> {
 public:
  std::optional<std::int64_t> message_type;
  std::vector<std::string> overflow_path;  // segments from the root; empty: no overflow
  bool overflowed = false;

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t v) override {
    if (frames_.size() == 1 && frames_[0].index == 0) message_type = v;
    return scalar();
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (frames_.size() == 1 && frames_[0].index == 0 && v <= INT64_MAX)
      message_type = static_cast<std::int64_t>(v);
    return scalar();
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override {
    frames_.push_back({false, 0, {}});
    return frames_.size() <= static_cast<std::size_t>(kMaxJsonDepth);
  }
  bool key(string_t& k) override {
    frames_.back().key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override {
    frames_.push_back({true, 0, {}});
    return frames_.size() <= static_cast<std::size_t>(kMaxJsonDepth);
  }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    if (e.id == 406) {  // number overflow: the value at the current place
      overflowed = true;
      for (const auto& f : frames_)
        overflow_path.push_back(f.array ? std::to_string(f.index) : f.key);
    }
    return false;
  }

 private:
  struct Frame {
    bool array;
    std::size_t index;
    std::string key;
  };
  bool scalar() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool close() {
    frames_.pop_back();
    return scalar();
  }
  std::vector<Frame> frames_;
};

std::string json_pointer(std::vector<std::string>::const_iterator begin,
                         std::vector<std::string>::const_iterator end) {
  std::string out;
  for (auto it = begin; it != end; ++it) {
    out += '/';
    for (char c : *it) {
      if (c == '~')
        out += "~0";
      else if (c == '/')
        out += "~1";
      else
        out += c;
    }
  }
  return out;
}

std::string sniff_message_id(std::string_view frame) {
  MessageIdSniffer sniffer;
  json::sax_parse(frame.begin(), frame.end(), &sniffer, nlohmann::detail::input_format_t::json,
                  false);
  return sniffer.message_id;
}

RpcParseError framework_error(std::string message_id, std::string description) {
  return RpcParseError{std::move(message_id), RpcErrorCode::RpcFrameworkError,
                       std::move(description)};
}

std::variant<RpcMessage, RpcParseError> parse_checked(std::string_view frame, OcppVersion version) {
  if (nesting_exceeds(frame, kMaxJsonDepth)) {
    return framework_error(sniff_message_id(frame), "JSON nesting is deeper than " +
                                                        std::to_string(kMaxJsonDepth) + " levels");
  }
  json root = json::parse(frame.begin(), frame.end(), nullptr, false);
  if (root.is_discarded()) {
    OverflowFinder finder;
    json::sax_parse(frame.begin(), frame.end(), &finder, nlohmann::detail::input_format_t::json,
                    false);
    // The payload's place in the array: [2, id, action, payload], [3, id, payload], [6, ...].
    const std::size_t payload_index = finder.message_type == kCallResult ? 2 : 3;
    if (finder.overflowed && finder.overflow_path.size() > 1 &&
        finder.overflow_path[0] == std::to_string(payload_index) &&
        (finder.message_type == kCall || finder.message_type == kCallResult ||
         finder.message_type == kSend)) {
      auto pointer = json_pointer(finder.overflow_path.begin() + 1, finder.overflow_path.end());
      return RpcParseError{sniff_message_id(frame), RpcErrorCode::PropertyConstraintViolation,
                           pointer + ": number is out of range (beyond the double range)", pointer};
    }
    return framework_error(sniff_message_id(frame), "frame is not valid UTF-8 JSON");
  }
  if (!root.is_array()) return framework_error("", "frame is not a JSON array");
  if (root.empty() || !root[0].is_number_integer()) {
    return framework_error("", "frame does not start with an integer message type");
  }
  std::string id;
  if (root.size() >= 2 && is_valid_message_id(root[1])) id = root[1].get<std::string>();
  if (root.size() < 2 || !root[1].is_string()) {
    return framework_error("", "message id is missing or not a string");
  }
  if (id.empty()) {
    return framework_error(
        "", "message id must have 1 to " + std::to_string(kMaxMessageIdLength) + " characters");
  }

  const bool v21 = version == OcppVersion::v21;
  const std::int64_t type = root[0].is_number_unsigned() && root[0].get<std::uint64_t>() > INT64_MAX
                                ? -1
                                : root[0].get<std::int64_t>();
  std::size_t expected_size = 0;
  switch (type) {
    case kCall:
      expected_size = 4;
      break;
    case kCallResult:
      expected_size = 3;
      break;
    case kCallError:
      expected_size = 5;
      break;
    case kCallResultError:
      expected_size = v21 ? 5 : 0;
      break;
    case kSend:
      expected_size = v21 ? 4 : 0;
      break;
    default:
      break;
  }
  if (expected_size == 0) {
    return RpcParseError{id, RpcErrorCode::MessageTypeNotSupported,
                         "message type " + root[0].dump() + " is not supported in " +
                             std::string(subprotocol(version))};
  }
  if (root.size() != expected_size) {
    return framework_error(id, "message type " + std::to_string(type) + " needs " +
                                   std::to_string(expected_size) + " elements, got " +
                                   std::to_string(root.size()));
  }

  if (type == kCall || type == kSend) {
    if (!root[2].is_string() || root[2].get_ref<const std::string&>().empty()) {
      return framework_error(id, "action is not a non-empty string");
    }
    if (!root[3].is_object()) {
      return RpcParseError{id, RpcErrorCode::FormatViolation, "payload is not a JSON object"};
    }
    std::string action = root[2].get<std::string>();
    if (type == kCall)
      return RpcMessage{Call{std::move(id), std::move(action), std::move(root[3])}};
    return RpcMessage{Send{std::move(id), std::move(action), std::move(root[3])}};
  }
  if (type == kCallResult) {
    if (!root[2].is_object()) {
      return RpcParseError{id, RpcErrorCode::FormatViolation, "payload is not a JSON object"};
    }
    return RpcMessage{CallResult{std::move(id), std::move(root[2])}};
  }
  // CALLERROR and CALLRESULTERROR share one shape.
  if (!root[2].is_string() || !root[3].is_string()) {
    return framework_error(id, "error code and description must be strings");
  }
  if (!root[4].is_object()) {
    return RpcParseError{id, RpcErrorCode::FormatViolation, "error details are not a JSON object"};
  }
  std::string code = root[2].get<std::string>();
  std::string description = root[3].get<std::string>();
  if (type == kCallError) {
    return RpcMessage{
        CallError{std::move(id), std::move(code), std::move(description), std::move(root[4])}};
  }
  return RpcMessage{
      CallResultError{std::move(id), std::move(code), std::move(description), std::move(root[4])}};
}

std::string dump(const json& frame) {
  return frame.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string truncate_utf8(std::string_view text, std::size_t max_characters) {
  std::size_t characters = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && characters++ == max_characters) {
      return std::string(text.substr(0, i));
    }
  }
  return std::string(text);
}

}  // namespace

std::variant<RpcMessage, RpcParseError> parse_rpc(std::string_view frame, OcppVersion version) {
  try {
    return parse_checked(frame, version);
  } catch (const std::exception& e) {
    // Only resource exhaustion can get here; report it instead of throwing.
    return RpcParseError{"", RpcErrorCode::InternalError,
                         std::string("frame could not be processed: ") + e.what()};
  }
}

std::string serialize(const RpcMessage& message) {
  struct Visitor {
    json operator()(const Call& m) const {
      return json::array({kCall, m.message_id, m.action, m.payload});
    }
    json operator()(const CallResult& m) const {
      return json::array({kCallResult, m.message_id, m.payload});
    }
    json operator()(const CallError& m) const {
      return json::array({kCallError, m.message_id, m.error_code, m.description, m.details});
    }
    json operator()(const CallResultError& m) const {
      return json::array({kCallResultError, m.message_id, m.error_code, m.description, m.details});
    }
    json operator()(const Send& m) const {
      return json::array({kSend, m.message_id, m.action, m.payload});
    }
  };
  return dump(std::visit(Visitor{}, message));
}

std::string make_call_error(std::string_view message_id, RpcErrorCode code, OcppVersion version,
                            std::string_view description, const json& details) {
  return dump(json::array({kCallError, message_id.empty() ? "-1" : std::string(message_id),
                           to_wire(code, version), truncate_utf8(description, kMaxErrorDescription),
                           details.is_object() ? details : json::object()}));
}

}  // namespace chargegrid::protocols
