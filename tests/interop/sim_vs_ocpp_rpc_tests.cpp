// The station simulator and the blocking test client against an independent OCPP-J
// implementation: an ocpp-rpc CSMS in strict mode validates every message both ways
// against the OCA schemas (strict_csms.mjs).

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/sim_fleet.hpp"

extern char** environ;

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// strict_csms.mjs as a child process, stopped (and its report read) by report().
class StrictCsms {
 public:
  explicit StrictCsms(std::vector<std::string> extra = {}) {
    dir_ = fs::temp_directory_path() / ("chargegrid-strict-csms-" + std::to_string(::getpid()) +
                                        "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    REQUIRE(fs::exists("node_modules/ocpp-rpc"));  // scripts/test runs npm install here
    std::vector<std::string> args = {CHARGEGRID_NODE, "strict_csms.mjs",
                                     "--ready-file",  (dir_ / "ready.json").string(),
                                     "--report-file", (dir_ / "report.json").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, CHARGEGRID_NODE, nullptr, nullptr, argv.data(), environ) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!fs::exists(dir_ / "ready.json") || fs::file_size(dir_ / "ready.json") == 0) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream in(dir_ / "ready.json");
    port_ = json::parse(in).at("port").get<std::uint16_t>();
  }
  ~StrictCsms() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::uint16_t port() const { return port_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ocpp"; }

  json report() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    std::ifstream in(dir_ / "report.json");
    REQUIRE(in);
    return json::parse(in);
  }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// Three stations of `v`, two sessions each, whose vehicles can discharge.
chargegrid::sim::FleetOptions small_fleet(const std::string& url, chargegrid::sim::OcppVersion v,
                                          const std::string& prefix) {
  auto options = chargegrid::testing::quick_fleet(url, v, prefix);
  options.stations = 3;
  options.threads = 2;
  auto& s = options.station;
  s.sessions = 2;
  s.session_length_s = 300;
  s.idle_between_sessions_s = 30;
  s.reconnect_min_s = 0.2;
  s.meter.v2g = true;
  return options;
}

}  // namespace

TEST_CASE("simulated stations pass ocpp-rpc strict validation, survive a drop and resend",
          "[interop][sim]") {
  StrictCsms csms({"--drop-first-meter"});
  using chargegrid::sim::OcppVersion;
  for (const auto& [version, prefix] : {std::pair{OcppVersion::v16, std::string("S16-")},
                                        std::pair{OcppVersion::v201, std::string("S201-")}}) {
    chargegrid::sim::Fleet fleet(small_fleet(csms.url(), version, prefix));
    const auto stats = fleet.run(std::chrono::seconds(60));
    INFO(stats.to_json().dump(1));
    CHECK(stats.stations_finished == 3);
    CHECK(stats.sessions_completed == 6);
    CHECK(stats.call_errors_received == 0);
    CHECK(stats.reconnects == 3);  // one drop per station
    CHECK(stats.transaction_messages_resent == 3);
    CHECK(stats.not_implemented_sent == 0);
    CHECK(stats.latency.count() == stats.calls_answered);
  }
  const json report = csms.report();
  INFO(report.dump(1).substr(0, 20000));
  CHECK(report["validation_failures"].empty());
  CHECK(report["bad_messages"].empty());
  REQUIRE(report["dropped"].size() == 6);
  REQUIRE(report["resent"].size() == 6);
  for (const auto& resent : report["resent"]) CHECK(resent["same_params"] == true);
  for (const auto& call : report["server_calls"]) CHECK(call["ok"] == true);
  CHECK(report["server_calls"].size() == 6 * 7);
  for (const auto& [id, station] : report["stations"].items()) {
    INFO(id);
    CHECK(station["transactions"].size() == 2);
    for (const auto& tx : station["transactions"]) {
      CHECK(tx["stopped"] == true);
      if (station["protocol"] == "ocpp1.6") {
        CHECK(tx["meterStop"].get<long>() > tx["meterStart"].get<long>());
      } else {
        // seqNo runs 0, 1, 2, ... without gaps or repeats (the resend is counted once).
        const auto seq = tx["seqNos"].get<std::vector<int>>();
        for (std::size_t i = 0; i < seq.size(); ++i) CHECK(seq[i] == static_cast<int>(i));
      }
    }
  }
}

TEST_CASE("a station retries a Pending boot until accepted", "[interop][sim]") {
  StrictCsms csms({"--boot-pending-first"});
  auto options = small_fleet(csms.url(), chargegrid::sim::OcppVersion::v201, "P-");
  options.stations = 1;
  options.station.sessions = 1;
  chargegrid::sim::Fleet fleet(options);
  const auto stats = fleet.run(std::chrono::seconds(30));
  CHECK(stats.boots_pending == 1);
  CHECK(stats.boots_accepted == 1);
  CHECK(stats.sessions_completed == 1);
  CHECK(csms.report()["validation_failures"].empty());
}

TEST_CASE("the test client talks to an independent CSMS", "[interop][test-client]") {
  StrictCsms csms;
  chargegrid::sim::OcppTestClient client;
  // The server picks from what is offered (here by its own preference, 1.6 first).
  {
    chargegrid::sim::OcppTestClient both;
    CHECK(both.connect("127.0.0.1", csms.port(), "/ocpp/TC0", {"ocpp2.0.1", "ocpp1.6"}) ==
          "ocpp1.6");
    both.close();
  }
  CHECK(client.connect("127.0.0.1", csms.port(), "/ocpp/TC1", {"ocpp2.0.1"}) == "ocpp2.0.1");
  const auto boot = client.call(
      "BootNotification",
      {{"reason", "PowerUp"}, {"chargingStation", {{"model", "M"}, {"vendorName", "V"}}}});
  REQUIRE(boot[0] == 3);
  CHECK(boot[2]["status"] == "Accepted");
  // Strict mode answers a payload that breaks the schema with a CALLERROR.
  const auto bad = client.call("BootNotification", {{"reason", "Bored"}});
  REQUIRE(bad[0] == 4);
  CHECK(bad[2].get<std::string>().find("Violation") != std::string::npos);
  CHECK_FALSE(client.receive(std::chrono::milliseconds(100)));  // nothing unsolicited
  CHECK_FALSE(client.closed());
  client.close();
  CHECK(client.closed());
  CHECK(client.close_code() == 1000);
}

TEST_CASE("the raw socket sees an HTTP answer to a hand-made request", "[interop][test-client]") {
  StrictCsms csms;
  chargegrid::sim::RawSocket socket;
  socket.connect("127.0.0.1", csms.port());
  // Half a request: nothing comes back yet.
  socket.send("GET /ocpp/RAW1 HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  CHECK(socket.read_some(std::chrono::milliseconds(200)) == std::string());
  // An upgrade without a WebSocket key is refused.
  socket.send("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
  const std::string answer = socket.read_until_closed(std::chrono::seconds(3));
  CHECK(answer.rfind("HTTP/1.1 4", 0) == 0);
}
