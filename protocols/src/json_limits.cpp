#include "chargegrid/protocols/json_limits.hpp"

namespace chargegrid::protocols {
namespace {

using nlohmann::json;

// nlohmann's own DOM builder (what json::parse uses), stopped at the first
// array or object that would be one level too deep. The library's parser keeps
// its state on the heap, so nothing here recurses.
class DepthLimitedBuilder {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  DepthLimitedBuilder(json& root, int max_depth) : builder_(root, false), max_depth_(max_depth) {}

  bool null() { return builder_.null(); }
  bool boolean(bool value) { return builder_.boolean(value); }
  bool number_integer(number_integer_t value) { return builder_.number_integer(value); }
  bool number_unsigned(number_unsigned_t value) { return builder_.number_unsigned(value); }
  bool number_float(number_float_t value, const string_t& text) {
    return builder_.number_float(value, text);
  }
  bool string(string_t& value) { return builder_.string(value); }
  bool binary(binary_t& value) { return builder_.binary(value); }
  bool key(string_t& value) { return builder_.key(value); }
  bool start_object(std::size_t size) { return open() && builder_.start_object(size); }
  bool end_object() {
    --depth_;
    return builder_.end_object();
  }
  bool start_array(std::size_t size) { return open() && builder_.start_array(size); }
  bool end_array() {
    --depth_;
    return builder_.end_array();
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    error_ = JsonParseError::Invalid;
    byte_ = position;
    return false;
  }

  JsonParseError error() const { return error_; }
  std::size_t byte() const { return byte_; }

 private:
  bool open() {
    if (++depth_ <= max_depth_) return true;
    error_ = JsonParseError::TooDeep;
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<json> builder_;
  int max_depth_;
  int depth_ = 0;
  JsonParseError error_ = JsonParseError::None;
  std::size_t byte_ = 0;
};

}  // namespace

ParsedJson parse_json(std::string_view text, int max_depth) {
  ParsedJson parsed;
  DepthLimitedBuilder builder(parsed.value, max_depth);
  const bool complete =
      json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json,
                      /*strict=*/true);
  if (!complete) {
    parsed.error =
        builder.error() == JsonParseError::None ? JsonParseError::Invalid : builder.error();
    parsed.byte = builder.byte();
    parsed.value = json(json::value_t::discarded);
  }
  return parsed;
}

}  // namespace chargegrid::protocols
