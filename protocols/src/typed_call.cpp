#include "chargegrid/protocols/typed_call.hpp"

#include <simdjson.h>

#include "chargegrid/protocols/rpc.hpp"
#include "reader_support.hpp"

namespace chargegrid::protocols {
namespace {

// The text of a CALL's fourth element. The frame has been parsed as [2, "id", "action", {…}],
// so it is enough to step over the number and the two strings.
std::string_view payload_text(std::string_view frame) {
  std::size_t i = frame.find('[') + 1;
  for (int commas = 0; commas < 3 && i < frame.size(); ++i) {
    if (frame[i] == ',') {
      ++commas;
    } else if (frame[i] == '"') {
      for (++i; i < frame.size() && frame[i] != '"'; ++i)
        if (frame[i] == '\\') ++i;  // an escaped character, '"' included
    }
  }
  const std::size_t begin = frame.find('{', i);
  const std::size_t end = frame.rfind('}');
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) return {};
  return frame.substr(begin, end - begin + 1);
}

// Whether the frame opens as a CALL, "[2,": answers and errors are left to the DOM path
// without being parsed twice.
bool opens_as_call(std::string_view frame) {
  auto next = [&frame](std::size_t from) { return frame.find_first_not_of(" \t\r\n", from); };
  const auto bracket = next(0);
  if (bracket == std::string_view::npos || frame[bracket] != '[') return false;
  const auto type = next(bracket + 1);
  if (type == std::string_view::npos || frame[type] != '2') return false;
  const auto after = next(type + 1);
  return after != std::string_view::npos && frame[after] == ',';
}

}  // namespace

std::optional<TypedCall> read_typed_call(std::string_view frame, OcppVersion version) {
  if (!opens_as_call(frame)) return std::nullopt;
  // A NUL is refused after validation on the DOM path (find_nul_character): leave it there.
  if (frame.find("\\u0000") != std::string_view::npos) return std::nullopt;
  try {
    // One parser per thread: its buffers are reused from one frame to the next.
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(frame.data(), frame.size(), true).get(root)) return std::nullopt;
    simdjson::dom::array array;
    if (root.get_array().get(array) || array.size() != 4) return std::nullopt;
    auto element = array.begin();
    std::int64_t type = 0;
    if ((*element).get_int64().get(type) || type != 2) return std::nullopt;
    std::string_view id, action;
    if ((*++element).get_string().get(id) || id.empty() || id.size() > kMaxMessageIdLength)
      return std::nullopt;
    if ((*++element).get_string().get(action) || action.empty()) return std::nullopt;
    const simdjson::dom::element payload = *++element;

    TypedCall call;
    bool read = false;
    switch (version) {
      case OcppVersion::v16:
        read = v16::read_typed_request(action, payload, call.request);
        break;
      case OcppVersion::v201:
        read = v201::read_typed_request(action, payload, call.request);
        break;
      case OcppVersion::v21:
        read = v21::read_typed_request(action, payload, call.request);
        break;
    }
    if (!read) return std::nullopt;
    call.message_id.assign(id);
    call.action.assign(action);
    call.payload_json = payload_text(frame);
    if (call.payload_json.empty()) return std::nullopt;
    return call;
  } catch (const std::exception&) {
    return std::nullopt;  // memory exhausted: the DOM path reports it
  }
}

}  // namespace chargegrid::protocols
