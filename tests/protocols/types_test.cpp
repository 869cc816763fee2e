#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "chargegrid/protocols/v16/boot_notification.hpp"
#include "chargegrid/protocols/v16/meter_values.hpp"
#include "chargegrid/protocols/v16/start_transaction.hpp"
#include "chargegrid/protocols/v201/data_transfer.hpp"
#include "chargegrid/protocols/v201/set_charging_profile.hpp"
#include "chargegrid/protocols/v201/transaction_event.hpp"
#include "chargegrid/protocols/v21/boot_notification.hpp"
#include "chargegrid/protocols/validation.hpp"

using namespace chargegrid::protocols;
using nlohmann::json;

namespace {

template <typename Message>
void check_round_trip(const json& payload) {
  INFO(payload.dump());
  const Message message = payload.get<Message>();
  const json back = message;
  CHECK(back == payload);
  CHECK(back.get<Message>() == message);
}

}  // namespace

TEST_CASE("protocols: enums convert to and from their wire strings", "[types]") {
  CHECK(to_string(v16::MeterValuesRequestMeterValueSampledValueMeasurand::Power_Active_Import) ==
        "Power.Active.Import");
  CHECK(v16::parse_MeterValuesRequestMeterValueSampledValuePhase("L1-N") ==
        v16::MeterValuesRequestMeterValueSampledValuePhase::L1_N);
  CHECK_FALSE(v16::parse_MeterValuesRequestMeterValueSampledValuePhase("L1_N"));
  CHECK_FALSE(v16::parse_MeterValuesRequestMeterValueSampledValuePhase("l1-n"));
  CHECK(v201::parse_ConnectorEnumType("s309-1P-16A") == v201::ConnectorEnumType::s309_1P_16A);

  // Every enumerator of a large enum survives string -> enum -> string.
  for (const char* text : {"Energy.Active.Import.Register", "SoC", "Voltage", "RPM",
                           "Current.Offered", "Energy.Reactive.Export.Interval"}) {
    const auto parsed = v16::parse_MeterValuesRequestMeterValueSampledValueMeasurand(text);
    REQUIRE(parsed);
    CHECK(to_string(*parsed) == text);
    CHECK(json(*parsed) == text);
  }
  for (const char* text : {"Accepted", "Pending", "Rejected"}) {
    const auto status = json(text).get<v201::RegistrationStatusEnumType>();
    CHECK(json(status) == text);
  }
  CHECK_THROWS_AS(json("Maybe").get<v201::RegistrationStatusEnumType>(), std::invalid_argument);
  CHECK_THROWS(json(3).get<v201::RegistrationStatusEnumType>());
}

TEST_CASE("protocols: typed messages round-trip through JSON", "[types]") {
  check_round_trip<v16::BootNotificationRequest>(
      {{"chargePointVendor", "VendorX"}, {"chargePointModel", "M1"}, {"iccid", "8931"}});
  check_round_trip<v16::BootNotificationResponse>(
      {{"status", "Pending"}, {"currentTime", "2024-03-01T10:00:00Z"}, {"interval", 60}});
  check_round_trip<v16::StartTransactionRequest>({{"connectorId", 2},
                                                  {"idTag", "ABC"},
                                                  {"meterStart", 1234567},
                                                  {"timestamp", "2024-03-01T10:00:00Z"},
                                                  {"reservationId", 9}});
  check_round_trip<v16::MeterValuesRequest>(json::parse(R"({
      "connectorId": 1, "transactionId": 42,
      "meterValue": [{"timestamp": "2024-03-01T10:00:00Z",
                      "sampledValue": [{"value": "7.2", "measurand": "Power.Active.Import",
                                        "unit": "kW", "phase": "L1-N"}]}]})"));
  check_round_trip<v201::TransactionEventRequest>(json::parse(R"({
      "eventType": "Started", "timestamp": "2024-03-01T10:00:00Z",
      "triggerReason": "Authorized", "seqNo": 0, "offline": false,
      "transactionInfo": {"transactionId": "tx-1", "chargingState": "EVConnected"},
      "idToken": {"idToken": "04A1B2C3", "type": "ISO14443",
                  "additionalInfo": [{"additionalIdToken": "x", "type": "y"}]},
      "meterValue": [{"timestamp": "2024-03-01T10:00:00Z",
                      "sampledValue": [{"value": 0.5, "unitOfMeasure": {"unit": "kWh"}}]}],
      "customData": {"vendorId": "acme", "extra": {"nested": [1, 2]}}})"));
  check_round_trip<v201::SetChargingProfileRequest>(json::parse(R"({
      "evseId": 0,
      "chargingProfile": {"id": 7, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "transactionId": "tx-1",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "duration": 3600,
          "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.5, "numberPhases": 3}]}]}})"));
  check_round_trip<v201::DataTransferRequest>(
      {{"vendorId", "acme"}, {"messageId", "m"}, {"data", {{"free", json::array({1, "x"})}}}});
  check_round_trip<v21::BootNotificationRequest>(
      {{"reason", "PowerUp"}, {"chargingStation", {{"model", "M1"}, {"vendorName", "V"}}}});
}

TEST_CASE("protocols: typed messages are usable as plain values", "[types]") {
  v201::TransactionEventRequest event;
  event.eventType = v201::TransactionEventEnumType::Ended;
  event.timestamp = "2024-03-01T12:00:00Z";
  event.triggerReason = v201::TriggerReasonEnumType::EVCommunicationLost;
  event.seqNo = 5;
  event.transactionInfo.transactionId = "tx-1";
  event.transactionInfo.stoppedReason = v201::ReasonEnumType::EVDisconnected;
  const json payload = event;
  CHECK_FALSE(validate(OcppVersion::v201, v201::TransactionEventRequest::kAction,
                       Direction::Request, payload));
  CHECK(payload.at("transactionInfo").at("stoppedReason") == "EVDisconnected");
  CHECK_FALSE(payload.contains("idToken"));  // unset optionals are left out

  v201::TransactionEventRequest copy = event;
  CHECK(copy == event);
  copy.customData = v201::CustomDataType{"acme", {{"x", AnyJson(json(1))}}};
  CHECK_FALSE(copy == event);
  CHECK(json(copy).at("customData") == json{{"vendorId", "acme"}, {"x", 1}});
}
