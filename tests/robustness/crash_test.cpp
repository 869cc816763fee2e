// kill -9 of chargegridd (the real binary, a child process on its own database), three times
// while a fleet charges through it; each time a new chargegridd starts on the same database,
// the stations reconnect and send again what was left unanswered. No transaction or meter
// reading is lost and none is stored twice, although a new process remembers nothing of the
// one before it.

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/daemon.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/fleet_options.hpp"
#include "chargegrid/testing/recording_proxy.hpp"
#include "chargegrid/testing/stored_once.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::Clock;
using chargegrid::testing::Exchange;
namespace fs = std::filesystem;

namespace {

// chargegridd as a child process: free ports, a ready file, its log in its folder.
std::unique_ptr<chargegrid::testing::Daemon> start_daemon(const std::string& database_url,
                                                          const fs::path& dir, int generation) {
  auto args = chargegrid::testing::daemon_test_flags();
  args.insert(args.end(), {"--ocpp-port", "0", "--http-port", "0"});
  return std::make_unique<chargegrid::testing::Daemon>(CHARGEGRIDD, database_url, dir,
                                                       std::to_string(generation), args);
}

}  // namespace

TEST_CASE("kill -9 of chargegridd under load loses and duplicates no transaction",
          "[integration][crash][fleet]") {
  chargegrid::testing::TestDatabase db;
  const auto dir = fs::temp_directory_path() / ("cg-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);

  int generation = 1;
  auto daemon = start_daemon(db.url(), dir, generation);
  chargegrid::testing::RecordingProxy proxy(daemon->ocpp_port());

  chargegrid::testing::BackgroundFleets fleets(180s);
  fleets.start_both_versions(proxy.url(), "CRASH", 15);

  // Three times, mid-session: kill it, leave the stations without a server for a moment,
  // start a new one on the same database.
  std::vector<Clock::time_point> kills;
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(round == 0 ? 4s : 5s);
    proxy.set_upstream_port(0);
    daemon->kill_hard();
    kills.push_back(Clock::now());
    std::this_thread::sleep_for(500ms);
    daemon = start_daemon(db.url(), dir, ++generation);
    proxy.set_upstream_port(daemon->ocpp_port());
  }

  const auto stats = fleets.wait();
  INFO(daemon->log_text());
  CHECK(daemon->stop());
  INFO(stats.to_json().dump(1));
  CHECK(stats.stations == 30);
  CHECK(stats.reconnects >= 3 * 30);  // every station lost its connection each time

  // Calls a killed process never answered (some of them stored, some not): the stations
  // sent them again to the next process, which must neither lose nor repeat them.
  const auto exchanges = proxy.exchanges();
  std::size_t in_flight = 0;
  for (const auto& e : exchanges)
    if (e.answer == Exchange::Answer::None &&
        std::any_of(kills.begin(), kills.end(), [&e](auto at) { return e.sent < at; }))
      ++in_flight;
  CHECK(in_flight > 0);

  const auto summary =
      chargegrid::testing::check_stored_exactly_once(exchanges, db.url(), "CRASH", stats);
  CHECK(summary.transactions >= 30);
  WARN("kill -9 three times: " << summary.transaction_calls << " transaction messages, "
                               << in_flight << " calls in flight at a kill, "
                               << summary.duplicate_answers
                               << " messages acknowledged twice (replays), " << summary.transactions
                               << " transactions, " << summary.events << " 2.0.1 events, "
                               << summary.samples << " sampled values");
  std::error_code ec;
  fs::remove_all(dir, ec);
}
