#pragma once
// The one parser for JSON that clients send — OCPP frames and REST bodies — with
// the one nesting limit. The limit is enforced while parsing: the parser stops at
// the first level too many, so no deep document is ever built, and nothing that
// walks a parsed value later (copies, dumps, schema checks, PostgreSQL's jsonb)
// can be driven into deep recursion.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

namespace chargegrid::protocols {

// Deepest nesting of arrays and objects accepted from a client (a top-level
// array or object is level 1); OCPP payloads and REST bodies stay far below it.
inline constexpr int kMaxJsonDepth = 64;

enum class JsonParseError {
  None,
  Invalid,  // not JSON, not UTF-8, a number out of range, or text after the document
  TooDeep,  // nested deeper than the limit
};

struct ParsedJson {
  nlohmann::json value;  // discarded unless error is None
  JsonParseError error = JsonParseError::None;
  std::size_t byte = 0;  // Invalid: the byte where parsing stopped, as parse_error::byte

  explicit operator bool() const { return error == JsonParseError::None; }
};

// Parses one JSON document filling all of `text`. Never recurses and never throws
// for bad input (std::bad_alloc aside).
ParsedJson parse_json(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace chargegrid::protocols
