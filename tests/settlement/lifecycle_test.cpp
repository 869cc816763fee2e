// The session lifecycle around settlement, end to end on a real server and PostgreSQL: the
// settle delay is a planned wait of the outbox (no failed attempt), and sessions no station will
// end — silent past --session-timeout, or replaced on their EVSE — are closed by the server and
// settled exactly once; a late stop for them changes nothing.

#include <catch2/catch.hpp>

#include "../api/api_fixture.hpp"
#include "chargegrid/testing/temp_folder.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

json register_reading(long long id, const std::string& at, const std::string& wh) {
  return {
      {"connectorId", 1},
      {"transactionId", id},
      {"meterValue",
       json::array({{{"timestamp", at},
                     {"sampledValue", json::array({{{"value", wh},
                                                    {"measurand", "Energy.Active.Import.Register"},
                                                    {"unit", "Wh"}}})}}})}};
}

json event_201(const std::string& type, int seq, const std::string& at, const std::string& uid,
               double kwh) {
  auto e =
      transaction_event_201(type, seq, at, uid, type == "Ended" ? "StopAuthorized" : "Authorized");
  e["idToken"] = {{"idToken", "EMAID-1"}, {"type", "eMAID"}};
  e["meterValue"] =
      json::array({{{"timestamp", at},
                    {"sampledValue", json::array({{{"value", kwh},
                                                   {"measurand", "Energy.Active.Import.Register"},
                                                   {"unitOfMeasure", {{"unit", "kWh"}}}}})}}});
  return e;
}

json settlement_of(ApiFixture& fx, long long session, std::chrono::seconds within) {
  HttpResult answer;
  const bool settled = fx.eventually(
      [&] {
        answer = fx.admin().get("/sessions/" + std::to_string(session) + "/settlement");
        return answer.status == 200;
      },
      within);
  INFO(answer.body);
  REQUIRE(settled);
  return answer.data;
}

std::string settlement_rows(ApiFixture& fx, long long session) {
  return fx.query_value("SELECT count(*) FROM settlements WHERE session_id = " +
                        std::to_string(session));
}

}  // namespace

TEST_CASE("the settle delay is a planned wait of the outbox, not a failed attempt",
          "[integration][settlement]") {
  ApiFixture fx(free_vend_config());
  fx.make_depot("CS-DELAY");
  auto station = fx.connect("CS-DELAY", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  const auto id = start_transaction_16(*station, 1000);
  REQUIRE(is_result(station->call("StopTransaction", {{"transactionId", id},
                                                      {"meterStop", 2000},
                                                      {"timestamp", "2026-11-24T08:30:00Z"},
                                                      {"reason", "Local"}})));
  const auto s = settlement_of(fx, id, std::chrono::seconds(10));
  CHECK(s["energy_imported_wh"] == 1000);
  // Due 1.5 s after it was written, taken once, never failed.
  CHECK(fx.query_value("SELECT deliver_after_ms FROM outbox_consumers WHERE consumer = "
                       "'settlement' AND topic = 'session.ended'") == "1500");
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE consumer = 'settlement' AND attempts = 0 "
                       "AND last_error IS NULL AND done_at IS NOT NULL "
                       "AND available_at >= created_at + interval '1.5 s' "
                       "AND done_at >= available_at") == "1");
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE consumer = 'settlement'") == "1");
  CHECK(fx.query_value("SELECT count(*) FROM settlements s JOIN outbox o ON "
                       "o.consumer = 'settlement' WHERE s.settled_at >= o.available_at") == "1");
}

TEST_CASE("a session silent past --session-timeout is closed by the server and settled once",
          "[integration][settlement]") {
  auto config = free_vend_config();
  config.session_timeout_s = 1.5;
  ApiFixture fx(config);
  fx.make_depot("CS-SILENT");
  auto station = fx.connect("CS-SILENT", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  const auto id = start_transaction_16(*station, 1000);  // 2026-11-24T08:00:00Z
  REQUIRE(is_result(
      station->call("MeterValues", register_reading(id, "2026-11-24T08:20:00Z", "3000"))));

  // Ended at its last register reading, that register as the stop; then settled.
  const auto s = settlement_of(fx, id, std::chrono::seconds(15));
  CHECK(fx.query_value("SELECT state || ' ' || stop_reason || ' ' || closed_by_server || ' ' || "
                       "meter_stop_wh FROM transactions WHERE id = " +
                       std::to_string(id)) == "ended Timeout timeout 3000");
  const auto& record = s["record"];
  CHECK(record["end"] == "2026-11-24T08:20:00.000Z");
  CHECK(record["meter_stop"]["register_wh"] == 3000);
  CHECK(record["energy_imported_wh"] == 2000);
  CHECK(s["status"] == "unsigned");

  // The station's stop, late: answered, nothing recorded, no second settlement.
  const auto late = station->call(
      "StopTransaction",
      {{"transactionId", id},
       {"meterStop", 4000},
       {"timestamp", "2026-11-24T09:00:00Z"},
       {"reason", "Local"},
       {"transactionData",
        json::array({{{"timestamp", "2026-11-24T09:00:00Z"},
                      {"sampledValue", json::array({{{"value", "4000"},
                                                     {"measurand", "Energy.Active.Import.Register"},
                                                     {"unit", "Wh"}}})}}})}});
  INFO(late.dump());
  CHECK(is_result(late));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(settlement_rows(fx, id) == "1");
  CHECK(fx.query_value("SELECT meter_stop_wh FROM transactions WHERE id = " + std::to_string(id)) ==
        "3000");
  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE value = 4000") == "0");
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE consumer = 'settlement'") == "1");
  CHECK(fx.query_value("SELECT count(*) FROM ledger_log_entry") == "1");
}

TEST_CASE("a session its EVSE replaced is closed by the server and settled once",
          "[integration][settlement]") {
  auto config = free_vend_config();
  config.session_timeout_s = 12;  // swept every 3 s; the newer session closes the old one first
  ApiFixture fx(config);
  fx.make_depot("CS-REPLACED");
  auto station = fx.connect("CS-REPLACED", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));
  REQUIRE(is_result(station->call("TransactionEvent",
                                  event_201("Started", 0, "2026-11-24T08:00:00Z", "TX-OLD", 1.0))));
  REQUIRE(is_result(station->call("TransactionEvent",
                                  event_201("Updated", 1, "2026-11-24T08:45:00Z", "TX-OLD", 6.5))));
  // The station rebooted without ending it and starts a new session on the same EVSE.
  REQUIRE(is_result(station->call("TransactionEvent",
                                  event_201("Started", 0, "2026-11-24T10:00:00Z", "TX-NEW", 7.0))));
  const auto old_id =
      std::stoll(fx.query_value("SELECT id FROM transactions WHERE transaction_uid = 'TX-OLD'"));
  const auto s = settlement_of(fx, old_id, std::chrono::seconds(20));
  CHECK(s["record"]["end"] == "2026-11-24T08:45:00.000Z");
  CHECK(s["record"]["energy_imported_wh"] == 5500);
  CHECK(fx.query_value("SELECT stop_reason || ' ' || closed_by_server FROM transactions "
                       "WHERE transaction_uid = 'TX-OLD'") == "Replaced replaced");
  CHECK(fx.query_value("SELECT state FROM transactions WHERE transaction_uid = 'TX-NEW'") ==
        "active");
  // Its Ended after all, twice: answered, the session and its one settlement stay.
  const auto ended = event_201("Ended", 2, "2026-11-24T09:00:00Z", "TX-OLD", 8.0);
  REQUIRE(is_result(station->call("TransactionEvent", ended)));
  REQUIRE(is_result(station->call("TransactionEvent", ended)));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(settlement_rows(fx, old_id) == "1");
  CHECK(fx.query_value("SELECT to_char(ended_at AT TIME ZONE 'UTC', 'HH24:MI') FROM "
                       "transactions WHERE transaction_uid = 'TX-OLD'") == "08:45");
}
