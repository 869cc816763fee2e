#include "api/json_schema.hpp"

#include <vector>

#include "chargegrid/base/time.hpp"
#include "chargegrid/protocols/validation.hpp"

namespace chargegrid::server::api {

namespace {

using nlohmann::json;

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    default:
      return "object";
  }
}

bool has_type(const json& v, const std::string& type) {
  const auto actual = type_of(v);
  if (actual == type) return true;
  if (type == "number" && actual == "integer") return true;
  // 3.0 is an integer in JSON Schema.
  if (type == "integer" && actual == "number") {
    const double d = v.get<double>();
    return d == static_cast<double>(static_cast<long long>(d));
  }
  return false;
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string where(const std::string& path) {
  return path.empty() ? "body" : path;
}

const json& resolve(const json& schema, const json& document) {
  auto ref = schema.find("$ref");
  if (ref == schema.end()) return schema;
  return document.at(json::json_pointer(ref->get<std::string>().substr(1)));
}

std::optional<std::string> check(const json& raw_schema, const json& value, const json& document,
                                 const std::string& path) {
  const json& schema = resolve(raw_schema, document);

  for (const char* combinator : {"oneOf", "anyOf"}) {
    if (auto alternatives = schema.find(combinator); alternatives != schema.end()) {
      std::optional<std::string> first;
      for (const auto& alternative : *alternatives) {
        auto problem = check(alternative, value, document, path);
        if (!problem) {
          first.reset();
          break;
        }
        if (!first) first = problem;
      }
      if (first) return first;
    }
  }

  if (auto type = schema.find("type"); type != schema.end()) {
    bool ok = false;
    std::string expected;
    if (type->is_array()) {
      for (const auto& t : *type) {
        ok = ok || has_type(value, t.get<std::string>());
        expected += (expected.empty() ? "" : " or ") + t.get<std::string>();
      }
    } else {
      expected = type->get<std::string>();
      ok = has_type(value, expected);
    }
    if (!ok) return where(path) + ": must be " + expected + ", not " + type_of(value);
  }
  if (auto values = schema.find("enum"); values != schema.end()) {
    bool found = false;
    for (const auto& allowed : *values) found = found || allowed == value;
    if (!found) {
      std::string list;
      for (const auto& allowed : *values) list += (list.empty() ? "" : ", ") + allowed.dump();
      return where(path) + ": must be one of " + list;
    }
  }
  if (auto constant = schema.find("const"); constant != schema.end() && *constant != value)
    return where(path) + ": must be " + constant->dump();

  if (value.is_number()) {
    const double d = value.get<double>();
    if (auto min = schema.find("minimum"); min != schema.end() && d < min->get<double>())
      return where(path) + ": must be at least " + min->dump();
    if (auto max = schema.find("maximum"); max != schema.end() && d > max->get<double>())
      return where(path) + ": must be at most " + max->dump();
  }
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (auto min = schema.find("minLength"); min != schema.end() && s.size() < min->get<size_t>())
      return where(path) + ": must be at least " + min->dump() + " characters long";
    if (auto max = schema.find("maxLength"); max != schema.end() && s.size() > max->get<size_t>())
      return where(path) + ": must be at most " + max->dump() + " characters long";
    if (auto format = schema.find("format"); format != schema.end()) {
      if (*format == "date-time" && !is_rfc3339(s))
        return where(path) + ": must be an RFC 3339 date-time such as 2026-11-24T17:00:00Z";
      if (*format == "date" && !base::parse_date(s))
        return where(path) + ": must be a date such as 2026-12-24, not '" + s + "'";
      if (*format == "uri" && s.find(':') == std::string::npos)
        return where(path) + ": must be an absolute URI";
    }
  }
  if (value.is_array()) {
    if (auto min = schema.find("minItems");
        min != schema.end() && value.size() < min->get<size_t>())
      return where(path) + ": must have at least " + min->dump() + " items";
    if (auto max = schema.find("maxItems");
        max != schema.end() && value.size() > max->get<size_t>())
      return where(path) + ": must have at most " + max->dump() + " items";
    if (auto items = schema.find("items"); items != schema.end())
      for (std::size_t i = 0; i < value.size(); ++i)
        if (auto problem = check(*items, value[i], document, path + "[" + std::to_string(i) + "]"))
          return problem;
  }
  if (value.is_object()) {
    const auto properties = schema.find("properties");
    if (auto required = schema.find("required"); required != schema.end())
      for (const auto& name : *required)
        if (!value.contains(name.get<std::string>()))
          return join(path, name.get<std::string>()) + ": is required";
    for (const auto& [key, member] : value.items()) {
      if (properties != schema.end() && properties->contains(key)) {
        if (auto problem = check(properties->at(key), member, document, join(path, key)))
          return problem;
      } else if (auto extra = schema.find("additionalProperties"); extra != schema.end()) {
        if (extra->is_boolean() && !extra->get<bool>())
          return join(path, key) + ": is not a known field";
        if (extra->is_object())
          if (auto problem = check(*extra, member, document, join(path, key))) return problem;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_schema(const json& schema, const json& value,
                                        const json& document) {
  return check(schema, value, document, "");
}

std::optional<std::string> find_nul_character(const json& value) {
  auto error = protocols::find_nul_character(value);
  if (!error) return std::nullopt;
  // The JSON Pointer, as the dotted path the API's other problems name.
  auto pointer = json::json_pointer(error->path);
  std::vector<std::string> tokens;
  for (; !pointer.empty(); pointer.pop_back()) tokens.push_back(pointer.back());
  std::string path;
  const json* at = &value;
  for (auto token = tokens.rbegin(); token != tokens.rend(); ++token) {
    if (at->is_array()) {
      path += "[" + *token + "]";
      at = &at->at(std::stoul(*token));
    } else {
      path = join(path, *token);
      at = &at->at(*token);
    }
  }
  return where(path) + ": " + error->message;
}

bool is_rfc3339(const std::string& text) {
  return base::is_rfc3339(text, {.space_separator = true});
}

}  // namespace chargegrid::server::api
