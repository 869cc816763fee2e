// What a station may and may not write: message ids reused after a reconnect are new
// messages (only the same id with the same frame is a resend), readings that are not finite
// or out of range are refused, integers that do not fit are refused, a NUL character gets a
// permanent answer, an ended session never changes, and a station never writes into another
// station's session.

#include <catch2/catch.hpp>
#include <random>

#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

// Sends `frame` as it is and returns the answer with message id `id`.
json send_frame(chargegrid::sim::OcppTestClient& client, const std::string& id,
                const std::string& frame) {
  client.send_text(frame);
  for (;;) {
    auto text = client.receive(std::chrono::seconds(10));
    REQUIRE(text);
    auto answer = json::parse(*text);
    if (answer.at(0) != 2 && answer.at(1) == id) return answer;
  }
}

json send_frame(chargegrid::sim::OcppTestClient& client, const std::string& frame) {
  return send_frame(client, json::parse(frame).at(1).get<std::string>(), frame);
}

std::string call_frame(const std::string& id, const std::string& action, const json& payload) {
  return json::array({2, id, action, payload}).dump();
}

json meter_values_16(int connector, std::optional<long long> transaction_id,
                     const std::string& value, const std::string& at,
                     const std::string& measurand = "Energy.Active.Import.Register") {
  json p{{"connectorId", connector},
         {"meterValue",
          json::array(
              {{{"timestamp", at},
                {"sampledValue", json::array({{{"value", value}, {"measurand", measurand}}})}}})}};
  if (transaction_id) p["transactionId"] = *transaction_id;
  return p;
}

json stop_16(long long transaction_id, long long meter_stop, const std::string& at) {
  return {{"transactionId", transaction_id}, {"meterStop", meter_stop}, {"timestamp", at}};
}

json event_201(const std::string& type, int seq, const std::string& uid, const std::string& at,
               std::optional<double> register_wh = std::nullopt) {
  auto e = transaction_event_201(type, seq, at, uid,
                                 type == "Started" ? "CablePluggedIn" : "EVCommunicationLost");
  if (register_wh)
    e["meterValue"] = json::array(
        {{{"timestamp", at},
          {"sampledValue", json::array({{{"value", *register_wh},
                                         {"measurand", "Energy.Active.Import.Register"}}})}}});
  return e;
}

using Station = std::unique_ptr<chargegrid::sim::OcppTestClient>;

// A booted station of each of 1.6 and 2.0.1, ids PREFIX-16 and PREFIX-201.
std::pair<Station, Station> boot_both(ServerFixture& fx, const std::string& prefix) {
  auto v16 = booted_16(fx, prefix + "-16");
  auto v201 = booted_201(fx, prefix + "-201");
  return {std::move(v16), std::move(v201)};
}

std::string path_of(const json& error) {
  return error.at(4).value("path", "");
}

}  // namespace

TEST_CASE("A message id reused on a new connection is a new message, the same frame is a resend",
          "[integration][integrity]") {
  ServerFixture fx;
  long long first = 0;
  {
    auto station = fx.connect("REUSE-16", "ocpp1.6");
    REQUIRE(is_result(send_frame(*station, call_frame("1", "BootNotification", boot_16()))));
    auto started = send_frame(
        *station, call_frame("2", "StartTransaction", start_16(1, 1000, "2026-11-24T08:00:00Z")));
    REQUIRE(is_result(started));
    first = started[2]["transactionId"].get<long long>();
    REQUIRE(
        is_result(send_frame(*station, call_frame("3", "StopTransaction",
                                                  stop_16(first, 16000, "2026-11-24T09:00:00Z")))));
    station->close();
  }
  // The station reboots and numbers its messages from 1 again.
  auto station = fx.connect("REUSE-16", "ocpp1.6");
  REQUIRE(is_result(send_frame(*station, call_frame("1", "BootNotification", boot_16()))));
  const auto start_frame =
      call_frame("2", "StartTransaction", start_16(2, 16000, "2026-11-24T10:00:00Z"));
  auto started = send_frame(*station, start_frame);
  REQUIRE(is_result(started));
  const auto second = started[2]["transactionId"].get<long long>();
  CHECK(second != first);
  // The very same frame again is a resend: the same answer, no second transaction.
  CHECK(send_frame(*station, start_frame) == started);
  REQUIRE(is_result(send_frame(
      *station, call_frame("3", "MeterValues",
                           meter_values_16(2, second, "23000", "2026-11-24T10:30:00Z")))));
  REQUIRE(
      is_result(send_frame(*station, call_frame("4", "StopTransaction",
                                                stop_16(second, 31000, "2026-11-24T11:00:00Z")))));

  CHECK(fx.query_value("SELECT count(*) FROM transactions WHERE station_id = 'REUSE-16'") == "2");
  CHECK(fx.query_value("SELECT string_agg((import_last_wh - import_first_wh)::bigint::text, ',' "
                       "ORDER BY id) FROM transactions WHERE station_id = 'REUSE-16'") ==
        "15000,15000");
  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE transaction_id = " +
                       std::to_string(second)) == "1");

  // 2.0.1: a restarted station's TransactionEvent with an id used before is stored too.
  for (const std::string uid : {"TX-A", "TX-B"}) {
    auto v201 = fx.connect("REUSE-201", "ocpp2.0.1");
    REQUIRE(is_result(send_frame(*v201, call_frame("1", "BootNotification", boot_201()))));
    REQUIRE(is_result(send_frame(
        *v201, call_frame("2", "TransactionEvent",
                          event_201("Started", 0, uid, "2026-11-24T12:00:00Z", 100.0)))));
    v201->close();
  }
  CHECK(fx.query_value("SELECT string_agg(transaction_uid, ',' ORDER BY transaction_uid) FROM "
                       "transactions WHERE station_id = 'REUSE-201'") == "TX-A,TX-B");
}

TEST_CASE("Readings that are not finite, negative registers and out-of-range values are refused",
          "[integration][integrity]") {
  ServerFixture fx;
  auto [v16, v201] = boot_both(fx, "NUM");
  const auto tx = start_transaction_16(*v16);

  for (const std::string bad : {"NaN", "nan", "Infinity", "inf", "-inf", "1e400", "-5", "2e15"}) {
    INFO(bad);
    auto e = v16->call("MeterValues", meter_values_16(1, tx, bad, "2026-11-24T08:10:00Z"));
    CHECK(error_code(e) == "PropertyConstraintViolation");
    CHECK(path_of(e) == "/meterValue/0/sampledValue/0/value");
  }
  // A negative value of a quantity that can be negative (power flowing back) is a reading.
  CHECK(is_result(v16->call("MeterValues", meter_values_16(1, tx, "-3000", "2026-11-24T08:10:00Z",
                                                           "Power.Active.Import"))));

  json bad_201{
      {"evseId", 1},
      {"meterValue",
       json::array(
           {{{"timestamp", "2026-11-24T08:10:00Z"},
             {"sampledValue", json::array({{{"value", -1.0},
                                            {"measurand", "Energy.Active.Import.Register"}}})}}})}};
  auto e201 = v201->call("MeterValues", bad_201);
  CHECK(error_code(e201) == "PropertyConstraintViolation");
  CHECK(path_of(e201) == "/meterValue/0/sampledValue/0/value");
  // 1e400 is no double: refused as out of range whatever the measurand.
  auto huge = send_frame(
      *v201, "h1",
      R"([2,"h1","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2026-11-24T08:10:00Z",)"
      R"("sampledValue":[{"value":1e400,"measurand":"Voltage"}]}]}])");
  CHECK(error_code(huge) == "PropertyConstraintViolation");
  CHECK(path_of(huge) == "/meterValue/0/sampledValue/0/value");

  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE measurand LIKE 'Energy%'") == "0");
  CHECK(fx.query_value("SELECT import_first_wh || '-' || import_last_wh FROM transactions") ==
        "1000-1000");
}

TEST_CASE("Integers that do not fit 32 bits are refused in every version",
          "[integration][integrity]") {
  ServerFixture fx;
  auto [v16, v201] = boot_both(fx, "INT");
  start_transaction_16(*v16);

  struct Case {
    chargegrid::sim::OcppTestClient* client;
    std::string frame;
    std::string path;
  };
  const std::vector<Case> cases{
      {v16.get(),
       R"([2,"i1","StopTransaction",{"transactionId":4294967297,"meterStop":2000,"timestamp":"2026-11-24T09:00:00Z"}])",
       "/transactionId"},
      {v16.get(),
       R"([2,"i2","StopTransaction",{"transactionId":2147483648,"meterStop":2000,"timestamp":"2026-11-24T09:00:00Z"}])",
       "/transactionId"},
      {v16.get(),
       R"([2,"i3","StatusNotification",{"connectorId":2147483648,"errorCode":"NoError","status":"Available"}])",
       "/connectorId"},
      {v16.get(),
       R"([2,"i4","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":-2147483649,"timestamp":"2026-11-24T09:00:00Z"}])",
       "/meterStart"},
      {v201.get(),
       R"([2,"i5","StatusNotification",{"timestamp":"2026-11-24T09:00:00Z","connectorStatus":"Available","evseId":2147483648,"connectorId":1}])",
       "/evseId"},
      {v201.get(),
       R"([2,"i6","TransactionEvent",{"eventType":"Started","timestamp":"2026-11-24T09:00:00Z","triggerReason":"Authorized","seqNo":9223372036854775808,"transactionInfo":{"transactionId":"T1"}}])",
       "/seqNo"},
  };
  for (const auto& c : cases) {
    INFO(c.frame);
    auto e = send_frame(*c.client, c.frame);
    CHECK(error_code(e) == "PropertyConstraintViolation");
    CHECK(path_of(e) == c.path);
  }
  CHECK(fx.query_value("SELECT count(*) FROM transactions WHERE state = 'ended'") == "0");
  CHECK(fx.query_value("SELECT count(*) FROM transactions") == "1");
  CHECK(fx.query_value("SELECT count(*) FROM connector_status") == "0");
}

TEST_CASE("A NUL character gets a permanent answer, never 'send it again later'",
          "[integration][integrity]") {
  ServerFixture fx;
  auto [v16, v201] = boot_both(fx, "NUL");

  auto e16 = send_frame(*v16, R"([2,"n1","DataTransfer",{"vendorId":"acme","data":"a\u0000b"}])");
  CHECK(error_code(e16) == "PropertyConstraintViolation");
  CHECK(path_of(e16) == "/data");
  auto e201 = send_frame(
      *v201, R"([2,"n2","DataTransfer",{"vendorId":"acme","data":{"list":["ok","x\u0000"]}}])");
  CHECK(error_code(e201) == "PropertyConstraintViolation");
  CHECK(path_of(e201) == "/data/list/1");
  auto tag = send_frame(*v16, R"([2,"n3","Authorize",{"idTag":"AB\u0000CD"}])");
  CHECK(error_code(tag) == "PropertyConstraintViolation");
  // An escaped backslash followed by "u0000" is ordinary text.
  CHECK(is_result(
      send_frame(*v16, R"([2,"n4","DataTransfer",{"vendorId":"acme","data":"a\\u0000b"}])")));
  CHECK(fx.query_value("SELECT count(*) FROM station_notifications") == "1");
}

TEST_CASE("An ended session never changes", "[integration][integrity]") {
  ServerFixture fx;
  auto v16 = booted_16(fx, "END-16");
  const auto tx = start_transaction_16(*v16);
  REQUIRE(is_result(v16->call("StopTransaction", stop_16(tx, 16000, "2026-11-24T09:00:00Z"))));
  const std::string row_sql =
      "SELECT state || ' ' || ended_at || ' ' || meter_stop_wh || ' ' || import_first_wh || ' ' "
      "|| import_last_wh FROM transactions WHERE id = " +
      std::to_string(tx);
  const auto ended = fx.query_value(row_sql);

  // A conflicting stop (before the start, below the start register) is answered and ignored.
  json conflicting = stop_16(tx, 500, "2026-11-24T07:00:00Z");
  conflicting["transactionData"] =
      json::array({{{"timestamp", "2026-11-24T07:00:00Z"},
                    {"sampledValue", json::array({{{"value", "500"}}})}}});
  CHECK(is_result(v16->call("StopTransaction", conflicting)));
  // The same stop sent again under a new message id changes nothing either.
  CHECK(is_result(v16->call("StopTransaction", stop_16(tx, 16000, "2026-11-24T09:00:00Z"))));
  // Late readings of the station's own ended session are kept, but do not move its figures.
  CHECK(
      is_result(v16->call("MeterValues", meter_values_16(1, tx, "99000", "2026-11-24T09:30:00Z"))));
  CHECK(fx.query_value(row_sql) == ended);
  // ... and so are the readings of the conflicting stop: kept, without moving the session.
  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE value IN (500, 99000)") == "2");

  // 2.0.1: a second Ended (new seqNo) is kept as an event, and changes nothing.
  auto v201 = fx.connect("END-201", "ocpp2.0.1");
  REQUIRE(is_result(v201->call("BootNotification", boot_201())));
  REQUIRE(is_result(v201->call("TransactionEvent",
                               event_201("Started", 0, "E1", "2026-11-24T08:00:00Z", 2000.0))));
  REQUIRE(is_result(
      v201->call("TransactionEvent", event_201("Ended", 1, "E1", "2026-11-24T09:00:00Z", 9000.0))));
  const std::string row_201 =
      "SELECT state || ' ' || ended_at || ' ' || meter_stop_wh || ' ' || import_first_wh || ' ' "
      "|| import_last_wh FROM transactions WHERE transaction_uid = 'E1'";
  const auto ended_201 = fx.query_value(row_201);
  CHECK(ended_201.find("9000") != std::string::npos);
  CHECK(is_result(
      v201->call("TransactionEvent", event_201("Ended", 2, "E1", "2026-11-24T07:00:00Z", 100.0))));
  CHECK(is_result(v201->call("TransactionEvent",
                             event_201("Updated", 3, "E1", "2026-11-24T10:00:00Z", 50000.0))));
  CHECK(fx.query_value(row_201) == ended_201);
  CHECK(fx.query_value("SELECT count(*) FROM transaction_events WHERE transaction_uid = 'E1'") ==
        "4");
}

TEST_CASE("A station never writes into another station's session", "[integration][integrity]") {
  ServerFixture fx;
  auto owner = booted_16(fx, "OWNER");
  auto intruder = booted_16(fx, "INTRUDER");
  const auto tx = start_transaction_16(*owner);

  // Readings naming the other station's transaction, and one never issued.
  CHECK(is_result(
      intruder->call("MeterValues", meter_values_16(1, tx, "900000", "2026-11-24T08:30:00Z"))));
  CHECK(is_result(intruder->call("MeterValues",
                                 meter_values_16(1, tx + 1000, "800000", "2026-11-24T08:31:00Z"))));
  // A stop for it, with readings.
  json stop = stop_16(tx, 700000, "2026-11-24T08:40:00Z");
  stop["transactionData"] = json::array({{{"timestamp", "2026-11-24T08:40:00Z"},
                                          {"sampledValue", json::array({{{"value", "700000"}}})}}});
  CHECK(is_result(intruder->call("StopTransaction", stop)));

  // The owner's session is untouched; the intruder's readings are its own, without one.
  CHECK(fx.query_value("SELECT state || ' ' || import_last_wh FROM transactions WHERE id = " +
                       std::to_string(tx)) == "active 1000");
  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE transaction_id IS NOT NULL") ==
        "0");
  CHECK(fx.query_value("SELECT count(*) FROM meter_values WHERE station_id = 'INTRUDER' AND "
                       "transaction_id IS NULL") == "3");
}

TEST_CASE("Unknown stations rejected at boot leave no row", "[integration][integrity]") {
  auto config = chargegrid::testing::test_config();
  config.unknown_stations = chargegrid::server::UnknownStationPolicy::Reject;
  ServerFixture fx(config);
  std::mt19937 random(7);
  for (int i = 0; i < 20; ++i) {
    auto station = fx.connect("RANDOM-" + std::to_string(random()), "ocpp1.6");
    auto boot = station->call("BootNotification", boot_16());
    REQUIRE(is_result(boot));
    CHECK(boot[2]["status"] == "Rejected");
    // Anything else is refused until it is accepted.
    CHECK(error_code(station->call("Heartbeat", json::object())) == "SecurityError");
    station->close();
  }
  CHECK(fx.query_value("SELECT count(*) FROM stations") == "0");
}
