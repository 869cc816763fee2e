#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "chargegrid/protocols/v16/actions.hpp"
#include "chargegrid/protocols/v201/actions.hpp"
#include "chargegrid/protocols/v21/actions.hpp"
#include "chargegrid/protocols/validation.hpp"

using namespace chargegrid::protocols;
using nlohmann::json;

namespace {

// Action names straight from a copied schema bundle, by stripping the
// message suffix from each $id.
std::set<std::string> actions_in_bundle(const std::string& file) {
  std::ifstream in(std::string(CHARGEGRID_PROTOCOLS_SCHEMA_DIR) + "/" + file);
  REQUIRE(in.good());
  const json bundle = json::parse(in);
  std::set<std::string> names;
  for (const auto& schema : bundle) {
    std::string id = schema.at("$id").get<std::string>();
    REQUIRE(id.rfind("urn:", 0) == 0);
    id.erase(0, 4);
    for (std::string suffix : {".req", ".conf", "Request", "Response"}) {
      if (id.size() > suffix.size() &&
          id.compare(id.size() - suffix.size(), suffix.size(), suffix) == 0) {
        id.erase(id.size() - suffix.size());
        break;
      }
    }
    names.insert(id);
  }
  return names;
}

void check_registry(OcppVersion version, const std::string& file, std::size_t count) {
  const auto expected = actions_in_bundle(file);
  const auto listed = actions(version);
  std::set<std::string> registered(listed.begin(), listed.end());
  CHECK(registered == expected);
  CHECK(listed.size() == expected.size());  // no duplicates
  CHECK(count == expected.size());
  CHECK(std::is_sorted(listed.begin(), listed.end()));
  for (const auto& name : expected) {
    INFO(name);
    CHECK(is_known_action(version, name));
    // Every registered validator runs and rejects a non-object payload.
    const auto error = validate(version, name, Direction::Request, json::array());
    REQUIRE(error);
    CHECK(error->code == RpcErrorCode::FormatViolation);
  }
}

}  // namespace

TEST_CASE("protocols: registry holds every action of the 1.6 schemas", "[registry]") {
  check_registry(OcppVersion::v16, "ocpp1_6.json", v16::kActionCount);
  CHECK(v16::kActionCount == 39);  // 28 core + 11 security-extension actions
}

TEST_CASE("protocols: registry holds every action of the 2.0.1 schemas", "[registry]") {
  check_registry(OcppVersion::v201, "ocpp2_0_1.json", v201::kActionCount);
  CHECK(v201::kActionCount == 64);
}

TEST_CASE("protocols: registry holds every action of the 2.1 schemas", "[registry]") {
  check_registry(OcppVersion::v21, "ocpp2_1.json", v21::kActionCount);
  CHECK(v21::kActionCount == 91);
}

TEST_CASE("protocols: every action's response validator is wired, except SEND-only ones",
          "[registry]") {
  for (auto version : {OcppVersion::v16, OcppVersion::v201, OcppVersion::v21}) {
    for (auto name : actions(version)) {
      INFO(subprotocol(version) << " " << name);
      const auto error = validate(version, name, Direction::Response, json::array());
      REQUIRE(error);
      if (version == OcppVersion::v21 && name == "NotifyPeriodicEventStream") {
        CHECK(error->code == RpcErrorCode::NotImplemented);
      } else {
        CHECK(error->code == RpcErrorCode::FormatViolation);
      }
    }
  }
}

namespace {

// An independent reading of a schema: the smallest payload it accepts.
json minimal_instance(const json& node, const json& definitions) {
  if (node.contains("$ref")) {
    const std::string ref = node.at("$ref").get<std::string>();
    return minimal_instance(definitions.at(ref.substr(ref.rfind('/') + 1)), definitions);
  }
  if (node.contains("enum")) return node.at("enum").at(0);
  if (!node.contains("type")) return "any value";
  const std::string type = node.at("type").get<std::string>();
  if (type == "string") {
    const std::string format = node.value("format", "");
    if (format == "date-time") return "2024-03-01T10:00:00Z";
    if (format == "uri") return "https://example.com/file";
    return "x";
  }
  if (type == "integer" || type == "number") {
    if (node.contains("minimum")) return node.at("minimum");
    if (node.contains("maximum") && node.at("maximum").get<double>() < 0) {
      return node.at("maximum");
    }
    return 0;
  }
  if (type == "boolean") return false;
  if (type == "array") {
    json items = json::array();
    for (int i = 0; i < node.value("minItems", 0); ++i) {
      items.push_back(minimal_instance(node.at("items"), definitions));
    }
    return items;
  }
  json object = json::object();
  for (const auto& name : node.value("required", json::array())) {
    object[name.get<std::string>()] =
        minimal_instance(node.at("properties").at(name.get<std::string>()), definitions);
  }
  return object;
}

void check_every_message(OcppVersion version, const std::string& file) {
  std::ifstream in(std::string(CHARGEGRID_PROTOCOLS_SCHEMA_DIR) + "/" + file);
  REQUIRE(in.good());
  const json bundle = json::parse(in);
  for (const auto& schema : bundle) {
    std::string action = schema.at("$id").get<std::string>().substr(4);
    Direction direction = Direction::Request;
    for (const auto& [suffix, d] : {std::pair<std::string, Direction>{".req", Direction::Request},
                                    {".conf", Direction::Response},
                                    {"Request", Direction::Request},
                                    {"Response", Direction::Response}}) {
      if (action.size() > suffix.size() &&
          action.compare(action.size() - suffix.size(), suffix.size(), suffix) == 0) {
        action.erase(action.size() - suffix.size());
        direction = d;
        break;
      }
    }
    const json definitions = schema.value("definitions", json::object());
    const json payload = minimal_instance(schema, definitions);
    INFO(file << " " << schema.at("$id") << " " << payload.dump());
    const auto error = validate(version, action, direction, payload);
    CHECK_FALSE(error);
    if (error) {
      UNSCOPED_INFO(error->path << ": " << error->message);
      continue;
    }

    json extra = payload;
    extra["zzUnexpected"] = 1;
    const auto unexpected = validate(version, action, direction, extra);
    REQUIRE(unexpected);
    CHECK(unexpected->code == RpcErrorCode::FormatViolation);
    CHECK(unexpected->path == "/zzUnexpected");

    for (const auto& name : schema.value("required", json::array())) {
      const std::string key = name.get<std::string>();
      json missing = payload;
      missing.erase(key);
      const auto e = validate(version, action, direction, missing);
      REQUIRE(e);
      CHECK(e->code == RpcErrorCode::OccurrenceConstraintViolation);
      CHECK(e->path == "/" + key);
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, property] : properties.items()) {
      json changed = payload;
      if (property.value("type", "") == "integer") {
        changed[key] = "1";
        const auto e = validate(version, action, direction, changed);
        REQUIRE(e);
        CHECK(e->code == RpcErrorCode::TypeConstraintViolation);
        CHECK(e->path == "/" + key);
      } else if (property.contains("enum") ||
                 (property.contains("$ref") &&
                  minimal_instance(property, definitions).is_string() &&
                  definitions.at(property.at("$ref").get<std::string>().substr(14))
                      .contains("enum"))) {
        changed[key] = "NotAValueOfThisEnum";
        const auto e = validate(version, action, direction, changed);
        REQUIRE(e);
        CHECK(e->code == RpcErrorCode::PropertyConstraintViolation);
        CHECK(e->path == "/" + key);
      } else if (property.contains("maxLength")) {
        changed[key] = std::string(property.at("maxLength").get<std::size_t>() + 1, 'a');
        const auto e = validate(version, action, direction, changed);
        REQUIRE(e);
        CHECK(e->code == RpcErrorCode::PropertyConstraintViolation);
        CHECK(e->path == "/" + key);
      }
    }
  }
}

}  // namespace

TEST_CASE("protocols: every schema's smallest payload validates, and breaking it is caught",
          "[registry]") {
  check_every_message(OcppVersion::v16, "ocpp1_6.json");
  check_every_message(OcppVersion::v201, "ocpp2_0_1.json");
  check_every_message(OcppVersion::v21, "ocpp2_1.json");
}
