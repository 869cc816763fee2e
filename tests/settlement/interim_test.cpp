// Interim settlements end to end on a real server and PostgreSQL: a session running for more
// than a day is settled by the day while it runs, each day its own record (schema version 3)
// chained to the previous one; its final settlement covers the rest. The records add up to the
// session, each is in the verifiable log and checks with chargegrid-verify, and no sweep — a
// repeat, a race of two, a restart — settles a day twice.

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "../api/api_fixture.hpp"
#include "../ledger/run_tool.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/ledger/jcs.hpp"
#include "chargegrid/ledger/note.hpp"
#include "chargegrid/ledger/settlement_record.hpp"
#include "chargegrid/testing/temp_folder.hpp"
#include "settlement/interim_sweep.hpp"
#include "test_meter.hpp"

using namespace chargegrid::testing;
using namespace chargegrid::settlement_testing;
using namespace std::chrono_literals;
using chargegrid::ledger::testing::run_verify;
using chargegrid::ledger::testing::write_temp;
using nlohmann::json;
namespace ledger = chargegrid::ledger;

namespace {

// The session's start: 50 hours ago, to the second.
ledger::TimePoint fifty_hours_ago() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - 50h;
}

std::string at(ledger::TimePoint t) {
  return ledger::format_time(t);
}

// A 1.6 MeterValues with one import register reading every second hour, from an hour after
// `start` to 49 hours after it: 1 kWh an hour on top of `meter_start`.
json readings_every_second_hour(long long transaction, ledger::TimePoint start,
                                long long meter_start, int connector = 1) {
  json values = json::array();
  for (int hour = 1; hour <= 49; hour += 2) {
    values.push_back(
        {{"timestamp", at(start + std::chrono::hours(hour))},
         {"sampledValue", json::array({{{"value", std::to_string(meter_start + 1000 * hour)},
                                        {"measurand", "Energy.Active.Import.Register"},
                                        {"unit", "Wh"}}})}});
  }
  return {{"connectorId", connector}, {"transactionId", transaction}, {"meterValue", values}};
}

struct Row {
  std::string id, kind, previous;
  int number = 0;
  std::uint64_t log_index = 0;
  ledger::SettlementRecord record;
  std::string canonical;
};

// The session's settlements, interims by number, then the final.
std::vector<Row> settlements_of(ServerFixture& fx, long long session) {
  auto c = fx.sql();
  pqxx::read_transaction tx(c);
  std::vector<Row> out;
  for (const auto& r : tx.exec_params(
           "SELECT id, kind, coalesce(previous_settlement_id, ''), coalesce(interim_number, 0), "
           "log_index, record FROM settlements WHERE session_id = $1 "
           "ORDER BY kind = 'final', interim_number",
           session)) {
    Row row{r[0].as<std::string>(), r[1].as<std::string>(),   r[2].as<std::string>(),
            r[3].as<int>(),         r[4].as<std::uint64_t>(), {},
            r[5].as<std::string>()};
    row.record = ledger::record_from_json(json::parse(row.canonical));  // well formed, or throws
    out.push_back(std::move(row));
  }
  return out;
}

std::size_t count_of(ServerFixture& fx, const std::string& sql) {
  return std::stoul(fx.query_value(sql));
}

// The log's signing key in `folder` (where interim_config has the server look for it).
ledger::NoteSigner write_log_key(const std::filesystem::path& folder) {
  auto signer = ledger::NoteSigner::generate("cpms.example/ledger");
  std::ofstream(folder / "log.key") << signer.skey() << "\n";
  return signer;
}

chargegrid::server::Config interim_config(const std::filesystem::path& folder) {
  auto config = free_vend_config();
  config.session_timeout_s = 0;  // the server closes no session: the station's stop ends it
  config.data_dir = folder.string();
  config.ledger_key_file = (folder / "log.key").string();
  config.checkpoint_interval_s = 1;
  config.ledger_adapters = {"file"};
  config.ledger_file = (folder / "ledger.jsonl").string();
  return config;
}

}  // namespace

TEST_CASE("a session running 50 hours gets two interim settlements and a final one that add up",
          "[integration][settlement][interim]") {
  TempFolder folder;
  const auto signer = write_log_key(folder.path());
  ApiFixture fx(interim_config(folder.path()));
  fx.make_depot("CS-LONG");
  auto station = fx.connect("CS-LONG", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  const auto start = fifty_hours_ago();
  auto started = station->call("StartTransaction", start_16(1, 1000, at(start), "TAG-LONG"));
  REQUIRE(is_result(started));
  const auto id = started[2]["transactionId"].get<long long>();

  // A session shorter than a day on another connector: settled once at its end, as ever.
  auto short_one = station->call("StartTransaction", start_16(2, 500, at(start + 2h), "TAG-SHORT"));
  REQUIRE(is_result(short_one));
  const auto short_id = short_one[2]["transactionId"].get<long long>();
  REQUIRE(is_result(station->call("StopTransaction", {{"transactionId", short_id},
                                                      {"meterStop", 2500},
                                                      {"timestamp", at(start + 5h)},
                                                      {"reason", "Local"}})));

  // Readings up to 49 hours in: days one and two have passed and are settled; day three has not.
  REQUIRE(is_result(station->call("MeterValues", readings_every_second_hour(id, start, 1000))));
  REQUIRE(fx.eventually([&] { return settlements_of(fx, id).size() == 2; }, 15s));
  auto interims = settlements_of(fx, id);
  REQUIRE(interims.size() == 2);
  CHECK(interims[0].kind == "interim");
  CHECK(interims[0].number == 1);
  CHECK(interims[0].previous.empty());
  CHECK(interims[1].number == 2);
  CHECK(interims[1].previous == interims[0].id);
  CHECK(interims[0].id != interims[1].id);
  const auto& day1 = interims[0].record;
  const auto& day2 = interims[1].record;
  CHECK(day1.schema_version == 3);
  CHECK(day1.settlement_kind == ledger::SettlementKind::kInterim);
  CHECK(day1.start == start);
  CHECK(day1.period.start == start);
  CHECK(day1.period.end == start + 24h);
  CHECK_FALSE(day1.previous_settlement_id.has_value());
  CHECK(day2.start == start);
  CHECK(day2.period.start == start + 24h);
  CHECK(day2.period.end == start + 48h);
  CHECK(day2.previous_settlement_id == std::optional(interims[0].id));
  // 1 kWh an hour: the register at the day's end lies between the readings around it.
  CHECK(day1.meter_start.register_wh == 1000);
  CHECK(day1.meter_stop.register_wh == 25000);
  CHECK(day1.energy_imported_wh() == 24000);
  CHECK(day2.meter_start.register_wh == day1.meter_stop.register_wh);
  CHECK(day2.energy_imported_wh() == 24000);
  // The API shows the running session's latest settlement.
  auto latest = fx.admin().get("/sessions/" + std::to_string(id) + "/settlement");
  REQUIRE(latest.status == 200);
  CHECK(latest.data["settlement_kind"] == "interim");
  CHECK(latest.data["interim_number"] == 2);
  CHECK(latest.data["previous_settlement_id"] == interims[0].id);

  // The stop: the final settlement covers the rest and refers to the second interim.
  REQUIRE(is_result(station->call("StopTransaction", {{"transactionId", id},
                                                      {"meterStop", 51000},
                                                      {"timestamp", at(start + 50h)},
                                                      {"reason", "Local"}})));
  REQUIRE(fx.eventually([&] { return settlements_of(fx, id).size() == 3; }, 15s));
  const auto rows = settlements_of(fx, id);
  const auto& final_row = rows[2];
  CHECK(final_row.kind == "final");
  CHECK(final_row.previous == interims[1].id);
  const auto& rest = final_row.record;
  CHECK(rest.schema_version == 3);
  CHECK(rest.settlement_kind == ledger::SettlementKind::kFinal);
  CHECK(rest.period.start == start + 48h);
  CHECK(rest.period.end == start + 50h);
  CHECK(rest.end == start + 50h);
  CHECK(rest.meter_start.register_wh == day2.meter_stop.register_wh);
  CHECK(rest.meter_stop.register_wh == 51000);
  CHECK(day1.energy_imported_wh() + day2.energy_imported_wh() + rest.energy_imported_wh() ==
        51000 - 1000);
  for (const auto& interval : rest.intervals) CHECK(interval.start >= start + 48h);
  auto final_answer = fx.admin().get("/sessions/" + std::to_string(id) + "/settlement");
  CHECK(final_answer.data["settlement_kind"] == "final");
  CHECK(final_answer.data["id"] == final_row.id);

  // The short session: one settlement, schema version 2, over its whole length.
  REQUIRE(fx.eventually([&] { return settlements_of(fx, short_id).size() == 1; }, 10s));
  const auto short_rows = settlements_of(fx, short_id);
  CHECK(short_rows[0].kind == "final");
  CHECK(short_rows[0].record.schema_version == 2);
  CHECK(short_rows[0].record.energy_imported_wh() == 2000);
  CHECK(short_rows[0].previous.empty());

  // Each record is the log's entry and checks as a third party checks it.
  CHECK(count_of(fx, "SELECT count(*) FROM ledger_log_entry") == 4);
  CHECK(count_of(fx,
                 "SELECT count(*) FROM settlements s JOIN ledger_log_entry e "
                 "ON e.idx = s.log_index AND e.record = s.record") == 4);
  // Every record goes to the ledger adapters, interims like the final: the file holds all four.
  CHECK(count_of(fx,
                 "SELECT count(DISTINCT payload->>'settlement_id') FROM outbox "
                 "WHERE topic = 'settlement.recorded'") == 4);
  CHECK(fx.eventually([&] {
    std::ifstream in(folder.path() / "ledger.jsonl");
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines == 4;
  }));
  const auto port = fx.server().http_port();
  std::string note;
  REQUIRE(fx.eventually([&] {
    auto got = http_request(port, boost::beast::http::verb::get, "/ledger/checkpoint", "");
    note = got.body;
    return got.status == 200 && note.find("\n4\n") != std::string::npos;
  }));
  const auto checkpoint_file = write_temp(folder.path(), "checkpoint", note);
  for (const auto& row : rows) {
    auto proof = http_request(
        port, boost::beast::http::verb::get,
        "/ledger/proof/inclusion?index=" + std::to_string(row.log_index) + "&size=4", "");
    REQUIRE(proof.status == 200);
    const auto record_file = write_temp(folder.path(), row.id + ".json", row.canonical);
    const auto proof_file = write_temp(folder.path(), row.id + ".proof", proof.body);
    auto verified = run_verify({"settlement", "--vkey", signer.verifier().vkey(), "--checkpoint",
                                checkpoint_file.string(), "--record", record_file.string(),
                                "--proof", proof_file.string()});
    INFO(verified.output);
    CHECK(verified.status == 0);
    CHECK(verified.output.find("settlement " + row.id) != std::string::npos);
  }
  // A record altered (one day's energy moved to the next) no longer checks.
  auto altered = json::parse(rows[0].canonical);
  altered["intervals"][0]["imported_wh"] = altered["intervals"][0]["imported_wh"].get<int>() + 1;
  altered["energy_imported_wh"] = altered["energy_imported_wh"].get<int>() + 1;
  const auto altered_file =
      write_temp(folder.path(), "altered.json", ledger::canonical_json(altered));
  auto proof0 = http_request(
      port, boost::beast::http::verb::get,
      "/ledger/proof/inclusion?index=" + std::to_string(rows[0].log_index) + "&size=4", "");
  const auto proof0_file = write_temp(folder.path(), "altered.proof", proof0.body);
  CHECK(run_verify({"settlement", "--vkey", signer.verifier().vkey(), "--checkpoint",
                    checkpoint_file.string(), "--record", altered_file.string(), "--proof",
                    proof0_file.string()})
            .status == 1);
}

TEST_CASE("sweeps repeated and racing settle each day once", "[integration][settlement][interim]") {
  TempFolder folder;
  auto config = interim_config(folder.path());
  write_log_key(folder.path());
  ApiFixture fx(config);
  fx.make_depot("CS-RACE");
  auto station = fx.connect("CS-RACE", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  const auto start = fifty_hours_ago();
  std::vector<long long> sessions;
  for (int connector = 1; connector <= 3; ++connector) {
    auto started = station->call(
        "StartTransaction", start_16(connector, 1000, at(start + std::chrono::minutes(connector)),
                                     "TAG-" + std::to_string(connector)));
    REQUIRE(is_result(started));
    sessions.push_back(started[2]["transactionId"].get<long long>());
    REQUIRE(is_result(station->call(
        "MeterValues", readings_every_second_hour(sessions.back(), start, 1000, connector))));
  }

  // Four sweeps at once, on four connections (and the server's own), then a fifth: two days of
  // three sessions, each settled once.
  chargegrid::server::settlement::SettleOptions options;
  std::atomic<std::size_t> settled{0};
  std::vector<std::thread> sweeps;
  for (int i = 0; i < 4; ++i) {
    sweeps.emplace_back([&] {
      auto c = fx.sql();
      settled += chargegrid::server::settlement::settle_due_days(c, options);
    });
  }
  for (auto& sweep : sweeps) sweep.join();
  CHECK(settled <= 6);
  {
    auto c = fx.sql();
    CHECK(chargegrid::server::settlement::settle_due_days(c, options) == 0);
  }
  CHECK(count_of(fx, "SELECT count(*) FROM settlements WHERE kind = 'interim'") == 6);
  CHECK(count_of(fx, "SELECT count(*) FROM ledger_log_entry") == 6);
  CHECK(count_of(fx, "SELECT count(DISTINCT (session_id, interim_number)) FROM settlements") == 6);
  for (const auto session : sessions) CHECK(settlements_of(fx, session).size() == 2);

  // A day settled again by hand (a replay) is refused by the database, and changes nothing.
  auto c = fx.sql();
  pqxx::work tx(c);
  CHECK_THROWS_WITH(
      tx.exec("INSERT INTO settlements (id, session_id, station_id, status, log_index, "
              "record, total_minor, energy_imported_wh, energy_exported_wh, started_at, "
              "ended_at, kind, interim_number) SELECT id || '-again', session_id, "
              "station_id, status, log_index + 100, record, total_minor, "
              "energy_imported_wh, energy_exported_wh, started_at, ended_at, kind, "
              "interim_number FROM settlements LIMIT 1"),
      Catch::Contains("settlements_session_interim"));
}

TEST_CASE("a day without a reading past its end, a day to come and a stale sweep settle nothing",
          "[integration][settlement][interim]") {
  TempFolder folder;
  write_log_key(folder.path());
  ApiFixture fx(interim_config(folder.path()));
  fx.make_depot("CS-QUIET");
  auto station = fx.connect("CS-QUIET", "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  const auto start = fifty_hours_ago();
  // 50 hours open, but the station's last reading is 10 hours in: no day's end is known.
  auto quiet = station->call("StartTransaction", start_16(1, 1000, at(start), "TAG-QUIET"));
  REQUIRE(is_result(quiet));
  const auto quiet_id = quiet[2]["transactionId"].get<long long>();
  REQUIRE(is_result(station->call(
      "MeterValues",
      {{"connectorId", 1},
       {"transactionId", quiet_id},
       {"meterValue",
        json::array({{{"timestamp", at(start + 10h)},
                      {"sampledValue", json::array({{
                                           {"value", "11000"},
                                           {"measurand", "Energy.Active.Import.Register"},
                                           {"unit", "Wh"},
                                       }})}}})}})));
  // A station whose clock runs a day ahead: its session's first day has not passed here.
  auto ahead = station->call("StartTransaction", start_16(2, 1000, at(start + 74h), "TAG-AHEAD"));
  REQUIRE(is_result(ahead));
  const auto ahead_id = ahead[2]["transactionId"].get<long long>();
  REQUIRE(is_result(
      station->call("MeterValues", readings_every_second_hour(ahead_id, start + 74h, 1000, 2))));

  chargegrid::server::settlement::SettleOptions options;
  {
    auto c = fx.sql();
    CHECK(chargegrid::server::settlement::settle_due_days(c, options) == 0);
    // Asked directly: nothing for a day to come, an error for a session that does not exist.
    pqxx::work tx(c);
    CHECK_FALSE(chargegrid::server::settlement::settle_next_day(tx, ahead_id, options).recorded);
    CHECK_THROWS_WITH(chargegrid::server::settlement::settle_next_day(tx, 999999, options),
                      Catch::Contains("no session 999999"));
  }
  CHECK(count_of(fx, "SELECT count(*) FROM settlements") == 0);

  // The stop: settled once over its whole length, as a session shorter than a day is.
  REQUIRE(is_result(station->call("StopTransaction", {{"transactionId", quiet_id},
                                                      {"meterStop", 21000},
                                                      {"timestamp", at(start + 50h)},
                                                      {"reason", "Local"}})));
  REQUIRE(fx.eventually([&] { return settlements_of(fx, quiet_id).size() == 1; }, 10s));
  const auto rows = settlements_of(fx, quiet_id);
  CHECK(rows[0].kind == "final");
  CHECK(rows[0].record.schema_version == 2);
  CHECK(rows[0].record.energy_imported_wh() == 20000);
  // An ended session has no next day to settle.
  auto c = fx.sql();
  pqxx::work tx(c);
  CHECK_FALSE(chargegrid::server::settlement::settle_next_day(tx, quiet_id, options).recorded);
  CHECK(settlements_of(fx, ahead_id).empty());
}

TEST_CASE("a V2G session settled by the day cuts its export at the signed export registers",
          "[integration][settlement][interim][v2g]") {
  TempFolder folder;
  write_log_key(folder.path());
  ApiFixture fx(interim_config(folder.path()));
  fx.make_depot("CS-V2G-LONG");
  auto station = fx.connect("CS-V2G-LONG", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));
  TestMeter meter;
  const auto start = fifty_hours_ago();
  // The meter's export register rises 20 Wh an hour from 5000 Wh; the station's unsigned export
  // register says 1000 Wh less throughout. Import: 1 kWh an hour from 1000 Wh.
  const auto reading = [&](int hour, const std::string& type) {
    const auto utc = at(start + std::chrono::hours(hour)).substr(0, 19);
    return v2g_meter_value(meter, utc, type, 1000 + 1000 * hour, 5000 + 20 * hour, 4000 + 20 * hour,
                           hour + 1);
  };
  auto started = transaction_event_201("Started", 0, at(start), "TX-V2G-LONG", "Authorized");
  started["idToken"] = {{"idToken", "EMAID-1"}, {"type", "eMAID"}};
  started["meterValue"] = json::array({reading(0, "B")});
  REQUIRE(is_result(station->call("TransactionEvent", started)));
  // Signed readings every second hour up to 49 hours in: days one and two are settled.
  auto updated =
      transaction_event_201("Updated", 1, at(start + 49h), "TX-V2G-LONG", "MeterValuePeriodic");
  updated["meterValue"] = json::array();
  for (int hour = 1; hour <= 49; hour += 2) updated["meterValue"].push_back(reading(hour, "T"));
  REQUIRE(is_result(station->call("TransactionEvent", updated)));
  const auto id = std::stoll(
      fx.query_value("SELECT id FROM transactions WHERE transaction_uid = 'TX-V2G-LONG'"));
  REQUIRE(fx.eventually([&] { return settlements_of(fx, id).size() == 2; }, 15s));

  auto ended = transaction_event_201("Ended", 2, at(start + 50h), "TX-V2G-LONG", "StopAuthorized");
  ended["transactionInfo"]["stoppedReason"] = "Local";
  ended["meterValue"] = json::array({reading(50, "E")});
  REQUIRE(is_result(station->call("TransactionEvent", ended)));
  REQUIRE(fx.eventually([&] { return settlements_of(fx, id).size() == 3; }, 15s));
  const auto rows = settlements_of(fx, id);
  const auto exported = [&](std::size_t i) { return rows[i].record.energy_exported_wh(); };
  for (const auto& row : rows) {
    INFO(row.canonical);
    CHECK(row.record.meter_evidence.status == ledger::MeterVerification::kVerified);
  }
  // Each day's export is the signed register's rise over that day, and the records add up to
  // the signed stop minus the signed start: the station's unsigned register moves nothing.
  CHECK(exported(0) == 480);
  CHECK(exported(1) == 480);
  CHECK(exported(2) == 40);
  CHECK(exported(0) + exported(1) + exported(2) == 6000 - 5000);
  CHECK(rows[0].record.meter_evidence.detail ==
        "export cut from the session's signed export registers (OBIS 2.8.x): 5000 Wh to 5480 Wh");
  CHECK(rows[1].record.meter_evidence.detail ==
        "export cut from the session's signed export registers (OBIS 2.8.x): 5480 Wh to 5960 Wh");
  CHECK(rows[2].record.meter_evidence.detail ==
        "export cut from the session's signed export registers (OBIS 2.8.x): 5960 Wh to 6000 Wh");
  CHECK(count_of(fx, "SELECT count(*) FROM settlements WHERE export_stop_wh IS NOT NULL") == 3);
  CHECK(rows[0].record.energy_imported_wh() + rows[1].record.energy_imported_wh() +
            rows[2].record.energy_imported_wh() ==
        50000);
}
