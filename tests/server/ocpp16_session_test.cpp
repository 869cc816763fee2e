// OCPP 1.6J end to end: a station boots, charges and stops; everything it sent
// is in PostgreSQL, replays change nothing, and energy comes from the register.

#include <catch2/catch.hpp>

#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

const StationIdentity wallbox{"ACME", "Wallbox 22", "SN-1", "1.2.3"};

void add_token(ServerFixture& fx, const std::string& token, const std::string& status,
               const std::string& extra = "") {
  auto c = fx.sql();
  pqxx::work tx(c);
  tx.exec("INSERT INTO id_tokens (id_token, status" +
          std::string(extra.empty() ? "" : ", valid_until") + ") VALUES (" + tx.quote(token) +
          ", " + tx.quote(status) + (extra.empty() ? "" : ", " + extra) + ")");
  tx.commit();
}

json meter_values(int connector, int transaction_id, const std::string& at,
                  const std::string& kwh) {
  return {
      {"connectorId", connector},
      {"transactionId", transaction_id},
      {"meterValue",
       json::array(
           {{{"timestamp", at},
             {"sampledValue",
              json::array(
                  {{{"value", kwh},
                    {"measurand", "Energy.Active.Import.Register"},
                    {"unit", "kWh"},
                    {"context", "Sample.Periodic"}},
                   {{"value", "7.2"}, {"measurand", "Power.Active.Import"}, {"unit", "kW"}},
                   {{"value", "16.0"},
                    {"measurand", "Current.Import"},
                    {"phase", "L1"},
                    {"unit", "A"}},
                   {{"value", "231.5"}, {"measurand", "Voltage"}, {"phase", "L1-N"}, {"unit", "V"}},
                   {{"value", "54"}, {"measurand", "SoC"}, {"unit", "Percent"}}})}}})}};
}

}  // namespace

TEST_CASE("OCPP 1.6: a full charging session is stored", "[integration][ocpp16]") {
  ServerFixture fx;
  add_token(fx, "RFID-1", "Accepted");
  auto station = fx.connect("CP-16-A", "ocpp1.6");

  auto boot = station->call("BootNotification", boot_16(wallbox));
  REQUIRE(is_result(boot));
  CHECK(boot[2]["status"] == "Accepted");
  CHECK(boot[2]["interval"].get<int>() > 0);
  CHECK(fx.query_value("SELECT vendor || '/' || model || '/' || firmware_version FROM stations "
                       "WHERE id = 'CP-16-A'") == "ACME/Wallbox 22/1.2.3");

  REQUIRE(is_result(station->call("StatusNotification", {{"connectorId", 1},
                                                         {"errorCode", "NoError"},
                                                         {"status", "Preparing"},
                                                         {"timestamp", "2026-11-24T10:00:00Z"}})));
  CHECK(fx.query_value("SELECT status FROM connector_status WHERE station_id = 'CP-16-A' AND "
                       "evse_id = 1") == "Preparing");

  auto auth = station->call("Authorize", {{"idTag", "RFID-1"}});
  CHECK(auth[2]["idTagInfo"]["status"] == "Accepted");
  auto unknown = station->call("Authorize", {{"idTag", "NOBODY"}});
  CHECK(unknown[2]["idTagInfo"]["status"] == "Invalid");

  auto start = station->call("StartTransaction", {{"connectorId", 1},
                                                  {"idTag", "RFID-1"},
                                                  {"meterStart", 1000000},
                                                  {"timestamp", "2026-11-24T10:00:05Z"}});
  REQUIRE(is_result(start));
  CHECK(start[2]["idTagInfo"]["status"] == "Accepted");
  const int tx_id = start[2]["transactionId"].get<int>();

  REQUIRE(is_result(
      station->call("MeterValues", meter_values(1, tx_id, "2026-11-24T10:15:00Z", "1001.8"))));
  REQUIRE(is_result(
      station->call("MeterValues", meter_values(1, tx_id, "2026-11-24T10:30:00Z", "1003.6"))));

  auto stop = station->call("StopTransaction", {{"transactionId", tx_id},
                                                {"idTag", "RFID-1"},
                                                {"meterStop", 1005400},
                                                {"timestamp", "2026-11-24T10:45:00Z"},
                                                {"reason", "EVDisconnected"}});
  REQUIRE(is_result(stop));
  CHECK(stop[2]["idTagInfo"]["status"] == "Accepted");

  CHECK(fx.query_value("SELECT state FROM transactions WHERE id = " + std::to_string(tx_id)) ==
        "ended");
  // 1,005,400 Wh - 1,000,000 Wh, from the register, not from the power samples.
  CHECK(fx.query_value(
            "SELECT (import_last_wh - import_first_wh)::bigint FROM transactions WHERE id = " +
            std::to_string(tx_id)) == "5400");
  // kWh became Wh, kW became W, Percent became %.
  CHECK(fx.query_value("SELECT value FROM meter_values WHERE measurand = "
                       "'Energy.Active.Import.Register' ORDER BY sampled_at LIMIT 1") == "1001800");
  CHECK(fx.query_value("SELECT unit || ':' || value FROM meter_values WHERE measurand = "
                       "'Power.Active.Import' LIMIT 1") == "W:7200");
  CHECK(fx.query_value("SELECT unit FROM meter_values WHERE measurand = 'SoC' LIMIT 1") == "%");
  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE transaction_id = " +
                       std::to_string(tx_id)) == "10");
}

TEST_CASE("OCPP 1.6: replayed transaction messages change nothing", "[integration][ocpp16]") {
  ServerFixture fx;
  add_token(fx, "RFID-2", "Accepted");
  auto station = fx.connect("CP-16-R", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16(wallbox))));

  const json start_payload{{"connectorId", 2},
                           {"idTag", "RFID-2"},
                           {"meterStart", 500},
                           {"timestamp", "2026-11-24T11:00:00Z"}};
  // The same frame (same message id) twice, as a station resending after a reconnect.
  const std::string frame = json::array({2, "start-1", "StartTransaction", start_payload}).dump();
  station->send_text(frame);
  auto first = json::parse(*station->receive(std::chrono::seconds(10)));
  station.reset();
  station = fx.connect("CP-16-R", "ocpp1.6");
  station->send_text(frame);
  auto second = json::parse(*station->receive(std::chrono::seconds(10)));
  CHECK(first == second);
  // The same StartTransaction under a new message id is still the same transaction.
  auto third = station->call("StartTransaction", start_payload);
  CHECK(third[2]["transactionId"] == first[2]["transactionId"]);
  CHECK(fx.query_value("SELECT count(*) FROM transactions WHERE station_id = 'CP-16-R'") == "1");

  const int tx_id = first[2]["transactionId"].get<int>();
  auto values = meter_values(2, tx_id, "2026-11-24T11:10:00Z", "1.5");
  REQUIRE(is_result(station->call("MeterValues", values)));
  REQUIRE(is_result(station->call("MeterValues", values)));
  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE station_id = 'CP-16-R'") == "5");

  const json stop_payload{
      {"transactionId", tx_id}, {"meterStop", 2500}, {"timestamp", "2026-11-24T11:30:00Z"}};
  REQUIRE(is_result(station->call("StopTransaction", stop_payload)));
  REQUIRE(is_result(station->call("StopTransaction", stop_payload)));
  CHECK(fx.query_value(
            "SELECT (import_last_wh - import_first_wh)::bigint FROM transactions WHERE id = " +
            std::to_string(tx_id)) == "2000");
}

TEST_CASE("OCPP 1.6: tokens are Blocked, Expired or Invalid as stored", "[integration][ocpp16]") {
  ServerFixture fx;
  add_token(fx, "BLOCKED", "Blocked");
  add_token(fx, "OLD", "Accepted", "now() - interval '1 day'");
  auto station = fx.connect("CP-16-T", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16(wallbox))));
  CHECK(station->call("Authorize", {{"idTag", "BLOCKED"}})[2]["idTagInfo"]["status"] == "Blocked");
  CHECK(station->call("Authorize", {{"idTag", "OLD"}})[2]["idTagInfo"]["status"] == "Expired");
  CHECK(station->call("Authorize", {{"idTag", "NEW"}})[2]["idTagInfo"]["status"] == "Invalid");
}

TEST_CASE("OCPP 1.6: notifications and data transfer are kept", "[integration][ocpp16]") {
  ServerFixture fx;
  auto station = fx.connect("CP-16-N", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16(wallbox))));
  CHECK(is_result(station->call("Heartbeat", json::object())));
  CHECK(is_result(station->call("FirmwareStatusNotification", {{"status", "Downloading"}})));
  CHECK(is_result(station->call("DiagnosticsStatusNotification", {{"status", "Uploaded"}})));
  auto transfer = station->call("DataTransfer", {{"vendorId", "com.acme"}, {"data", "x"}});
  CHECK(transfer[2]["status"] == "UnknownVendorId");
  CHECK(fx.query_value("SELECT string_agg(kind || '=' || coalesce(status, '-'), ',' ORDER BY id) "
                       "FROM station_notifications WHERE station_id = 'CP-16-N'") ==
        "FirmwareStatusNotification=Downloading,DiagnosticsStatusNotification=Uploaded,"
        "DataTransfer=-");
}

TEST_CASE("OCPP 1.6: free vend accepts unknown tokens but not blocked ones",
          "[integration][ocpp16]") {
  auto config = chargegrid::testing::test_config();
  config.accept_unknown_tokens = true;
  ServerFixture fx(config);
  add_token(fx, "BLOCKED", "Blocked");
  auto station = fx.connect("CP-16-FREE", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16(wallbox))));
  CHECK(station->call("Authorize", {{"idTag", "ANYONE"}})[2]["idTagInfo"]["status"] == "Accepted");
  CHECK(station->call("Authorize", {{"idTag", "BLOCKED"}})[2]["idTagInfo"]["status"] == "Blocked");
}
