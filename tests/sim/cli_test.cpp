// chargegrid-sim on the command line: --session-length ends each session, --duration (or
// --run-for) the run.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "csms_stub.hpp"

extern char** environ;

using namespace std::chrono_literals;
using chargegrid::testing::CsmsStub;
using nlohmann::json;

namespace {

struct Exit {
  bool exited = false;  // false: still running at the limit (then killed)
  int status = -1;
  std::chrono::steady_clock::duration took{};
};

// Runs chargegrid-sim with `args` (output discarded) for at most `limit`.
Exit run_sim(std::vector<std::string> args, std::chrono::seconds limit) {
  args.insert(args.begin(), CHARGEGRID_SIM);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const auto started = std::chrono::steady_clock::now();
  const int spawned = posix_spawn(&pid, CHARGEGRID_SIM, &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  REQUIRE(spawned == 0);
  Exit result;
  while (std::chrono::steady_clock::now() - started < limit) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      result.exited = true;
      result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      result.took = std::chrono::steady_clock::now() - started;
      return result;
    }
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return result;
}

std::vector<std::string> common(const CsmsStub& csms, const std::string& prefix) {
  return {"--url",
          csms.url(),
          "--version",
          "2.0.1",
          "--stations",
          "1",
          "--id-prefix",
          prefix,
          "--connectors",
          "1",
          "--time-scale",
          "60",
          "--meter-interval",
          "30",
          "--first-session-delay",
          "0"};
}

}  // namespace

TEST_CASE("chargegrid-sim --session-length: each session ends by itself after that long",
          "[sim][cli]") {
  CsmsStub csms;
  auto args = common(csms, "CLID-");
  // Two sessions of a simulated minute each, a simulated half minute apart.
  for (const char* a : {"--sessions", "2", "--session-length", "60", "--idle", "30"})
    args.push_back(a);
  const auto exit = run_sim(args, 20s);
  REQUIRE(exit.exited);
  CHECK(exit.status == 0);
  CHECK(exit.took < 10s);
  const auto ended = csms.received("TransactionEvent");
  int local = 0;
  for (const auto& event : ended) {
    if (event.payload["eventType"] != "Ended") continue;
    CHECK(event.payload["transactionInfo"]["stoppedReason"] == "Local");
    ++local;
  }
  CHECK(local == 2);
}

TEST_CASE("chargegrid-sim --run-for: the run ends after that many real seconds", "[sim][cli]") {
  CsmsStub csms;
  SECTION("idle stations disconnect, and that is success") {
    auto args = common(csms, "CLIR-");
    for (const char* a : {"--sessions", "0", "--run-for", "1"}) args.push_back(a);
    const auto exit = run_sim(args, 15s);
    REQUIRE(exit.exited);
    CHECK(exit.status == 0);
    CHECK(exit.took >= 1s);
    CHECK(csms.received("BootNotification").size() == 1);
  }
  SECTION("a session still running then is stopped") {
    auto args = common(csms, "CLIS-");
    // Its one session never ends by itself: the end of the run ends it.
    for (const char* a : {"--sessions", "1", "--session-length", "0", "--duration", "1.5"}) {
      args.push_back(a);
    }
    const auto exit = run_sim(args, 15s);
    REQUIRE(exit.exited);
    CHECK(exit.status == 0);
    auto ended = csms.wait_for(
        "TransactionEvent", [](const json& p) { return p["eventType"] == "Ended"; }, 1s);
    REQUIRE(ended);
    CHECK(ended->payload["transactionInfo"]["stoppedReason"] == "Other");
  }
  SECTION("sessions not begun by then make it a failure") {
    auto args = common(csms, "CLIF-");
    for (const char* a :
         {"--sessions", "5", "--session-length", "60", "--idle", "0", "--run-for", "1.5"}) {
      args.push_back(a);
    }
    const auto exit = run_sim(args, 15s);
    REQUIRE(exit.exited);
    CHECK(exit.status == 1);
    CHECK(csms.received("TransactionEvent").size() >= 2);
  }
}

TEST_CASE("chargegrid-sim --ev-min-current: the vehicle reports its minimum current",
          "[sim][cli]") {
  CsmsStub csms;
  auto args = common(csms, "CLIM-");
  for (const char* a : {"--sessions", "1", "--session-length", "60", "--ev-min-current", "10"})
    args.push_back(a);
  const auto exit = run_sim(args, 20s);
  REQUIRE(exit.exited);
  CHECK(exit.status == 0);
  const auto needs = csms.received("NotifyEVChargingNeeds");
  REQUIRE(needs.size() == 1);
  const auto& ac = needs[0].payload["chargingNeeds"]["acChargingParameters"];
  CHECK(ac["evMinCurrent"] == 10);
  CHECK(ac["evMaxCurrent"].get<double>() >= 10);

  // A negative current is refused on the command line.
  auto bad = common(csms, "CLIN-");
  for (const char* a : {"--sessions", "1", "--ev-min-current", "-1"}) bad.push_back(a);
  const auto refused = run_sim(bad, 10s);
  REQUIRE(refused.exited);
  CHECK(refused.status != 0);
}
