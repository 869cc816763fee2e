#include "chargegrid/protocols/json_limits.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace chargegrid::protocols;
using nlohmann::json;

namespace {

std::string nested_arrays(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("protocols: parse_json parses what json::parse parses", "[json]") {
  const std::string text =
      R"({"a":[1,-2,3.5,1e3,true,false,null,"\u00e9\ud83d\ude00"],"b":{"c":{}},"d":[]})";
  auto parsed = parse_json(text);
  REQUIRE(parsed);
  CHECK(parsed.error == JsonParseError::None);
  CHECK(parsed.value == json::parse(text));
  CHECK(parse_json(" 5 ").value == 5);
  CHECK(parse_json(nested_arrays(kMaxJsonDepth)));
}

TEST_CASE("protocols: parse_json stops at the first level past the limit", "[json]") {
  auto too_deep = parse_json(nested_arrays(kMaxJsonDepth + 1));
  CHECK(too_deep.error == JsonParseError::TooDeep);
  CHECK(too_deep.value.is_discarded());
  // Far deeper, unterminated, or objects: refused while parsing, nothing recurses.
  CHECK(parse_json(nested_arrays(1000000)).error == JsonParseError::TooDeep);
  CHECK(parse_json(std::string(10000000, '[')).error == JsonParseError::TooDeep);
  std::string objects;
  for (int i = 0; i < 200000; ++i) objects += "{\"a\":";
  CHECK(parse_json(objects).error == JsonParseError::TooDeep);
  // Brackets in strings are not nesting.
  CHECK(parse_json("[\"" + std::string(1000, '[') + "\"]"));
  // A caller may ask for less.
  CHECK(parse_json("[[1]]", 2));
  CHECK(parse_json("[[[1]]]", 2).error == JsonParseError::TooDeep);
  CHECK(parse_json("{\"a\":{\"b\":1}}", 1).error == JsonParseError::TooDeep);
}

TEST_CASE("protocols: parse_json reports invalid JSON and where it stopped", "[json]") {
  for (const std::string text : {"", "[1,", "{\"a\"}", "[1]x", "[1e400]", "\"\xff\xfe\"", "nul"}) {
    INFO(text);
    auto parsed = parse_json(text);
    CHECK(parsed.error == JsonParseError::Invalid);
    CHECK(parsed.value.is_discarded());
  }
  CHECK(parse_json("[1,]").byte == 4);
  CHECK(parse_json("{\"name\":").byte == 9);
}
