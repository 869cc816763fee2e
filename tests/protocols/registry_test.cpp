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
