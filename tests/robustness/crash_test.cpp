// kill -9 of chargegridd (the real binary, a child process on its own database), three times
// while a fleet charges through it; each time a new chargegridd starts on the same database,
// the stations reconnect and send again what was left unanswered. No transaction or meter
// reading is lost and none is stored twice, although a new process remembers nothing of the
// one before it.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/database.hpp"
#include "fleet_options.hpp"
#include "recording_proxy.hpp"
#include "stored_once.hpp"

extern char** environ;

using namespace std::chrono_literals;
using chargegrid::robustness::Clock;
using chargegrid::robustness::Exchange;
namespace fs = std::filesystem;

namespace {

// chargegridd as a child process: free ports, a ready file, its log in its folder.
class Daemon {
 public:
  Daemon(const std::string& database_url, const fs::path& dir, int generation) {
    fs::create_directories(dir);
    const auto ready = dir / ("ready-" + std::to_string(generation) + ".json");
    log_ = dir / ("chargegridd-" + std::to_string(generation) + ".log");
    std::vector<std::string> args{CHARGEGRIDD,
                                  "--database-url",
                                  database_url,
                                  "--ocpp-port",
                                  "0",
                                  "--http-port",
                                  "0",
                                  "--bind",
                                  "127.0.0.1",
                                  "--ready-file",
                                  ready.string(),
                                  "--no-tls",
                                  "--accept-unknown-tokens",
                                  "--heartbeat-interval",
                                  "60",
                                  "--threads",
                                  "2",
                                  "--db-connections",
                                  "2",
                                  "--meter-batch-delay-ms",
                                  "100",  // meter messages wait for their batch: in flight
                                  "--log-level",
                                  "warn"};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    const auto deadline = Clock::now() + 60s;
    while (!fs::exists(ready) || fs::file_size(ready) == 0) {
      int status = 0;
      INFO(log_text());
      REQUIRE(::waitpid(pid_, &status, WNOHANG) == 0);  // it must still run
      REQUIRE(Clock::now() < deadline);
      std::this_thread::sleep_for(20ms);
    }
    std::ifstream in(ready);
    ocpp_port_ = static_cast<std::uint16_t>(nlohmann::json::parse(in).at("ocpp_port").get<int>());
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  std::uint16_t ocpp_port() const { return ocpp_port_; }
  // kill -9: no chance to answer, flush or close anything.
  void kill_hard() {
    REQUIRE(::kill(pid_, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    CHECK(WIFSIGNALED(status));
    pid_ = -1;
  }
  // SIGTERM: true when it stopped cleanly within 30 s.
  bool stop() {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + 30s;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    pid_ = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  std::string log_text() const {
    std::ifstream in(log_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t ocpp_port_ = 0;
  fs::path log_;
};

}  // namespace

TEST_CASE("kill -9 of chargegridd under load loses and duplicates no transaction",
          "[integration][crash][fleet]") {
  chargegrid::testing::TestDatabase db;
  const auto dir = fs::temp_directory_path() / ("cg-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);

  int generation = 1;
  auto daemon = std::make_unique<Daemon>(db.url(), dir, generation);
  chargegrid::robustness::RecordingProxy proxy(daemon->ocpp_port());

  std::vector<std::unique_ptr<chargegrid::sim::Fleet>> fleets;
  std::vector<std::future<chargegrid::sim::Stats>> runs;
  for (const auto version :
       {chargegrid::sim::OcppVersion::v16, chargegrid::sim::OcppVersion::v201}) {
    fleets.push_back(std::make_unique<chargegrid::sim::Fleet>(
        chargegrid::robustness::fleet_options(proxy.url(), version, "CRASH", 15)));
    auto* fleet = fleets.back().get();
    runs.push_back(std::async(std::launch::async, [fleet] { return fleet->run(180s); }));
  }

  // Three times, mid-session: kill it, leave the stations without a server for a moment,
  // start a new one on the same database.
  std::vector<Clock::time_point> kills;
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(round == 0 ? 4s : 5s);
    proxy.set_upstream_port(0);
    daemon->kill_hard();
    kills.push_back(Clock::now());
    std::this_thread::sleep_for(500ms);
    daemon = std::make_unique<Daemon>(db.url(), dir, ++generation);
    proxy.set_upstream_port(daemon->ocpp_port());
  }

  chargegrid::sim::Stats stats;
  for (auto& run : runs) stats.merge(run.get());
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
      chargegrid::robustness::check_stored_exactly_once(exchanges, db.url(), "CRASH", stats);
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
