// The settlement service end to end: a real server and PostgreSQL, stations over real sockets.
// Ended sessions become one settlement each (verified, unsigned or invalid), appended to the
// verifiable log with their "settlement.recorded" event, whatever the stations repeat.

#include <catch2/catch.hpp>

#include "../api/api_fixture.hpp"
#include "chargegrid/ledger/settlement_record.hpp"
#include "chargegrid/testing/temp_folder.hpp"
#include "samples.hpp"
#include "store/demand_response.hpp"
#include "test_meter.hpp"

using namespace chargegrid::testing;
using namespace chargegrid::settlement_testing;
using nlohmann::json;

namespace {

// Free vend, and the file adapter subscribed to "settlement.recorded".
chargegrid::server::Config settling_config(const std::filesystem::path& folder) {
  auto config = free_vend_config();
  config.ledger_adapters = {"file"};
  config.ledger_file = (folder / "ledger.jsonl").string();
  return config;
}

// A server of settling_config writing to a folder of its own, removed after the server stops.
class SettlingFixture : private TempFolder, public ApiFixture {
 public:
  SettlingFixture() : ApiFixture(settling_config(TempFolder::path())) {}
};

json event(const std::string& type, int seq, const std::string& at, const std::string& uid,
           json meter = nullptr) {
  auto e =
      transaction_event_201(type, seq, at, uid, type == "Ended" ? "StopAuthorized" : "Authorized");
  if (type == "Started") e["idToken"] = {{"idToken", "EMAID-1"}, {"type", "eMAID"}};
  if (type == "Ended") e["transactionInfo"]["stoppedReason"] = "Local";
  if (!meter.is_null()) e["meterValue"] = std::move(meter);
  return e;
}

// One signed register reading as a 2.0.1 meterValue.
json signed_reading(const chargegrid::ledger::ocmf::SafeValue& value, double kwh,
                    const std::string& at, const std::string& context) {
  return json::array(
      {{{"timestamp", at},
        {"sampledValue", json::array({{{"value", kwh},
                                       {"context", context},
                                       {"measurand", "Energy.Active.Import.Register"},
                                       {"unitOfMeasure", {{"unit", "kWh"}}},
                                       {"signedMeterValue", signed_meter_value(value)}}})}}});
}

// A 2.0.1 session signed with the two values of an OCMF sample file (Begin, End), at the times
// the readings carry (2021-08-25T08:01:04Z and 08:01:09Z for the ebee samples).
// `hour` moves the OCPP timestamps (not the signed ones) for a second session of the station.
void signed_session(chargegrid::sim::OcppTestClient& station, const std::string& file,
                    const std::string& uid, const std::string& hour = "08") {
  auto values = ocmf_sample(file);
  REQUIRE(values.size() == 2);
  const auto begin = "2021-08-25T" + hour + ":01:04Z", end = "2021-08-25T" + hour + ":01:09Z";
  REQUIRE(is_result(station.call(
      "TransactionEvent", event("Started", 0, begin, uid,
                                signed_reading(values[0], 7.753, begin, "Transaction.Begin")))));
  REQUIRE(is_result(station.call(
      "TransactionEvent",
      event("Ended", 1, end, uid, signed_reading(values[1], 7.753, end, "Transaction.End")))));
}

std::int64_t session_of(ServerFixture& fx, const std::string& uid) {
  return std::stoll(
      fx.query_value("SELECT id FROM transactions WHERE transaction_uid = '" + uid + "'"));
}

// The settlement of a session once it is there (a few seconds after the end).
json settlement(ApiFixture& fx, std::int64_t session) {
  HttpResult answer;
  const bool settled = fx.eventually(
      [&] {
        answer = fx.admin().get("/sessions/" + std::to_string(session) + "/settlement");
        return answer.status == 200;
      },
      std::chrono::seconds(15));
  INFO(answer.body);
  REQUIRE(settled);
  return answer.data;
}

}  // namespace

TEST_CASE("a signed 2.0.1 session is settled once, verified, in the log and the outbox",
          "[integration][settlement]") {
  SettlingFixture fx;
  const auto site = fx.make_depot("CS-SIGNED");
  auto station = booted_201(fx, "CS-SIGNED");
  signed_session(*station, "safe-transparenzsoftware/test_ocmf_ebee_01.xml", "TX-S1");
  // The end again, and a second Ended: the session and its settlement stay as they are.
  auto values = ocmf_sample("safe-transparenzsoftware/test_ocmf_ebee_01.xml");
  const auto again =
      event("Ended", 1, "2021-08-25T08:01:09Z", "TX-S1",
            signed_reading(values[1], 7.753, "2021-08-25T08:01:09Z", "Transaction.End"));
  REQUIRE(is_result(station->call("TransactionEvent", again)));
  REQUIRE(is_result(
      station->call("TransactionEvent", event("Ended", 2, "2021-08-25T08:01:10Z", "TX-S1"))));

  const auto session = session_of(fx, "TX-S1");
  const auto s = settlement(fx, session);
  CHECK(s["status"] == "verified");
  CHECK(s["reason"].is_null());
  CHECK(s["log_index"] == 0);
  CHECK(s["site_id"] == site);
  const auto& record = s["record"];
  CHECK(record["schema_version"] == 2);
  CHECK(record["session_id"] == std::to_string(session));
  CHECK(record["transaction_id"] == "TX-S1");
  CHECK(record["meter_evidence"]["status"] == "verified");
  CHECK(record["meter_evidence"]["signed_data"].size() == 2);
  CHECK(record["meter_start"]["register_wh"] == 7753);
  CHECK(record["meter_stop"]["register_wh"] == 7753);
  CHECK(record["energy_imported_wh"] == 0);
  CHECK(record["start"] == "2021-08-25T08:01:04.000Z");
  CHECK(record["end"] == "2021-08-25T08:01:09.000Z");
  CHECK(record["errors"].empty());
  CHECK(record["currency"] == "XXX");  // the site has no tariff
  REQUIRE(record["intervals"].size() == 1);
  CHECK(record["intervals"][0]["estimated"] == false);

  // The record is the log's entry, byte for byte, and its event was written with it.
  CHECK(fx.query_value("SELECT count(*) FROM ledger_log_entry") == "1");
  CHECK(fx.query_value("SELECT record FROM ledger_log_entry WHERE idx = 0") ==
        fx.query_value("SELECT record FROM settlements"));
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE topic = 'settlement.recorded'") == "1");
  CHECK(fx.query_value("SELECT payload->>'settlement_id' FROM outbox WHERE topic = "
                       "'settlement.recorded'") == s["id"].get<std::string>());
  // The file adapter delivers it; the settlement shows so.
  CHECK(fx.eventually([&] {
    auto now = fx.admin().get("/sessions/" + std::to_string(session) + "/settlement");
    return now.data["adapters"].size() == 1 && now.data["adapters"][0]["name"] == "file" &&
           now.data["adapters"][0]["state"] == "delivered";
  }));

  // The first signed reading's key is pinned for the EVSE.
  auto key = fx.admin().get("/stations/CS-SIGNED/evses/1/meter-key");
  REQUIRE(key.status == 200);
  CHECK(key.data["source"] == "learnt");
  CHECK(key.data["public_key"] == key_hex(values[0].public_key));

  // Repeats after the settlement change nothing either.
  REQUIRE(is_result(station->call("TransactionEvent", again)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(fx.query_value("SELECT count(*) FROM settlements") == "1");
  CHECK(fx.query_value("SELECT count(*) FROM ledger_log_entry") == "1");
}

TEST_CASE("tampered signed data is invalid and flagged and a foreign key is a mismatch",
          "[integration][settlement]") {
  SettlingFixture fx;
  fx.make_depot("CS-TAMPER");
  auto station = booted_201(fx, "CS-TAMPER");
  signed_session(*station, "safe-transparenzsoftware/test_ocmf_ebee_02.xml", "TX-T1");
  auto tampered = settlement(fx, session_of(fx, "TX-T1"));
  CHECK(tampered["status"] == "invalid");
  CHECK(tampered["reason"] == "signature_invalid");
  CHECK(tampered["record"]["meter_evidence"]["status"] == "failed");
  CHECK(tampered["record"]["meter_evidence"]["detail"].get<std::string>().rfind(
            "signature_invalid: ", 0) == 0);
  // A key learnt from a reading that does not verify is not pinned.
  CHECK(fx.admin().get("/stations/CS-TAMPER/evses/1/meter-key").status == 404);

  // An operator registers another meter's key: the genuine readings no longer match it.
  const auto other =
      key_hex(ocmf_sample("safe-transparenzsoftware/test_ocmf_keba_kcp30.xml").at(0).public_key);
  auto put = fx.admin().send(boost::beast::http::verb::put, "/stations/CS-TAMPER/evses/1/meter-key",
                             json{{"public_key", other}}.dump());
  REQUIRE(put.status == 200);
  CHECK(put.data["source"] == "registered");
  signed_session(*station, "safe-transparenzsoftware/test_ocmf_ebee_01.xml", "TX-T2", "09");
  auto mismatch = settlement(fx, session_of(fx, "TX-T2"));
  CHECK(mismatch["status"] == "invalid");
  CHECK(mismatch["reason"] == "key_mismatch");
  CHECK(mismatch["log_index"] == 1);
  CHECK(fx.admin().get("/stations/CS-TAMPER/evses/1/meter-key").data["public_key"] == other);
}

TEST_CASE("meter keys: bad keys, unknown stations and other sites' stations are refused",
          "[integration][settlement][bad-input]") {
  ApiFixture fx;
  const auto site = fx.make_depot("CS-KEYS");
  const auto other_site = fx.make_site("Elsewhere");
  using boost::beast::http::verb;
  const std::string path = "/stations/CS-KEYS/evses/1/meter-key";
  auto bad = fx.admin().send(verb::put, path, json{{"public_key", "not a key"}}.dump());
  CHECK(bad.status == 422);
  CHECK(bad.detail().find("SubjectPublicKeyInfo") != std::string::npos);
  CHECK(fx.admin().send(verb::put, path, json{{"key", "00"}}.dump()).status == 422);
  CHECK(fx.admin().send(verb::put, path, "{").status == 400);
  const auto good =
      key_hex(ocmf_sample("safe-transparenzsoftware/test_ocmf_keba_kcp30.xml").at(0).public_key);
  CHECK(fx.admin()
            .send(verb::put, "/stations/NOPE/evses/1/meter-key", json{{"public_key", good}}.dump())
            .status == 404);
  CHECK(
      fx.admin()
          .send(verb::put, "/stations/CS-KEYS/evses/0/meter-key", json{{"public_key", good}}.dump())
          .status == 404);
  auto outsider =
      fx.client(fx.make_key(chargegrid::server::api::Role::FacilityManager, {other_site}));
  CHECK(outsider.send(verb::put, path, json{{"public_key", good}}.dump()).status == 404);
  CHECK(fx.query_value("SELECT count(*) FROM meter_keys") == "0");
  auto manager = fx.client(fx.make_key(chargegrid::server::api::Role::FacilityManager, {site}));
  CHECK(manager.send(verb::put, path, json{{"public_key", good}}.dump()).status == 200);
  CHECK(manager.get(path).data["public_key"] == good);
  CHECK(outsider.get(path).status == 404);
  CHECK(fx.admin().get("/sessions/999/settlement").status == 404);
}

TEST_CASE("a 1.6 session is settled unsigned and a register going backwards is an error in it",
          "[integration][settlement]") {
  SettlingFixture fx;
  const auto site = fx.make_depot("CS-16");
  auto station = booted_16(fx, "CS-16");
  const auto id = start_transaction_16(*station, 1000);  // 2026-11-24T08:00:00Z
  auto meter = [&](const std::string& at, const std::string& wh) {
    return station->call(
        "MeterValues",
        {{"connectorId", 1},
         {"transactionId", id},
         {"meterValue", json::array({{{"timestamp", at},
                                      {"sampledValue",
                                       json::array({{{"value", wh},
                                                     {"measurand", "Energy.Active.Import.Register"},
                                                     {"unit", "Wh"}}})}}})}});
  };
  REQUIRE(is_result(meter("2026-11-24T08:20:00Z", "3000")));
  REQUIRE(is_result(meter("2026-11-24T08:40:00Z", "2500")));  // backwards
  const json stop{{"transactionId", id},
                  {"meterStop", 4000},
                  {"timestamp", "2026-11-24T09:00:00Z"},
                  {"reason", "Local"}};
  REQUIRE(is_result(station->call("StopTransaction", stop)));
  REQUIRE(is_result(station->call("StopTransaction", stop)));  // replayed

  const auto s = settlement(fx, id);
  CHECK(s["status"] == "unsigned");
  const auto& record = s["record"];
  CHECK(record["meter_evidence"]["status"] == "not_signed");
  CHECK(record["meter_start"]["register_wh"] == 1000);
  CHECK(record["meter_stop"]["register_wh"] == 4000);
  CHECK(record["energy_imported_wh"] == 3000);
  REQUIRE(record["errors"].size() == 1);
  CHECK(record["errors"][0].get<std::string>().find("went backwards") != std::string::npos);
  REQUIRE(record["intervals"].size() == 4);
  for (const auto& interval : record["intervals"]) CHECK(interval["imported_wh"] >= 0);
  CHECK(record["intervals"][0]["start"] == "2026-11-24T08:00:00.000Z");
  CHECK(record["intervals"][0]["end"] == "2026-11-24T08:15:00.000Z");

  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(fx.query_value("SELECT count(*) FROM settlements") == "1");

  // The list, scoped like sessions, as JSON and as CSV.
  auto list = fx.admin().get("/settlements?site_id=" + std::to_string(site));
  REQUIRE(list.status == 200);
  REQUIRE(list.data["items"].size() == 1);
  CHECK(list.data["items"][0]["session_id"] == id);
  CHECK(fx.admin().get("/settlements?from=2026-11-25T00:00:00Z").data["items"].empty());
  CHECK(fx.admin().get("/settlements?from=yesterday").status == 400);
  auto csv = fx.admin().get_csv("/settlements");
  CHECK(csv.status == 200);
  CHECK(csv.content_type.rfind("text/csv", 0) == 0);
  CHECK(csv.body.rfind("id,session_id,station_id,site_id,status,reason,log_index,", 0) == 0);
  CHECK(std::count(csv.body.begin(), csv.body.end(), '\n') == 2);
  CHECK(csv.body.find(",unsigned,,0,") != std::string::npos);
  const auto other = fx.make_site("Elsewhere");
  auto outsider = fx.client(fx.make_key(chargegrid::server::api::Role::FacilityManager, {other}));
  CHECK(outsider.get("/settlements").data["items"].empty());
  CHECK(outsider.get("/sessions/" + std::to_string(id) + "/settlement").status == 404);
}

TEST_CASE("a 1.6 session with SignedData values verifies with the registered meter key",
          "[integration][settlement]") {
  SettlingFixture fx;
  fx.make_depot("CS-16S");
  const auto values = ocmf_sample("safe-transparenzsoftware/test_ocmf_ebee_01.xml");
  // 1.6 carries no key: the operator registers the meter's.
  auto put = fx.admin().send(boost::beast::http::verb::put, "/stations/CS-16S/evses/1/meter-key",
                             json{{"public_key", key_hex(values[0].public_key)}}.dump());
  REQUIRE(put.status == 200);
  auto station = fx.connect("CS-16S", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  auto started =
      station->call("StartTransaction", start_16(1, 7753, "2021-08-25T08:01:04Z", "TAG-S"));
  REQUIRE(is_result(started));
  const auto id = started[2]["transactionId"].get<long long>();
  auto signed_value = [](const chargegrid::ledger::ocmf::SafeValue& value, const std::string& at,
                         const std::string& context) {
    return json{{"timestamp", at},
                {"sampledValue", json::array({{{"value", trimmed(value.signed_data)},
                                               {"format", "SignedData"},
                                               {"context", context},
                                               {"measurand", "Energy.Active.Import.Register"},
                                               {"unit", "Wh"}}})}};
  };
  REQUIRE(is_result(station->call(
      "MeterValues", {{"connectorId", 1},
                      {"transactionId", id},
                      {"meterValue", json::array({signed_value(values[0], "2021-08-25T08:01:04Z",
                                                               "Transaction.Begin")})}})));
  REQUIRE(is_result(station->call(
      "StopTransaction",
      {{"transactionId", id},
       {"meterStop", 7753},
       {"timestamp", "2021-08-25T08:01:09Z"},
       {"transactionData",
        json::array({signed_value(values[1], "2021-08-25T08:01:09Z", "Transaction.End")})}})));
  const auto s = settlement(fx, id);
  CHECK(s["status"] == "verified");
  CHECK(s["record"]["meter_evidence"]["public_key"] == key_hex(values[0].public_key));
  CHECK(s["record"]["meter_stop"]["register_wh"] == 7753);
}

TEST_CASE("a session is priced with its site's tariff, in the site's time zone",
          "[integration][settlement]") {
  SettlingFixture fx;
  const auto site = fx.make_depot("CS-PRICED");
  REQUIRE(
      fx.admin().patch("/sites/" + std::to_string(site), {{"time_zone", "Europe/Oslo"}}).status ==
      200);
  const json tariff{{"currency", "EUR"},
                    {"import",
                     {{{"days", {"mon", "tue", "wed", "thu", "fri"}},
                       {"from", "07:00"},
                       {"to", "22:00"},
                       {"price_minor_per_kwh", 31}},
                      {{"days", {"mon", "tue", "wed", "thu", "fri"}},
                       {"from", "00:00"},
                       {"to", "07:00"},
                       {"price_minor_per_kwh", 20}},
                      {{"days", {"mon", "tue", "wed", "thu", "fri"}},
                       {"from", "22:00"},
                       {"to", "24:00"},
                       {"price_minor_per_kwh", 20}},
                      {{"days", {"sat", "sun"}},
                       {"from", "00:00"},
                       {"to", "24:00"},
                       {"price_minor_per_kwh", 20}}}},
                    {"export_credit_minor_per_kwh", 8}};
  REQUIRE(fx.admin()
              .send(boost::beast::http::verb::put, "/sites/" + std::to_string(site) + "/tariff",
                    tariff.dump())
              .status == 200);

  auto station = fx.connect("CS-PRICED", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  // Tuesday 05:30-06:30 UTC is 06:30-07:30 in Oslo: half an hour at 20, half an hour at 31.
  const json start{{"connectorId", 1},
                   {"idTag", "TAG-1"},
                   {"meterStart", 1000},
                   {"timestamp", "2026-11-24T05:30:00Z"}};
  auto started = station->call("StartTransaction", start);
  REQUIRE(is_result(started));
  const auto id = started[2]["transactionId"].get<std::int64_t>();
  REQUIRE(is_result(station->call("StopTransaction", {{"transactionId", id},
                                                      {"meterStop", 5000},
                                                      {"timestamp", "2026-11-24T06:30:00Z"},
                                                      {"reason", "Local"}})));
  const auto s = settlement(fx, id);
  const auto& record = s["record"];
  INFO(record.dump(1));
  CHECK(record["currency"] == "EUR");
  CHECK(record["energy_imported_wh"] == 4000);
  // 2 kWh at 20 and 2 kWh at 31 (the register rises evenly between its two readings).
  CHECK(record["total_minor"] == 2 * 20 + 2 * 31);
}

TEST_CASE("a session held back during a demand-response window earns the window's credit",
          "[integration][settlement][demand_response]") {
  SettlingFixture fx;
  const auto site = fx.make_depot("CS-FLEX");
  const json all_days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  const json tariff{
      {"currency", "EUR"},
      {"import",
       {{{"days", all_days}, {"from", "00:00"}, {"to", "24:00"}, {"price_minor_per_kwh", 30}}}},
      {"demand_response_credit_minor_per_kwh", 20}};
  REQUIRE(fx.admin()
              .send(boost::beast::http::verb::put, "/sites/" + std::to_string(site) + "/tariff",
                    tariff.dump())
              .status == 200);
  REQUIRE(fx.admin().patch("/stations/CS-FLEX/evses/1", {{"max_power_w", 11000}}).status == 200);
  // The event's windows as the OpenADR module writes them: one from `from` to `to` at an
  // import limit, or none (withdrawn).
  const auto write_event = [&](std::optional<std::pair<std::string, std::string>> window,
                               double import_limit_w) {
    namespace dr = chargegrid::server::store::demand_response;
    std::vector<dr::Window> windows;
    if (window) {
      dr::Window w;
      w.event_id = "evt-evening";
      w.program_id = "prog-1";
      w.site_id = site;
      w.starts_at = window->first;
      w.ends_at = window->second;
      w.import_limit_w = import_limit_w;
      windows.push_back(w);
    }
    auto conn = fx.sql();
    pqxx::work tx(conn);
    dr::replace_event(tx, "evt-evening", windows);
    tx.commit();
  };
  // A utility's event limited the site from 05:00 to 06:00.
  write_event(std::pair{"2026-11-24T05:00:00Z", "2026-11-24T06:00:00Z"}, 4000.0);

  auto station = fx.connect("CS-FLEX", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  // 8 kWh over two hours, 1 kWh a quarter. Uncontrolled at 11 kW it would have drawn 2,750 Wh in
  // each of the window's first two quarters and the last 2,500 Wh in its third: 5,000 Wh of
  // flexibility in the window.
  auto started = station->call("StartTransaction", {{"connectorId", 1},
                                                    {"idTag", "TAG-1"},
                                                    {"meterStart", 0},
                                                    {"timestamp", "2026-11-24T05:00:00Z"}});
  REQUIRE(is_result(started));
  const auto id = started[2]["transactionId"].get<std::int64_t>();
  // What the event asked while it was in force stays asked, whatever the utility does later.
  SECTION("the event stays") {}
  SECTION("the utility withdraws the event after its window") {
    write_event(std::nullopt, 0);
  }
  SECTION("the utility changes the event after its window") {
    write_event(std::pair{"2026-11-24T04:00:00Z", "2026-11-24T07:00:00Z"}, 1000.0);
  }
  REQUIRE(is_result(station->call("StopTransaction", {{"transactionId", id},
                                                      {"meterStop", 8000},
                                                      {"timestamp", "2026-11-24T07:00:00Z"},
                                                      {"reason", "Local"}})));
  const auto s = settlement(fx, id);
  const auto& record = s["record"];
  INFO(record.dump(1));
  REQUIRE(record["demand_response_credits"].size() == 1);
  CHECK(record["demand_response_credits"][0]["event_id"] == "evt-evening");
  CHECK(record["demand_response_credits"][0]["energy_wh"] == 5000);
  CHECK(record["demand_response_credits"][0]["amount_minor"] == 100);
  // 8 kWh at 30, less 5 kWh of flexibility at 20.
  CHECK(record["total_minor"] == 8 * 30 - 5 * 20);
  CHECK(s["total_minor"] == 8 * 30 - 5 * 20);
}

namespace {

// A 2.0.1 V2G reading at `at` ("2026-11-05T08:00:00") as the meterValue of a TransactionEvent.
json v2g_reading(const TestMeter& meter, const std::string& at, const std::string& type,
                 long long import_wh, std::optional<long long> signed_export_wh,
                 long long unsigned_export_wh, int pagination) {
  return json::array({v2g_meter_value(meter, at, type, import_wh, signed_export_wh,
                                      unsigned_export_wh, pagination)});
}

struct V2gEnds {
  long long import_wh;
  std::optional<long long> signed_export_wh;
  long long unsigned_export_wh;
};

void v2g_session(chargegrid::sim::OcppTestClient& station, const TestMeter& meter,
                 const std::string& uid, const std::string& hour, const V2gEnds& begin,
                 const V2gEnds& end) {
  const auto from = "2026-11-05T" + hour + ":00:00", to = "2026-11-05T" + hour + ":30:00";
  REQUIRE(is_result(
      station.call("TransactionEvent",
                   event("Started", 0, from + "Z", uid,
                         v2g_reading(meter, from, "B", begin.import_wh, begin.signed_export_wh,
                                     begin.unsigned_export_wh, 1)))));
  REQUIRE(is_result(station.call(
      "TransactionEvent", event("Ended", 1, to + "Z", uid,
                                v2g_reading(meter, to, "E", end.import_wh, end.signed_export_wh,
                                            end.unsigned_export_wh, 2)))));
}

std::int64_t exported_in_intervals(const json& record) {
  std::int64_t sum = 0;
  for (const auto& i : record["intervals"]) sum += i["exported_wh"].get<std::int64_t>();
  return sum;
}

}  // namespace

TEST_CASE("an event changed in the middle of its window keeps what it asked until then",
          "[integration][settlement][demand_response]") {
  namespace dr = chargegrid::server::store::demand_response;
  SettlingFixture fx;
  const auto site = fx.make_depot("CS-MIDWAY");
  const auto now = std::chrono::system_clock::now();
  const auto at = [&](std::chrono::minutes offset) {
    return chargegrid::base::format_rfc3339(now + offset);
  };
  const auto write = [&](std::vector<dr::Window> windows) {
    auto conn = fx.sql();
    pqxx::work tx(conn);
    dr::replace_event(tx, "evt-midway", windows);
    tx.commit();
  };
  const auto read = [&](bool history) {
    auto conn = fx.sql();
    pqxx::work tx(conn);
    return history ? dr::in_force(tx, site, at(-std::chrono::minutes(120)),
                                  at(std::chrono::minutes(120)))
                   : dr::for_site(tx, site, at(-std::chrono::minutes(120)),
                                  at(std::chrono::minutes(120)));
  };
  dr::Window w;
  w.event_id = "evt-midway";
  w.program_id = "prog-1";
  w.site_id = site;
  w.starts_at = at(-std::chrono::minutes(60));
  w.ends_at = at(std::chrono::minutes(60));
  w.import_limit_w = 4000.0;
  write({w});
  w.import_limit_w = 2000.0;
  write({w});

  // Planning sees the event as it stands.
  const auto current = read(false);
  REQUIRE(current.size() == 1);
  CHECK(current[0].import_limit_w == 2000.0);
  // Settlement sees 4 kW asked until the change and 2 kW after it, back to back.
  const auto asked = read(true);
  REQUIRE(asked.size() == 2);
  CHECK(asked[0].import_limit_w == 4000.0);
  CHECK(asked[1].import_limit_w == 2000.0);
  CHECK(asked[0].ends_at == asked[1].starts_at);
  const auto change = chargegrid::base::parse_rfc3339(asked[1].starts_at);
  REQUIRE(change);
  CHECK(std::chrono::abs(*change - now) < std::chrono::minutes(5));

  // Withdrawn now: the first hour stays asked, the rest of the window never will be.
  write({});
  CHECK(read(false).empty());
  const auto after = read(true);
  REQUIRE(after.size() == 2);
  CHECK(after[1].import_limit_w == 2000.0);
  CHECK(after[1].starts_at <= after[1].ends_at);
  CHECK(chargegrid::base::parse_rfc3339(after[1].ends_at) <= std::chrono::system_clock::now());
}

TEST_CASE("a V2G session settles its export from the signed export registers",
          "[integration][settlement][v2g]") {
  TempFolder folder;
  ApiFixture fx(settling_config(folder.path()));
  fx.make_depot("CS-V2G");
  auto station = fx.connect("CS-V2G", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));
  TestMeter meter;

  // Signed import and export; the station's unsigned export register says less (1000 Wh) than
  // the signed one (1200 Wh): the signed registers settle both energies.
  v2g_session(*station, meter, "TX-V1", "08", {1000, 5000, 50}, {2000, 6200, 1050});
  {
    const auto s = settlement(fx, session_of(fx, "TX-V1"));
    INFO(s.dump());
    CHECK(s["status"] == "verified");
    CHECK(s["energy_imported_wh"] == 1000);
    CHECK(s["energy_exported_wh"] == 1200);
    const auto& record = s["record"];
    CHECK(record["meter_start"]["register_wh"] == 1000);
    CHECK(record["meter_stop"]["register_wh"] == 2000);
    CHECK(exported_in_intervals(record) == 1200);
    CHECK(record["meter_evidence"]["status"] == "verified");
    CHECK(record["meter_evidence"]["signed_data"].size() == 2);
    CHECK(record["meter_evidence"]["detail"] ==
          "export from the signed export register (OBIS 2.8.x): 5000 Wh to 6200 Wh");
    CHECK(record["errors"].empty());
    // The record is still one the current reader (and the verifier) accepts, as it was.
    CHECK(record["schema_version"] == 2);
    CHECK(chargegrid::ledger::to_json(chargegrid::ledger::record_from_json(record)) == record);
    CHECK(fx.query_value("SELECT public_key FROM meter_keys WHERE station_id = 'CS-V2G'") ==
          meter.public_key_hex());
  }

  // The signed export register goes backwards: invalid, and the reason says so.
  v2g_session(*station, meter, "TX-V2", "09", {2000, 6200, 1050}, {2500, 6100, 1100});
  {
    const auto s = settlement(fx, session_of(fx, "TX-V2"));
    INFO(s.dump());
    CHECK(s["status"] == "invalid");
    CHECK(s["reason"] == "register_backwards");
    const auto detail = s["record"]["meter_evidence"]["detail"].get<std::string>();
    CHECK(s["record"]["meter_evidence"]["status"] == "failed");
    CHECK(detail.rfind("register_backwards: signed export register went backwards", 0) == 0);
  }

  // Signed import only: the export comes from the station's unsigned registers, as before, and
  // the record says so; the settlement is verified (its import is signed).
  v2g_session(*station, meter, "TX-V3", "10", {3000, std::nullopt, 100}, {3500, std::nullopt, 400});
  {
    const auto s = settlement(fx, session_of(fx, "TX-V3"));
    INFO(s.dump());
    CHECK(s["status"] == "verified");
    CHECK(s["energy_imported_wh"] == 500);
    CHECK(s["energy_exported_wh"] == 300);
    CHECK(exported_in_intervals(s["record"]) == 300);
    CHECK(s["record"]["meter_evidence"]["detail"] ==
          "export from unsigned registers: the signed data holds 0 export register reading(s)");
  }
}
