#include "chargegrid/protocols/validation.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chargegrid::protocols;
using nlohmann::json;

namespace {

void expect_valid(OcppVersion v, std::string_view action, Direction d, const json& payload) {
  const auto error = validate(v, action, d, payload);
  INFO(action << " " << payload.dump());
  if (error) FAIL(error->path << ": " << error->message);
}

ValidationError expect_invalid(OcppVersion v, std::string_view action, Direction d,
                               const json& payload, RpcErrorCode code, std::string_view path) {
  const auto error = validate(v, action, d, payload);
  INFO(action << " " << payload.dump());
  REQUIRE(error.has_value());
  INFO(error->path << ": " << error->message);
  CHECK(error->code == code);
  CHECK(error->path == path);
  CHECK_FALSE(error->message.empty());
  return *error;
}

json v16_meter_values() {
  return json::parse(R"({
    "connectorId": 1, "transactionId": 42,
    "meterValue": [
      {"timestamp": "2024-03-01T10:00:00Z",
       "sampledValue": [{"value": "1200", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                        {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW",
                         "phase": "L1-N", "context": "Sample.Periodic"}]}]})");
}

json v201_transaction_event() {
  return json::parse(R"({
    "eventType": "Updated", "timestamp": "2024-03-01T10:00:00.123+01:00",
    "triggerReason": "MeterValuePeriodic", "seqNo": 3,
    "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
    "evse": {"id": 1, "connectorId": 1},
    "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
    "meterValue": [{"timestamp": "2024-03-01T10:00:00Z",
                    "sampledValue": [{"value": 1200.5, "measurand": "Energy.Active.Import.Register"},
                                     {"value": 7200, "measurand": "Power.Active.Import",
                                      "unitOfMeasure": {"unit": "W", "multiplier": 0}}]}]})");
}

json v201_set_charging_profile() {
  return json::parse(R"({
    "evseId": 1,
    "chargingProfile": {
      "id": 7, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
      "chargingProfileKind": "Absolute",
      "chargingSchedule": [{"id": 1, "chargingRateUnit": "W",
                            "startSchedule": "2024-03-01T00:00:00Z",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0},
                                                       {"startPeriod": 3600, "limit": 7400}]}]}})");
}

}  // namespace

TEST_CASE("protocols: valid payloads pass, for every version", "[validation]") {
  expect_valid(
      OcppVersion::v16, "BootNotification", Direction::Request,
      {{"chargePointVendor", "VendorX"}, {"chargePointModel", "M1"}, {"firmwareVersion", "1.2.3"}});
  expect_valid(
      OcppVersion::v16, "BootNotification", Direction::Response,
      {{"status", "Accepted"}, {"currentTime", "2024-03-01T10:00:00Z"}, {"interval", 300}});
  expect_valid(OcppVersion::v16, "StartTransaction", Direction::Request,
               {{"connectorId", 1},
                {"idTag", "ABC123"},
                {"meterStart", 0},
                {"timestamp", "2024-03-01T10:00:00Z"}});
  expect_valid(OcppVersion::v16, "MeterValues", Direction::Request, v16_meter_values());
  expect_valid(OcppVersion::v16, "Heartbeat", Direction::Request, json::object());
  expect_valid(OcppVersion::v16, "SetChargingProfile", Direction::Request, json::parse(R"({
      "connectorId": 1,
      "csChargingProfiles": {"chargingProfileId": 1, "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A",
          "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.1}, {"startPeriod": 60, "limit": 32}]}}})"));
  expect_valid(OcppVersion::v16, "UpdateFirmware", Direction::Request,
               {{"location", "https://fw.example.com/v2.bin?x=1"},
                {"retrieveDate", "2024-03-01T10:00:00Z"}});

  expect_valid(
      OcppVersion::v201, "BootNotification", Direction::Request,
      {{"reason", "PowerUp"}, {"chargingStation", {{"model", "M1"}, {"vendorName", "VendorX"}}}});
  expect_valid(OcppVersion::v201, "TransactionEvent", Direction::Request, v201_transaction_event());
  expect_valid(OcppVersion::v201, "SetChargingProfile", Direction::Request,
               v201_set_charging_profile());
  expect_valid(OcppVersion::v201, "DataTransfer", Direction::Request,
               {{"vendorId", "acme"}, {"data", {{"any", {1, 2, "three"}}}}});
  // CustomDataType admits vendor members.
  expect_valid(OcppVersion::v201, "Heartbeat", Direction::Request,
               {{"customData", {{"vendorId", "acme"}, {"anything", true}}}});

  json v21_boot = {{"reason", "PowerUp"},
                   {"chargingStation", {{"model", "M1"}, {"vendorName", "VendorX"}}}};
  expect_valid(OcppVersion::v21, "BootNotification", Direction::Request, v21_boot);
  expect_valid(OcppVersion::v21, "TransactionEvent", Direction::Request, v201_transaction_event());
  expect_valid(OcppVersion::v21, "NotifyPeriodicEventStream", Direction::Request,
               json::parse(R"({"id": 1, "pending": 0, "basetime": "2024-03-01T10:00:00Z",
                               "data": [{"t": 0.5, "v": "230.1"}]})"));
}

TEST_CASE("protocols: type mismatches are TypeConstraintViolation with the exact path",
          "[validation]") {
  json mv = v16_meter_values();
  mv["meterValue"][0]["sampledValue"][1]["value"] = 7.2;
  expect_invalid(OcppVersion::v16, "MeterValues", Direction::Request, mv,
                 RpcErrorCode::TypeConstraintViolation, "/meterValue/0/sampledValue/1/value");

  expect_invalid(OcppVersion::v16, "StartTransaction", Direction::Request,
                 {{"connectorId", "1"},
                  {"idTag", "A"},
                  {"meterStart", 0},
                  {"timestamp", "2024-03-01T10:00:00Z"}},
                 RpcErrorCode::TypeConstraintViolation, "/connectorId");
  expect_invalid(OcppVersion::v16, "StartTransaction", Direction::Request,
                 {{"connectorId", 1.5},
                  {"idTag", "A"},
                  {"meterStart", 0},
                  {"timestamp", "2024-03-01T10:00:00Z"}},
                 RpcErrorCode::TypeConstraintViolation, "/connectorId");
  expect_invalid(OcppVersion::v16, "StartTransaction", Direction::Request,
                 {{"connectorId", 1},
                  {"idTag", nullptr},
                  {"meterStart", 0},
                  {"timestamp", "2024-03-01T10:00:00Z"}},
                 RpcErrorCode::TypeConstraintViolation, "/idTag");

  json te = v201_transaction_event();
  te["transactionInfo"] = "tx-1";
  expect_invalid(OcppVersion::v201, "TransactionEvent", Direction::Request, te,
                 RpcErrorCode::TypeConstraintViolation, "/transactionInfo");
  te = v201_transaction_event();
  te["meterValue"][0]["sampledValue"][0]["value"] = "1200";
  expect_invalid(OcppVersion::v201, "TransactionEvent", Direction::Request, te,
                 RpcErrorCode::TypeConstraintViolation, "/meterValue/0/sampledValue/0/value");
  te = v201_transaction_event();
  te["offline"] = "true";
  expect_invalid(OcppVersion::v21, "TransactionEvent", Direction::Request, te,
                 RpcErrorCode::TypeConstraintViolation, "/offline");
}

TEST_CASE("protocols: integral floats count as integers, fractions do not", "[validation]") {
  const json ok = {{"connectorId", 1.0},
                   {"idTag", "A"},
                   {"meterStart", 1e3},
                   {"timestamp", "2024-03-01T10:00:00Z"}};
  expect_valid(OcppVersion::v16, "StartTransaction", Direction::Request, ok);
  json huge = ok;
  huge["meterStart"] = 1e300;
  expect_invalid(OcppVersion::v16, "StartTransaction", Direction::Request, huge,
                 RpcErrorCode::PropertyConstraintViolation, "/meterStart");
  huge["meterStart"] = 18446744073709551615ull;
  expect_invalid(OcppVersion::v16, "StartTransaction", Direction::Request, huge,
                 RpcErrorCode::PropertyConstraintViolation, "/meterStart");
}

TEST_CASE("protocols: missing fields and item counts are OccurrenceConstraintViolation",
          "[validation]") {
  expect_invalid(OcppVersion::v16, "BootNotification", Direction::Request,
                 {{"chargePointVendor", "VendorX"}}, RpcErrorCode::OccurrenceConstraintViolation,
                 "/chargePointModel");
  json mv = v16_meter_values();
  mv["meterValue"][0]["sampledValue"][1].erase("value");
  expect_invalid(OcppVersion::v16, "MeterValues", Direction::Request, mv,
                 RpcErrorCode::OccurrenceConstraintViolation, "/meterValue/0/sampledValue/1/value");

  json scp = v201_set_charging_profile();
  scp["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] = json::array();
  expect_invalid(OcppVersion::v201, "SetChargingProfile", Direction::Request, scp,
                 RpcErrorCode::OccurrenceConstraintViolation,
                 "/chargingProfile/chargingSchedule/0/chargingSchedulePeriod");
  scp = v201_set_charging_profile();
  auto& schedules = scp["chargingProfile"]["chargingSchedule"];
  for (int i = 0; i < 3; ++i) schedules.push_back(schedules[0]);  // 4 > maxItems 3
  expect_invalid(OcppVersion::v201, "SetChargingProfile", Direction::Request, scp,
                 RpcErrorCode::OccurrenceConstraintViolation, "/chargingProfile/chargingSchedule");

  json te = v201_transaction_event();
  te["transactionInfo"].erase("transactionId");
  expect_invalid(OcppVersion::v21, "TransactionEvent", Direction::Request, te,
                 RpcErrorCode::OccurrenceConstraintViolation, "/transactionInfo/transactionId");
}

TEST_CASE("protocols: enum, length, range and format breaches are PropertyConstraintViolation",
          "[validation]") {
  json mv = v16_meter_values();
  mv["meterValue"][0]["sampledValue"][1]["measurand"] = "Power.Active.Imported";
  const auto e = expect_invalid(OcppVersion::v16, "MeterValues", Direction::Request, mv,
                                RpcErrorCode::PropertyConstraintViolation,
                                "/meterValue/0/sampledValue/1/measurand");
  CHECK_THAT(e.message, Catch::Contains("Power.Active.Imported"));

  // maxLength counts characters, not bytes: 20 two-byte characters fit idTag[20].
  std::string twenty;
  for (int i = 0; i < 20; ++i) twenty += "\xc3\xa9";
  expect_valid(OcppVersion::v16, "Authorize", Direction::Request, {{"idTag", twenty}});
  expect_invalid(OcppVersion::v16, "Authorize", Direction::Request, {{"idTag", twenty + "x"}},
                 RpcErrorCode::PropertyConstraintViolation, "/idTag");

  for (const char* bad : {"2024-03-01", "2024-03-01 10:00:00Z", "2024-02-30T10:00:00Z",
                          "2024-03-01T24:00:00Z", "2024-03-01T10:00:00", "2024-03-01T10:00:00.Z",
                          "2024-03-01T10:00:00+0100", "yesterday", ""}) {
    INFO(bad);
    expect_invalid(OcppVersion::v16, "StartTransaction", Direction::Request,
                   {{"connectorId", 1}, {"idTag", "A"}, {"meterStart", 0}, {"timestamp", bad}},
                   RpcErrorCode::PropertyConstraintViolation, "/timestamp");
  }
  for (const char* good :
       {"2024-02-29T23:59:60Z", "2024-03-01t10:00:00z", "2024-03-01T10:00:00.123456-05:30"}) {
    INFO(good);
    expect_valid(OcppVersion::v16, "StartTransaction", Direction::Request,
                 {{"connectorId", 1}, {"idTag", "A"}, {"meterStart", 0}, {"timestamp", good}});
  }

  // multipleOf 0.1 on 1.6 charging limits.
  json scp = json::parse(R"({"connectorId": 1, "csChargingProfiles": {"chargingProfileId": 1,
      "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
      "chargingSchedule": {"chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.05}]}}})");
  expect_invalid(OcppVersion::v16, "SetChargingProfile", Direction::Request, scp,
                 RpcErrorCode::PropertyConstraintViolation,
                 "/csChargingProfiles/chargingSchedule/chargingSchedulePeriod/0/limit");

  expect_invalid(OcppVersion::v16, "UpdateFirmware", Direction::Request,
                 {{"location", "not a uri"}, {"retrieveDate", "2024-03-01T10:00:00Z"}},
                 RpcErrorCode::PropertyConstraintViolation, "/location");

  // minimum: a 2.1 EVSE id is >= 0.
  json te = v201_transaction_event();
  te["evse"]["id"] = -1;
  expect_invalid(OcppVersion::v21, "TransactionEvent", Direction::Request, te,
                 RpcErrorCode::PropertyConstraintViolation, "/evse/id");
}

TEST_CASE("protocols: unexpected members and non-object payloads are FormatViolation",
          "[validation]") {
  expect_invalid(OcppVersion::v16, "Heartbeat", Direction::Request, {{"x", 1}},
                 RpcErrorCode::FormatViolation, "/x");
  json mv = v16_meter_values();
  mv["meterValue"][0]["sampledValue"][0]["a/b~c"] = 1;
  expect_invalid(OcppVersion::v16, "MeterValues", Direction::Request, mv,
                 RpcErrorCode::FormatViolation, "/meterValue/0/sampledValue/0/a~1b~0c");
  json te = v201_transaction_event();
  te["transactionInfo"]["colour"] = "blue";
  expect_invalid(OcppVersion::v201, "TransactionEvent", Direction::Request, te,
                 RpcErrorCode::FormatViolation, "/transactionInfo/colour");

  for (const json& payload : {json::array(), json("x"), json(nullptr), json(1)}) {
    expect_invalid(OcppVersion::v201, "Heartbeat", Direction::Request, payload,
                   RpcErrorCode::FormatViolation, "");
  }
}

TEST_CASE("protocols: unknown actions are NotImplemented", "[validation]") {
  expect_invalid(OcppVersion::v16, "TransactionEvent", Direction::Request, json::object(),
                 RpcErrorCode::NotImplemented, "");
  expect_invalid(OcppVersion::v201, "StartTransaction", Direction::Request, json::object(),
                 RpcErrorCode::NotImplemented, "");
  expect_invalid(OcppVersion::v201, "", Direction::Request, json::object(),
                 RpcErrorCode::NotImplemented, "");
  expect_invalid(OcppVersion::v21, "NotifyPeriodicEventStream", Direction::Response, json::object(),
                 RpcErrorCode::NotImplemented, "");
  CHECK(is_known_action(OcppVersion::v16, "StartTransaction"));
  CHECK_FALSE(is_known_action(OcppVersion::v201, "StartTransaction"));
  CHECK(is_known_action(OcppVersion::v21, "NotifyPeriodicEventStream"));
  CHECK_FALSE(is_known_action(OcppVersion::v21, "notifyperiodiceventstream"));
}

TEST_CASE("protocols: the first offending field is reported, in schema order", "[validation]") {
  // Both model (type) and vendor (missing) are wrong: the schema lists
  // chargePointVendor first.
  expect_invalid(OcppVersion::v16, "BootNotification", Direction::Request,
                 {{"chargePointModel", 5}}, RpcErrorCode::OccurrenceConstraintViolation,
                 "/chargePointVendor");
}
