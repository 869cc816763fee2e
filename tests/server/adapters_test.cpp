// The version adapters: each version's payload becomes the same server message, and the
// meter rows made from it are the same whatever version carried the reading.

#include "ocpp/adapters/adapters.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "ocpp/common.hpp"

using chargegrid::protocols::OcppVersion;
using namespace chargegrid::server::ocpp;
using nlohmann::json;

TEST_CASE("BootNotification of every version becomes the same BootInfo", "[unit][adapters]") {
  const auto v16 =
      adapters::read<BootInfo>(OcppVersion::v16, json{{"chargePointVendor", "Acme"},
                                                      {"chargePointModel", "AC22"},
                                                      {"chargeBoxSerialNumber", "BOX-1"},
                                                      {"firmwareVersion", "1.2"},
                                                      {"iccid", "8947"}});
  CHECK(v16.reason == "PowerUp");
  CHECK(v16.vendor == "Acme");
  CHECK(v16.serial == "BOX-1");  // chargePointSerialNumber missing: the box's
  CHECK(v16.iccid == "8947");
  for (auto version : {OcppVersion::v201, OcppVersion::v21}) {
    const auto v2 = adapters::read<BootInfo>(
        version, json{{"reason", "RemoteReset"},
                      {"chargingStation",
                       {{"vendorName", "Acme"},
                        {"model", "AC22"},
                        {"serialNumber", "BOX-1"},
                        {"modem", {{"iccid", "8947"}, {"imsi", "2420"}}}}}});
    CHECK(v2.reason == "RemoteReset");
    CHECK(v2.vendor == "Acme");
    CHECK(v2.model == "AC22");
    CHECK(v2.serial == "BOX-1");
    CHECK(v2.imsi == "2420");
    CHECK_FALSE(v2.firmware);
  }
}

TEST_CASE("StatusNotification: 1.6 connector n is EVSE n, connector 1", "[unit][adapters]") {
  const auto v16 = adapters::read<StatusReport>(
      OcppVersion::v16,
      json{{"connectorId", 2}, {"errorCode", "GroundFailure"}, {"status", "Faulted"}});
  CHECK(v16.evse_id == 2);
  CHECK(v16.connector_id == 1);
  CHECK(v16.status == "Faulted");
  CHECK(v16.error_code == "GroundFailure");
  CHECK_FALSE(v16.reported_at);
  const auto station = adapters::read<StatusReport>(
      OcppVersion::v16,
      json{{"connectorId", 0}, {"errorCode", "NoError"}, {"status", "Available"}});
  CHECK(station.connector_id == 0);
  const auto v201 =
      adapters::read<StatusReport>(OcppVersion::v201, json{{"timestamp", "2026-12-05T10:00:00Z"},
                                                           {"connectorStatus", "Occupied"},
                                                           {"evseId", 3},
                                                           {"connectorId", 2}});
  CHECK(v201.evse_id == 3);
  CHECK(v201.connector_id == 2);
  CHECK(v201.status == "Occupied");
  CHECK(v201.reported_at == "2026-12-05T10:00:00Z");
}

TEST_CASE("Authorize gives the token and, from 2.x, its type", "[unit][adapters]") {
  const auto v16 = adapters::read<IdToken>(OcppVersion::v16, json{{"idTag", "04A1B2"}});
  CHECK(v16.value == "04A1B2");
  CHECK(v16.type.empty());
  const auto v21 = adapters::read<IdToken>(
      OcppVersion::v21, json{{"idToken", {{"idToken", "EMAID1"}, {"type", "eMAID"}}}});
  CHECK(v21.value == "EMAID1");
  CHECK(v21.type == "eMAID");
}

TEST_CASE("the same reading gives the same meter rows in every version", "[unit][adapters]") {
  const auto v16 = adapters::read<MeterReport>(
      OcppVersion::v16,
      json{
          {"connectorId", 1},
          {"transactionId", 7},
          {"meterValue",
           {{{"timestamp", "2026-12-05T10:00:00Z"},
             {"sampledValue",
              {{{"value", "12.5"}, {"unit", "kWh"}, {"measurand", "Energy.Active.Import.Register"}},
               {{"value", "230.1"}, {"measurand", "Voltage"}, {"phase", "L1-N"}}}}}}}});
  CHECK(v16.transaction_id == 7);
  const auto v201 = adapters::read<MeterReport>(
      OcppVersion::v201,
      json{{"evseId", 1},
           {"meterValue",
            {{{"timestamp", "2026-12-05T10:00:00Z"},
              {"sampledValue",
               {{{"value", 12.5},
                 {"unitOfMeasure", {{"unit", "kWh"}}},
                 {"measurand", "Energy.Active.Import.Register"}},
                {{"value", 230.1}, {"measurand", "Voltage"}, {"phase", "L1-N"}}}}}}}});
  CHECK_FALSE(v201.transaction_id);
  const auto rows16 = meter_rows("CP1", v16.evse_id, 7, v16.values);
  const auto rows201 = meter_rows("CP1", v201.evse_id, 7, v201.values);
  REQUIRE(rows16.size() == 2);
  REQUIRE(rows201.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(rows16[i].measurand == rows201[i].measurand);
    CHECK(rows16[i].value == rows201[i].value);
    CHECK(rows16[i].unit == rows201[i].unit);
    CHECK(rows16[i].phase == rows201[i].phase);
  }
  CHECK(rows16[0].value == 12500.0);
  CHECK(rows16[0].unit == "Wh");
  CHECK(rows16[1].unit == "V");  // no unit sent: the measurand's own
}

namespace {

// The field named by the BadMeterValue that storing `report`'s readings throws; "(accepted)"
// when they are stored.
std::string refused_field(const MeterReport& report) {
  try {
    meter_rows("CP1", 1, std::nullopt, report.values);
  } catch (const BadMeterValue& e) {
    return e.path;
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("meter readings that cannot be stored name their field", "[unit][adapters]") {
  const auto not_a_number = adapters::read<MeterReport>(
      OcppVersion::v16, json{{"connectorId", 1},
                             {"meterValue",
                              {{{"timestamp", "2026-12-05T10:00:00Z"},
                                {"sampledValue", {{{"value", "1"}}, {{"value", "nan"}}}}}}}});
  CHECK(refused_field(not_a_number) == "/meterValue/0/sampledValue/1/value");  // NaN
  const auto unknown_unit = adapters::read<MeterReport>(
      OcppVersion::v201,
      json{{"evseId", 1},
           {"meterValue",
            {{{"timestamp", "2026-12-05T10:00:00Z"},
              {"sampledValue", {{{"value", 5}, {"unitOfMeasure", {{"unit", "furlong"}}}}}}}}}});
  CHECK(refused_field(unknown_unit) == "/meterValue/0/sampledValue/0/unitOfMeasure/unit");
  const auto negative_register = adapters::read<MeterReport>(
      OcppVersion::v21,
      json{{"evseId", 1},
           {"meterValue",
            {{{"timestamp", "2026-12-05T10:00:00Z"}, {"sampledValue", {{{"value", -3}}}}}}}});
  CHECK_THROWS_AS(meter_rows("CP1", 1, std::nullopt, negative_register.values), BadMeterValue);
}

TEST_CASE("signed meter data is kept with its reading", "[unit][adapters]") {
  const auto v16 = adapters::read<MeterReport>(
      OcppVersion::v16,
      json{{"connectorId", 1},
           {"meterValue",
            {{{"timestamp", "2026-12-05T10:00:00Z"},
              {"sampledValue", {{{"value", "OCMF|{}|{}"}, {"format", "SignedData"}}}}}}}});
  const auto rows16 = meter_rows("CP1", 1, std::nullopt, v16.values);
  REQUIRE(rows16.size() == 1);
  CHECK(rows16[0].signed_data == "OCMF|{}|{}");
  CHECK_FALSE(rows16[0].value);
  const auto v201 = adapters::read<MeterReport>(
      OcppVersion::v201, json{{"evseId", 1},
                              {"meterValue",
                               {{{"timestamp", "2026-12-05T10:00:00Z"},
                                 {"sampledValue",
                                  {{{"value", 100},
                                    {"signedMeterValue",
                                     {{"signedMeterData", "T0NNRg=="},
                                      {"signingMethod", "ECDSA-secp256r1-SHA256"},
                                      {"encodingMethod", "OCMF"},
                                      {"publicKey", ""}}}}}}}}}});
  const auto rows201 = meter_rows("CP1", 1, std::nullopt, v201.values);
  REQUIRE(rows201.size() == 1);
  CHECK(rows201[0].value == 100.0);
  REQUIRE(rows201[0].signed_data);
  CHECK(json::parse(*rows201[0].signed_data).at("encodingMethod") == "OCMF");
}

TEST_CASE("EV charging needs: AC, DC and 2.1 bidirectional parameters", "[unit][adapters]") {
  const auto ac = adapters::read<EvChargingNeeds>(
      OcppVersion::v201, json{{"evseId", 2},
                              {"chargingNeeds",
                               {{"requestedEnergyTransfer", "AC_three_phase"},
                                {"departureTime", "2026-12-05T17:00:00Z"},
                                {"acChargingParameters",
                                 {{"energyAmount", 30000},
                                  {"evMinCurrent", 6},
                                  {"evMaxCurrent", 32},
                                  {"evMaxVoltage", 400}}}}}});
  CHECK(ac.evse_id == 2);
  CHECK(ac.requested_energy_transfer == "AC_three_phase");
  CHECK(ac.departure_time == "2026-12-05T17:00:00Z");
  CHECK(ac.energy_amount_wh == 30000.0);
  CHECK(ac.ev_max_current_a == 32.0);
  const auto v2x = adapters::read<EvChargingNeeds>(OcppVersion::v21,
                                                   json{{"evseId", 1},
                                                        {"chargingNeeds",
                                                         {{"requestedEnergyTransfer", "DC_BPT"},
                                                          {"controlMode", "DynamicControl"},
                                                          {"v2xChargingParameters",
                                                           {{"maxChargePower", 11000.0},
                                                            {"maxDischargePower", 10000.0},
                                                            {"evTargetEnergyRequest", 42000.0},
                                                            {"evMinEnergyRequest", 5000.0}}}}}});
  CHECK(v2x.ev_max_power_w == 11000.0);
  CHECK(v2x.ev_max_discharge_power_w == 10000.0);
  CHECK(v2x.energy_amount_wh == 42000.0);
  CHECK(v2x.ev_min_energy_request_wh == 5000.0);
  CHECK(v2x.control_mode == "DynamicControl");
  CHECK_THROWS_AS(adapters::read<EvChargingNeeds>(OcppVersion::v16, json::object()),
                  std::logic_error);
}

TEST_CASE("Transactions: 1.6 Start/StopTransaction and 2.x TransactionEvent become typed messages",
          "[unit][adapters]") {
  const auto start = adapters::read<TransactionStart>(OcppVersion::v16,
                                                      json{{"connectorId", 2},
                                                           {"idTag", "TAG-1"},
                                                           {"meterStart", 1500},
                                                           {"timestamp", "2026-12-05T08:00:00Z"}});
  CHECK(start.connector_id == 2);
  CHECK(start.id_tag == "TAG-1");
  CHECK(start.meter_start_wh == 1500);
  CHECK_FALSE(start.reservation_id);

  const auto stop = adapters::read<TransactionStop>(
      OcppVersion::v16,
      json{
          {"transactionId", 7},
          {"meterStop", 9000},
          {"timestamp", "2026-12-05T09:00:00Z"},
          {"transactionData",
           json::array({{{"timestamp", "2026-12-05T09:00:00Z"},
                         {"sampledValue", json::array({{{"value", "9.0"}, {"unit", "kWh"}}})}}})}});
  CHECK(stop.transaction_id == 7);
  CHECK(stop.reason == "Local");  // the schema's default when left out
  CHECK_FALSE(stop.id_tag);
  REQUIRE(stop.readings.size() == 1);
  CHECK(stop.readings[0].samples[0].path() == "/transactionData/0/sampledValue/0");
  const auto rows = meter_rows("CS", 0, 7, stop.readings);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].value == 9000.0);
  CHECK(rows[0].unit == "Wh");

  for (auto version : {OcppVersion::v201, OcppVersion::v21}) {
    const auto update = adapters::read<TransactionUpdate>(
        version,
        json{{"eventType", "Ended"},
             {"timestamp", "2026-12-05T09:00:00Z"},
             {"triggerReason", "EVCommunicationLost"},
             {"seqNo", 4},
             {"offline", true},
             {"transactionInfo",
              {{"transactionId", "TX-1"},
               {"chargingState", "Idle"},
               {"stoppedReason", "EVDisconnected"}}},
             {"evse", {{"id", 1}, {"connectorId", 2}}},
             {"idToken", {{"idToken", "EMAID"}, {"type", "eMAID"}}},
             {"meterValue",
              json::array(
                  {{{"timestamp", "2026-12-05T09:00:00Z"},
                    {"sampledValue",
                     json::array({{{"value", 12.5}, {"unitOfMeasure", {{"unit", "kWh"}}}}})}}})}});
    CHECK(update.event_type == "Ended");
    CHECK(update.seq_no == 4);
    CHECK(update.offline);
    CHECK(update.transaction_id == "TX-1");
    CHECK(update.charging_state == "Idle");
    CHECK(update.stopped_reason == "EVDisconnected");
    CHECK(update.evse_id == 1);
    CHECK(update.connector_id == 2);
    REQUIRE(update.id_token);
    CHECK(update.id_token->type == "eMAID");
    const auto span = register_span(meter_rows("CS", 1, std::nullopt, update.readings));
    CHECK(span.import_max == 12500.0);
  }
  // A message a version does not have is a registration mistake, not station input.
  CHECK_THROWS_AS(adapters::read<TransactionStart>(OcppVersion::v201, json::object()),
                  std::logic_error);
}

TEST_CASE("A typed request reaches its adapter as read, its JSON only when asked for",
          "[unit][adapters]") {
  const std::string frame =
      R"([2,"m1","MeterValues",{"connectorId":2,"meterValue":[{"timestamp":"2026-12-05T10:00:00Z",)"
      R"("sampledValue":[{"value":"1200","measurand":"Energy.Active.Import.Register"}]}]}])";
  auto typed = chargegrid::protocols::read_typed_call(frame, OcppVersion::v16);
  REQUIRE(typed);
  Payload payload(typed->request, typed->payload_json);
  // The text as the station sent it; the JSON parsed from it, equal to the DOM path's.
  CHECK(payload.text() == std::string(typed->payload_json));
  CHECK(payload.json() == json::parse(typed->payload_json));
  const auto report = adapters::read<MeterReport>(OcppVersion::v16, payload);
  CHECK(report.evse_id == 2);
  REQUIRE(report.values.size() == 1);
  CHECK(report.values[0].samples[0].text == "1200");
  CHECK(report.values[0].samples[0].path("/value") == "/meterValue/0/sampledValue/0/value");
  // The typed reading is spent once taken: a second read converts the JSON, to the same.
  CHECK(std::holds_alternative<std::monostate>(typed->request));
  const auto again = adapters::read<MeterReport>(OcppVersion::v16, payload);
  CHECK(again.evse_id == 2);
  CHECK(again.values[0].samples[0].text == "1200");
}
