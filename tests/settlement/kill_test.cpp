// kill -9 of chargegridd while it settles, then a restart: every ended session has exactly one
// settlement and one log entry (the outbox row, the log entry and the settlement commit
// together).

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "../server/station_messages.hpp"
#include "chargegrid/testing/daemon.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/temp_folder.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

int count(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  return tx.exec1(sql)[0].as<int>();
}

}  // namespace

TEST_CASE("kill -9 while sessions are settled: each is settled exactly once",
          "[integration][settlement][robustness]") {
  TempFolder dir;
  TestDatabase db;
  auto args = daemon_test_flags();
  for (const char* flag : {"--ocpp-port", "0", "--http-port", "0", "--data-dir"})
    args.push_back(flag);
  args.push_back(dir.path().string());
  auto daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "first", args);

  chargegrid::sim::OcppTestClient station;
  station.connect("127.0.0.1", daemon->ocpp_port(), "/ocpp/CS-KILL", {"ocpp1.6"});
  REQUIRE(is_result(station.call("BootNotification", boot_16())));
  constexpr int kSessions = 60;
  for (int i = 0; i < kSessions; ++i) {
    const auto at =
        "2026-11-24T08:" + std::string(i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + ":00Z";
    auto started =
        station.call("StartTransaction", start_16(1, 1000 * i, at, "TAG-" + std::to_string(i)));
    REQUIRE(is_result(started));
    const auto stopped =
        station.call("StopTransaction", {{"transactionId", started[2]["transactionId"]},
                                         {"meterStop", 1000 * i + 500},
                                         {"timestamp", at},
                                         {"reason", "Local"}});
    INFO(stopped.dump());
    REQUIRE(is_result(stopped));
  }
  // Killed while the settlements are being written, not before, not (likely) after.
  REQUIRE(eventually([&] { return count(db.url(), "SELECT count(*) FROM settlements") >= 5; },
                     std::chrono::seconds(30), std::chrono::milliseconds(5)));
  daemon->kill_hard();
  const int before_restart = count(db.url(), "SELECT count(*) FROM settlements");
  INFO("settled before the kill: " << before_restart);
  daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "after-kill", args);
  REQUIRE(
      eventually([&] { return count(db.url(), "SELECT count(*) FROM settlements") == kSessions; },
                 std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(count(db.url(), "SELECT count(*) FROM settlements") == kSessions);
  CHECK(count(db.url(), "SELECT count(DISTINCT session_id) FROM settlements") == kSessions);
  CHECK(count(db.url(), "SELECT count(*) FROM ledger_log_entry") == kSessions);
  CHECK(count(db.url(),
              "SELECT count(*) FROM settlements s JOIN ledger_log_entry e "
              "ON e.idx = s.log_index AND e.record = s.record") == kSessions);
  CHECK(count(db.url(),
              "SELECT count(*) FROM outbox WHERE consumer = 'settlement' "
              "AND done_at IS NULL") == 0);
}
