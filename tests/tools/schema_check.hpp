#pragma once
// A small JSON-schema checker covering the keywords the OCA OCPP schemas use (type,
// properties, required, additionalProperties, enum, maxLength, minItems, items,
// format date-time, minimum, maximum, multipleOf, local $ref). Returns the
// violations found, empty when the document conforms.

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace chargegrid::test {

class SchemaCheck {
 public:
  explicit SchemaCheck(nlohmann::json schema) : root_(std::move(schema)) {}

  // Loads the schema with `$id` == id from a file holding an array of schemas.
  static SchemaCheck from_bundle(const std::string& path, const std::string& id) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    const auto bundle = nlohmann::json::parse(in);
    for (const auto& schema : bundle) {
      if (schema.value("$id", "") == id) return SchemaCheck(schema);
    }
    throw std::runtime_error(id + " not in " + path);
  }

  std::vector<std::string> violations(const nlohmann::json& doc) const {
    std::vector<std::string> out;
    check(root_, doc, "$", out);
    return out;
  }

 private:
  const nlohmann::json& resolve(const nlohmann::json& schema) const {
    if (!schema.contains("$ref")) return schema;
    const std::string ref = schema["$ref"];
    const std::string prefix = "#/definitions/";
    if (ref.rfind(prefix, 0) != 0) throw std::runtime_error("unsupported $ref " + ref);
    return resolve(root_.at("definitions").at(ref.substr(prefix.size())));
  }

  static bool has_type(const nlohmann::json& doc, const std::string& type) {
    if (type == "object") return doc.is_object();
    if (type == "array") return doc.is_array();
    if (type == "string") return doc.is_string();
    if (type == "boolean") return doc.is_boolean();
    if (type == "integer") {
      return doc.is_number_integer() ||
             (doc.is_number_float() && std::floor(doc.get<double>()) == doc.get<double>());
    }
    if (type == "number") return doc.is_number();
    if (type == "null") return doc.is_null();
    throw std::runtime_error("unsupported type " + type);
  }

  void check(const nlohmann::json& raw_schema, const nlohmann::json& doc, const std::string& path,
             std::vector<std::string>& out) const {
    const auto& schema = resolve(raw_schema);
    if (schema.contains("type")) {
      const auto& t = schema["type"];
      bool ok = false;
      if (t.is_array()) {
        for (const auto& one : t) ok = ok || has_type(doc, one);
      } else {
        ok = has_type(doc, t);
      }
      if (!ok) {
        out.push_back(path + ": expected type " + t.dump());
        return;
      }
    }
    if (schema.contains("enum")) {
      bool found = false;
      for (const auto& v : schema["enum"]) found = found || v == doc;
      if (!found) out.push_back(path + ": " + doc.dump() + " not in enum");
    }
    if (doc.is_string()) {
      const auto text = doc.get<std::string>();
      if (schema.contains("maxLength") && text.size() > schema["maxLength"].get<std::size_t>()) {
        out.push_back(path + ": longer than " + schema["maxLength"].dump());
      }
      if (schema.value("format", "") == "date-time") {
        static const std::regex rfc3339(
            R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$)");
        if (!std::regex_match(text, rfc3339)) out.push_back(path + ": not an RFC 3339 date-time");
      }
    }
    if (doc.is_number()) {
      const double v = doc.get<double>();
      if (schema.contains("minimum") && v < schema["minimum"].get<double>()) {
        out.push_back(path + ": below minimum");
      }
      if (schema.contains("maximum") && v > schema["maximum"].get<double>()) {
        out.push_back(path + ": above maximum");
      }
      if (schema.contains("multipleOf")) {
        const double m = schema["multipleOf"].get<double>();
        const double q = v / m;
        if (std::abs(q - std::round(q)) > 1e-9)
          out.push_back(path + ": not a multiple of " + schema["multipleOf"].dump());
      }
    }
    if (doc.is_array()) {
      if (schema.contains("minItems") && doc.size() < schema["minItems"].get<std::size_t>()) {
        out.push_back(path + ": fewer than " + schema["minItems"].dump() + " items");
      }
      if (schema.contains("maxItems") && doc.size() > schema["maxItems"].get<std::size_t>()) {
        out.push_back(path + ": more than " + schema["maxItems"].dump() + " items");
      }
      if (schema.contains("items")) {
        for (std::size_t i = 0; i < doc.size(); ++i) {
          check(schema["items"], doc[i], path + "[" + std::to_string(i) + "]", out);
        }
      }
    }
    if (doc.is_object()) {
      const auto properties = schema.value("properties", nlohmann::json::object());
      for (const auto& name : schema.value("required", nlohmann::json::array())) {
        if (!doc.contains(name.get<std::string>()))
          out.push_back(path + ": missing " + name.get<std::string>());
      }
      for (const auto& [key, value] : doc.items()) {
        if (properties.contains(key)) {
          check(properties[key], value, path + "." + key, out);
        } else if (schema.contains("additionalProperties") &&
                   schema["additionalProperties"] == false) {
          out.push_back(path + ": unexpected property " + key);
        }
      }
    }
  }

  nlohmann::json root_;
};

}  // namespace chargegrid::test
