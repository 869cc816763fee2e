// The smart-charging rows of the command table: one version-neutral schedule becomes each
// version's SetChargingProfile, ClearChargingProfile and GetCompositeSchedule, every payload
// valid against the OCA schema of its version.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "chargegrid/protocols/validation.hpp"
#include "commands/translation.hpp"

using chargegrid::protocols::Direction;
using chargegrid::protocols::OcppVersion;
using namespace chargegrid::server::commands;
using nlohmann::json;

namespace {

OcppCall translate(const char* name, const json& arguments, OcppVersion version) {
  const auto* spec = find_command(name);
  REQUIRE(spec);
  CHECK(spec->schema.empty());  // the server's own: not offered by the REST API
  auto call = spec->translate(arguments, version, 1);
  const auto error =
      chargegrid::protocols::validate(version, call.action, Direction::Request, call.payload);
  INFO(call.payload.dump());
  CHECK_FALSE(error);
  if (error) FAIL_CHECK(error->path + ": " + error->message);
  return call;
}

json schedule(json transaction_id) {
  return {{"evse_id", 2},
          {"profile_id", 40},
          {"stack_level", 1},
          {"transaction_id", std::move(transaction_id)},
          {"start", "2026-12-05T12:00:00Z"},
          {"duration_s", 7200},
          {"rate_unit", "W"},
          {"periods", json::array({{{"start_s", 0}, {"limit", 11000.0}, {"phases", 3}},
                                   {{"start_s", 3600}, {"limit", 3700.0}}})}};
}

}  // namespace

TEST_CASE("A charging schedule becomes each version's SetChargingProfile", "[unit][commands]") {
  const auto v16 = translate("set-charging-profile", schedule(17), OcppVersion::v16);
  CHECK(v16.action == "SetChargingProfile");
  CHECK(v16.payload["connectorId"] == 2);
  const auto& cs = v16.payload["csChargingProfiles"];
  CHECK(cs["chargingProfileId"] == 40);
  CHECK(cs["transactionId"] == 17);
  CHECK(cs["chargingProfilePurpose"] == "TxProfile");
  CHECK(cs["chargingSchedule"]["chargingSchedulePeriod"][1]["limit"] == 3700.0);
  CHECK(cs["chargingSchedule"]["duration"] == 7200);

  for (auto version : {OcppVersion::v201, OcppVersion::v21}) {
    const auto v2 = translate("set-charging-profile", schedule("TX-9"), version);
    CHECK(v2.payload["evseId"] == 2);
    const auto& profile = v2.payload["chargingProfile"];
    CHECK(profile["id"] == 40);
    CHECK(profile["transactionId"] == "TX-9");
    CHECK(profile["chargingSchedule"][0]["chargingRateUnit"] == "W");
    CHECK(profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["numberPhases"] == 3);
    CHECK_FALSE(
        profile["chargingSchedule"][0]["chargingSchedulePeriod"][0].contains("operationMode"));
  }

  // A station-wide limit: 1.6 calls the purpose ChargePointMaxProfile.
  auto max = schedule(nullptr);
  max.erase("transaction_id");
  max["purpose"] = "ChargingStationMaxProfile";
  max["evse_id"] = 0;
  CHECK(translate("set-charging-profile", max, OcppVersion::v16)
            .payload["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile");
  CHECK(translate("set-charging-profile", max, OcppVersion::v201)
            .payload["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile");
}

TEST_CASE("Discharging (V2G) is sent as a 2.1 central setpoint and refused for older versions",
          "[unit][commands]") {
  auto v2g = schedule("TX-9");
  v2g["periods"][1] = {
      {"start_s", 3600}, {"limit", 0.0}, {"setpoint", -5000.0}, {"discharge_limit", -7400.0}};
  const auto call = translate("set-charging-profile", v2g, OcppVersion::v21);
  const auto& period =
      call.payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][1];
  CHECK(period["operationMode"] == "CentralSetpoint");
  CHECK(period["setpoint"] == -5000.0);
  CHECK(period["dischargeLimit"] == -7400.0);
  const auto* spec = find_command("set-charging-profile");
  CHECK_THROWS_AS(spec->translate(v2g, OcppVersion::v201, 1), NotAvailable);
  v2g["transaction_id"] = 17;
  CHECK_THROWS_AS(spec->translate(v2g, OcppVersion::v16, 1), NotAvailable);
}

TEST_CASE("Profiles are cleared and composite schedules asked for in every version",
          "[unit][commands]") {
  const json criteria{{"evse_id", 2}, {"purpose", "TxProfile"}, {"stack_level", 1}};
  const auto v16 = translate("clear-charging-profile", criteria, OcppVersion::v16);
  CHECK(v16.payload ==
        json{{"connectorId", 2}, {"chargingProfilePurpose", "TxProfile"}, {"stackLevel", 1}});
  for (auto version : {OcppVersion::v201, OcppVersion::v21}) {
    const auto v2 = translate("clear-charging-profile", criteria, version);
    CHECK(v2.payload["chargingProfileCriteria"]["evseId"] == 2);
    const auto by_id = translate("clear-charging-profile", {{"profile_id", 40}}, version);
    CHECK(by_id.payload == json{{"chargingProfileId", 40}});
    const auto composite =
        translate("get-composite-schedule",
                  {{"evse_id", 1}, {"duration_s", 3600}, {"rate_unit", "W"}}, version);
    CHECK(composite.payload == json{{"evseId", 1}, {"duration", 3600}, {"chargingRateUnit", "W"}});
  }
  CHECK(translate("clear-charging-profile", {{"profile_id", 40}}, OcppVersion::v16).payload ==
        json{{"id", 40}});
  CHECK(translate("get-composite-schedule", {{"evse_id", 1}, {"duration_s", 600}}, OcppVersion::v16)
            .payload == json{{"duration", 600}, {"connectorId", 1}});
}
