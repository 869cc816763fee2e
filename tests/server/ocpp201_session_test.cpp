// OCPP 2.0.1 end to end: TransactionEvent Started/Updated/Ended with meter
// values, in order, out of order and replayed.

#include <catch2/catch.hpp>

#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

const StationIdentity v2g_pro{"Volt", "V2G Pro", "V-77", "2.0"};

json energy_sample(double kwh, const std::string& at,
                   const std::string& measurand = "Energy.Active.Import.Register") {
  return json::array(
      {{{"timestamp", at},
        {"sampledValue",
         json::array(
             {{{"value", kwh}, {"measurand", measurand}, {"unitOfMeasure", {{"unit", "kWh"}}}},
              {{"value", 11.0},
               {"measurand", "Power.Active.Import"},
               {"unitOfMeasure", {{"unit", "W"}, {"multiplier", 3}}}}})}}});
}

json event(const std::string& type, int seq, const std::string& at, const std::string& trigger,
           json meter = nullptr) {
  auto e = transaction_event_201(type, seq, at, "TX-9", trigger);
  if (type == "Started") e["idToken"] = {{"idToken", "EMAID-1"}, {"type", "eMAID"}};
  if (type == "Ended") e["transactionInfo"]["stoppedReason"] = "EVDisconnected";
  if (!meter.is_null()) e["meterValue"] = std::move(meter);
  return e;
}

void add_token(ServerFixture& fx) {
  auto c = fx.sql();
  pqxx::work tx(c);
  tx.exec("INSERT INTO id_tokens (id_token, token_type) VALUES ('EMAID-1', 'eMAID')");
  tx.commit();
}

}  // namespace

TEST_CASE("OCPP 2.0.1: a transaction's events are stored and its energy is the register span",
          "[integration][ocpp201]") {
  ServerFixture fx;
  add_token(fx);
  auto station = fx.connect("CS-201", "ocpp2.0.1");
  auto boot = station->call("BootNotification", boot_201(v2g_pro));
  REQUIRE(is_result(boot));
  CHECK(boot[2]["status"] == "Accepted");
  CHECK(fx.query_value("SELECT vendor FROM stations WHERE id = 'CS-201'") == "Volt");

  REQUIRE(is_result(station->call("StatusNotification", {{"timestamp", "2026-11-24T09:00:00Z"},
                                                         {"connectorStatus", "Occupied"},
                                                         {"evseId", 1},
                                                         {"connectorId", 1}})));
  auto started =
      station->call("TransactionEvent", event("Started", 0, "2026-11-24T09:00:01Z", "Authorized",
                                              energy_sample(20.0, "2026-11-24T09:00:01Z")));
  REQUIRE(is_result(started));
  CHECK(started[2]["idTokenInfo"]["status"] == "Accepted");
  REQUIRE(is_result(station->call("TransactionEvent",
                                  event("Updated", 1, "2026-11-24T09:15:00Z", "MeterValuePeriodic",
                                        energy_sample(22.5, "2026-11-24T09:15:00Z")))));
  REQUIRE(is_result(station->call("TransactionEvent",
                                  event("Ended", 2, "2026-11-24T09:30:00Z", "EVCommunicationLost",
                                        energy_sample(25.25, "2026-11-24T09:30:00Z")))));

  CHECK(fx.query_value("SELECT state || ':' || stop_reason FROM transactions WHERE "
                       "transaction_uid = 'TX-9'") == "ended:EVDisconnected");
  CHECK(fx.query_value("SELECT (import_last_wh - import_first_wh)::bigint FROM transactions WHERE "
                       "transaction_uid = 'TX-9'") == "5250");
  CHECK(fx.query_value("SELECT meter_start_wh || '-' || meter_stop_wh FROM transactions WHERE "
                       "transaction_uid = 'TX-9'") == "20000-25250");
  CHECK(fx.query_value("SELECT value FROM meter_values WHERE measurand = 'Power.Active.Import' "
                       "LIMIT 1") == "11000");
  CHECK(fx.query_value("SELECT count(*) FROM transaction_events") == "3");
}

TEST_CASE("OCPP 2.0.1: out-of-order and replayed events give the same transaction",
          "[integration][ocpp201]") {
  ServerFixture fx;
  add_token(fx);
  auto station = fx.connect("CS-201-OOO", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201(v2g_pro))));

  // An offline queue delivered backwards, then all of it again.
  auto ended = event("Ended", 2, "2026-11-24T09:30:00Z", "EVCommunicationLost",
                     energy_sample(25.0, "2026-11-24T09:30:00Z"));
  ended["offline"] = true;
  auto updated = event("Updated", 1, "2026-11-24T09:15:00Z", "MeterValuePeriodic",
                       energy_sample(22.0, "2026-11-24T09:15:00Z"));
  auto started_event = event("Started", 0, "2026-11-24T09:00:00Z", "Authorized",
                             energy_sample(20.0, "2026-11-24T09:00:00Z"));
  for (int round = 0; round < 2; ++round) {
    REQUIRE(is_result(station->call("TransactionEvent", ended)));
    REQUIRE(is_result(station->call("TransactionEvent", updated)));
    REQUIRE(is_result(station->call("TransactionEvent", started_event)));
  }
  CHECK(fx.query_value("SELECT count(*) FROM transactions") == "1");
  CHECK(fx.query_value("SELECT state FROM transactions") == "ended");
  CHECK(fx.query_value("SELECT (started_at = '2026-11-24T09:00:00Z' AND ended_at = "
                       "'2026-11-24T09:30:00Z')::text FROM transactions") == "true");
  CHECK(fx.query_value("SELECT (import_last_wh - import_first_wh)::bigint FROM transactions") ==
        "5000");
  CHECK(fx.query_value("SELECT meter_start_wh || '-' || meter_stop_wh FROM transactions") ==
        "20000-25000");
  CHECK(fx.query_value("SELECT count(*) FROM meter_values") == "6");
}

TEST_CASE("OCPP 2.0.1: V2G export is measured from the export register", "[integration][ocpp201]") {
  ServerFixture fx;
  auto station = fx.connect("CS-V2G", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201(v2g_pro))));
  auto e0 = event("Started", 0, "2026-11-24T18:00:00Z", "CablePluggedIn",
                  energy_sample(3.0, "2026-11-24T18:00:00Z", "Energy.Active.Export.Register"));
  e0.erase("idToken");
  auto e1 = event("Ended", 1, "2026-11-24T19:00:00Z", "EVCommunicationLost",
                  energy_sample(10.5, "2026-11-24T19:00:00Z", "Energy.Active.Export.Register"));
  REQUIRE(is_result(station->call("TransactionEvent", e0)));
  REQUIRE(is_result(station->call("TransactionEvent", e1)));
  CHECK(fx.query_value("SELECT (export_last_wh - export_first_wh)::bigint FROM transactions") ==
        "7500");
}

TEST_CASE("OCPP 2.0.1: security events, reports and notifications are kept",
          "[integration][ocpp201]") {
  ServerFixture fx;
  auto station = fx.connect("CS-201-N", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201(v2g_pro))));
  CHECK(is_result(station->call(
      "SecurityEventNotification",
      {{"type", "TamperDetectionActivated"}, {"timestamp", "2026-11-24T08:00:00Z"}})));
  CHECK(is_result(station->call(
      "NotifyReport", {{"requestId", 7}, {"generatedAt", "2026-11-24T08:00:00Z"}, {"seqNo", 0}})));
  CHECK(is_result(
      station->call("LogStatusNotification", {{"status", "Uploaded"}, {"requestId", 3}})));
  CHECK(is_result(station->call("FirmwareStatusNotification", {{"status", "Installed"}})));
  CHECK(is_result(
      station->call("NotifyEvent",
                    {{"generatedAt", "2026-11-24T08:00:00Z"},
                     {"seqNo", 0},
                     {"eventData", json::array({{{"eventId", 1},
                                                 {"timestamp", "2026-11-24T08:00:00Z"},
                                                 {"trigger", "Alerting"},
                                                 {"actualValue", "true"},
                                                 {"eventNotificationType", "HardWiredNotification"},
                                                 {"component", {{"name", "Door"}}},
                                                 {"variable", {{"name", "Open"}}}}})}})));
  CHECK(fx.query_value("SELECT event_type FROM security_events") == "TamperDetectionActivated");
  CHECK(fx.query_value("SELECT string_agg(kind, ',' ORDER BY id) FROM station_notifications") ==
        "NotifyReport,LogStatusNotification,FirmwareStatusNotification,NotifyEvent");
  auto transfer = station->call("DataTransfer", {{"vendorId", "com.acme"}});
  CHECK(transfer[2]["status"] == "UnknownVendorId");
}
