// Interim settlements across kill -9 and a restart of chargegridd: sessions running 50 hours get
// their two days settled while the server is killed in the middle of its sweep, then restarted
// (killed, restarted, stopped, restarted): each day is settled exactly once, and the final
// settlement at the stop refers to the second interim.

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "../server/station_messages.hpp"
#include "chargegrid/ledger/settlement_record.hpp"
#include "chargegrid/testing/daemon.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/temp_folder.hpp"

using namespace chargegrid::testing;
using namespace std::chrono_literals;
using nlohmann::json;
namespace ledger = chargegrid::ledger;

namespace {

std::string at(ledger::TimePoint t) {
  return ledger::format_time(t);
}

// Import register readings every second hour, 1 kWh an hour from 1000 Wh, up to 49 h in.
json readings(long long transaction, int connector, ledger::TimePoint start) {
  json values = json::array();
  for (int hour = 1; hour <= 49; hour += 2)
    values.push_back({{"timestamp", at(start + std::chrono::hours(hour))},
                      {"sampledValue", json::array({{{"value", std::to_string(1000 + 1000 * hour)},
                                                     {"measurand", "Energy.Active.Import.Register"},
                                                     {"unit", "Wh"}}})}});
  return {{"connectorId", connector}, {"transactionId", transaction}, {"meterValue", values}};
}

}  // namespace

TEST_CASE("kill -9 and restarts between and during sweeps settle each day once",
          "[integration][settlement][interim][robustness]") {
  TempFolder dir;
  TestDatabase db;
  auto args = daemon_test_flags();
  for (const char* flag : {"--ocpp-port", "0", "--http-port", "0", "--session-timeout", "0"})
    args.push_back(flag);
  args.push_back("--data-dir");
  args.push_back(dir.path().string());
  auto daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "first", args);

  constexpr int kSessions = 6;
  const auto start =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - 50h;
  std::vector<long long> ids;
  {
    chargegrid::sim::OcppTestClient station;
    station.connect("127.0.0.1", daemon->ocpp_port(), "/ocpp/CS-DAYS", {"ocpp1.6"});
    REQUIRE(is_result(station.call("BootNotification", boot_16())));
    for (int connector = 1; connector <= kSessions; ++connector) {
      auto started = station.call(
          "StartTransaction", start_16(connector, 1000, at(start + std::chrono::seconds(connector)),
                                       "TAG-" + std::to_string(connector)));
      REQUIRE(is_result(started));
      ids.push_back(started[2]["transactionId"].get<long long>());
      REQUIRE(is_result(station.call("MeterValues", readings(ids.back(), connector, start))));
    }
  }
  const auto interims = [&] {
    return query_int(db.url(), "SELECT count(*) FROM settlements WHERE kind = 'interim'");
  };
  // Killed as soon as the sweep has settled a day: most likely in the middle of its round.
  REQUIRE(eventually([&] { return interims() >= 1; }, 20s, 2ms));
  daemon->kill_hard();
  INFO("interims before the kill: " << interims());
  daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "second", args);
  REQUIRE(eventually([&] { return interims() == 2 * kSessions; }, 20s));
  // A restart after the days are settled: its sweeps find nothing more to settle.
  REQUIRE(daemon->stop());
  daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "third", args);
  std::this_thread::sleep_for(6s);  // at least one sweep of the restarted server
  INFO(daemon->log_text(4000));
  CHECK(interims() == 2 * kSessions);
  CHECK(query_int(db.url(),
                  "SELECT count(DISTINCT (session_id, interim_number)) FROM settlements "
                  "WHERE kind = 'interim'") == 2 * kSessions);
  CHECK(query_int(db.url(), "SELECT count(*) FROM ledger_log_entry") == 2 * kSessions);
  CHECK(query_int(db.url(),
                  "SELECT count(*) FROM settlements s JOIN ledger_log_entry e "
                  "ON e.idx = s.log_index AND e.record = s.record") == 2 * kSessions);

  // The stop of one session: its final settlement refers to its second interim.
  chargegrid::sim::OcppTestClient station;
  station.connect("127.0.0.1", daemon->ocpp_port(), "/ocpp/CS-DAYS", {"ocpp1.6"});
  REQUIRE(is_result(station.call("BootNotification", boot_16())));
  REQUIRE(is_result(station.call("StopTransaction", {{"transactionId", ids[0]},
                                                     {"meterStop", 51000},
                                                     {"timestamp", at(start + 50h)},
                                                     {"reason", "Local"}})));
  const auto finals = [&] {
    return query_int(db.url(), "SELECT count(*) FROM settlements WHERE kind = 'final'");
  };
  REQUIRE(eventually([&] { return finals() == 1; }, 15s));
  CHECK(query_int(db.url(),
                  "SELECT count(*) FROM settlements f JOIN settlements i "
                  "ON i.id = f.previous_settlement_id AND i.interim_number = 2 "
                  "WHERE f.kind = 'final' AND f.session_id = " +
                      std::to_string(ids[0])) == 1);
  CHECK(query_int(db.url(), "SELECT sum(energy_imported_wh) FROM settlements WHERE session_id = " +
                                std::to_string(ids[0])) == 50000);
}
