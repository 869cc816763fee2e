// kill -9 of chargegridd while it settles sessions and delivers them to a ledger adapter, then a
// restart (twice): every ended session has exactly one settlement and one log entry (the outbox
// row, the log entry and the settlement commit together), and the file adapter holds every
// entry exactly once, line N being log entry N (the line is fsynced before its delivery
// commits, and a restart counts the file's lines).
//
// CHARGEGRID_KILL_SESSIONS sets the number of sessions (default 60) for measuring larger runs.
// The station is paced as a real one is: past its burst (--message-burst) the server refuses
// messages with a retryAfterMs, and the station sends them again after that wait.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <set>

#include "../server/station_messages.hpp"
#include "chargegrid/testing/daemon.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/temp_folder.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A call as a station makes it: one the server refused for its message rate (a CALLERROR with
// retryAfterMs, once the station's burst is used up) is sent again after that wait.
json call_paced(chargegrid::sim::OcppTestClient& station, const std::string& action,
                const json& payload) {
  for (;;) {
    auto reply = station.call(action, payload);
    if (reply.is_array() && reply.size() >= 5 && reply[0] == 4 && reply[4].is_object() &&
        reply[4].contains("retryAfterMs")) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(reply[4]["retryAfterMs"].get<std::int64_t>()));
      continue;
    }
    return reply;
  }
}

int sessions_to_run() {
  const char* text = std::getenv("CHARGEGRID_KILL_SESSIONS");
  return text ? std::max(1, std::atoi(text)) : 60;
}

// "08:07:00Z" for session 7, one minute apart, so no two sessions share a start time.
std::string minute(int i) {
  char text[32];
  std::snprintf(text, sizeof text, "2026-11-24T%02d:%02d:00Z", 8 + i / 60 % 12, i % 60);
  return text;
}

}  // namespace

TEST_CASE("kill -9 while settling and delivering: each session settled and delivered once",
          "[integration][settlement][robustness]") {
  TempFolder dir;
  TestDatabase db;
  const auto ledger_file = dir.path() / "ledger.jsonl";
  auto args = daemon_test_flags();
  for (const char* flag :
       {"--ocpp-port", "0", "--http-port", "0", "--ledger-adapter", "file", "--ledger-file"})
    args.push_back(flag);
  args.push_back(ledger_file.string());
  args.push_back("--data-dir");
  args.push_back(dir.path().string());
  auto daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "first", args);

  chargegrid::sim::OcppTestClient station;
  station.connect("127.0.0.1", daemon->ocpp_port(), "/ocpp/CS-KILL", {"ocpp1.6"});
  REQUIRE(is_result(station.call("BootNotification", boot_16())));
  const int sessions = sessions_to_run();
  for (int i = 0; i < sessions; ++i) {
    auto started = call_paced(station, "StartTransaction",
                              start_16(1, 1000 * i, minute(i), "TAG-" + std::to_string(i)));
    INFO("session " << i << ": " << started.dump());
    REQUIRE(is_result(started));
    const auto stopped = call_paced(station, "StopTransaction",
                                    {{"transactionId", started[2]["transactionId"]},
                                     {"meterStop", 1000 * i + 500},
                                     {"timestamp", minute(i)},
                                     {"reason", "Local"}});
    INFO(stopped.dump());
    REQUIRE(is_result(stopped));
  }
  const auto settled = [&] { return query_int(db.url(), "SELECT count(*) FROM settlements"); };
  // Killed while the settlements are being written, not before, not (likely) after.
  REQUIRE(eventually([&] { return settled() >= 5; }, std::chrono::seconds(30),
                     std::chrono::milliseconds(5)));
  daemon->kill_hard();
  INFO("settled before the first kill: " << settled());
  daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "second", args);
  // Killed again while entries are being delivered to the file.
  REQUIRE(eventually([&] { return lines_of(ledger_file).size() >= 5 || settled() == sessions; },
                     std::chrono::seconds(30), std::chrono::milliseconds(5)));
  daemon->kill_hard();
  INFO("settled before the second kill: " << settled() << ", lines "
                                          << lines_of(ledger_file).size());
  daemon = std::make_unique<Daemon>(CHARGEGRIDD, db.url(), dir.path(), "third", args);

  const auto delivered = [&] {
    return query_int(db.url(),
                     "SELECT count(*) FROM outbox WHERE done_at IS NULL "
                     "AND consumer IN ('settlement', 'ledger.file')") == 0 &&
           settled() == sessions;
  };
  INFO(daemon->log_text(4000));
  REQUIRE(eventually(delivered, std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // Settled once each, each record the log's entry byte for byte, each leaf once.
  CHECK(settled() == sessions);
  CHECK(query_int(db.url(), "SELECT count(DISTINCT session_id) FROM settlements") == sessions);
  CHECK(query_int(db.url(), "SELECT count(*) FROM ledger_log_entry") == sessions);
  CHECK(query_int(db.url(), "SELECT count(DISTINCT leaf_hash) FROM ledger_log_entry") == sessions);
  CHECK(query_int(db.url(),
                  "SELECT count(*) FROM settlements s JOIN ledger_log_entry e "
                  "ON e.idx = s.log_index AND e.record = s.record") == sessions);
  // Delivered once each: one line per entry, in log order, each idempotency key once.
  const auto lines = lines_of(ledger_file);
  REQUIRE(lines.size() == static_cast<std::size_t>(sessions));
  std::set<std::string> keys;
  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO("line " << i);
    CHECK(lines[i] == tx.exec_params1("SELECT record FROM ledger_log_entry WHERE idx = $1",
                                      static_cast<std::int64_t>(i))[0]
                          .as<std::string>());
    keys.insert(json::parse(lines[i]).at("settlement_id").get<std::string>());
  }
  CHECK(keys.size() == static_cast<std::size_t>(sessions));
}
