// chargegridd against independent OCPP-J stations: ocpp-rpc in strict mode (station.mjs)
// and ChargeGrid's own simulator, with the database checked afterwards.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/database.hpp"

extern char** environ;

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

pid_t spawn(std::vector<std::string> args, const std::string& stdout_path = "") {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

// Exit status of a child, or -1 if it did not end within the timeout (then killed).
int wait_exit(pid_t pid, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// chargegridd with the lead's test contract: free ports, ready file, SIGTERM stops it.
class Daemon {
 public:
  explicit Daemon(const std::string& database_url) {
    dir_ = fs::temp_directory_path() /
           ("chargegrid-interop-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    const auto ready = dir_ / "ready.json";
    // CHARGEGRID_CHARGEGRIDD may point at another build of the daemon.
    const char* daemon_override = std::getenv("CHARGEGRID_CHARGEGRIDD");
    const std::string daemon = daemon_override != nullptr ? daemon_override : CHARGEGRIDD;
    pid_ = spawn({daemon, "--database-url", database_url, "--ocpp-port", "0", "--http-port", "0",
                  "--bind", "127.0.0.1", "--ready-file", ready.string(), "--data-dir",
                  (dir_ / "data").string()});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!fs::exists(ready) || fs::file_size(ready) == 0) {
      int status = 0;
      REQUIRE(::waitpid(pid_, &status, WNOHANG) == 0);  // chargegridd must still run
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream in(ready);
    ocpp_port_ = json::parse(in).at("ocpp_port").get<int>();
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      wait_exit(pid_, std::chrono::seconds(10));
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Stops with SIGTERM; true when it exited cleanly in time.
  bool stop() {
    ::kill(pid_, SIGTERM);
    const int code = wait_exit(pid_, std::chrono::seconds(10));
    pid_ = -1;
    return code == 0;
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(ocpp_port_) + "/ocpp"; }
  const fs::path& dir() const { return dir_; }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  pid_t pid_ = -1;
  int ocpp_port_ = 0;
};

// Registers a token as Accepted, as an operator would before drivers arrive.
void enrol_token(const chargegrid::testing::TestDatabase& db, const std::string& token) {
  auto connection = db.connect();
  pqxx::work tx(connection);
  tx.exec_params("INSERT INTO id_tokens (id_token, status) VALUES ($1, 'Accepted')", token);
  tx.commit();
}

struct StationRun {
  int exit_code;
  json summary;
};

StationRun run_node_station(const Daemon& daemon, const std::string& id,
                            const std::string& version) {
  REQUIRE(fs::exists("node_modules/ocpp-rpc"));  // scripts/test runs npm install here
  const auto out = daemon.dir() / (id + ".json");
  const pid_t pid = spawn(
      {CHARGEGRID_NODE, "station.mjs", "--url", daemon.url(), "--id", id, "--version", version},
      out.string());
  const int code = wait_exit(pid, std::chrono::seconds(60));
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {code, json::parse(text, nullptr, false)};
}

}  // namespace

TEST_CASE("ocpp-rpc stations in strict mode run a full session against chargegridd", "[interop]") {
  chargegrid::testing::TestDatabase db;
  enrol_token(db, "INTEROP-TAG");  // station.mjs's default idTag
  Daemon daemon(db.url());
  for (const std::string version : {"1.6", "2.0.1"}) {
    const std::string id = "RPC-" + version;
    INFO(id);
    const auto run = run_node_station(daemon, id, version);
    REQUIRE(run.exit_code == 0);
    REQUIRE(run.summary.is_object());

    auto connection = db.connect();
    pqxx::read_transaction tx(connection);
    const auto station = tx.exec_params("SELECT protocol FROM stations WHERE id = $1", id);
    REQUIRE(station.size() == 1);
    CHECK(station[0][0].as<std::string>().find(version) != std::string::npos);
    const auto transactions = tx.exec_params(
        "SELECT state, meter_start_wh, meter_stop_wh, id FROM transactions WHERE station_id = $1",
        id);
    REQUIRE(transactions.size() == 1);
    CHECK(transactions[0][0].as<std::string>() == "ended");
    CHECK(transactions[0][1].as<long>() == run.summary["meterStart"].get<long>());
    CHECK(transactions[0][2].as<long>() == run.summary["meterStop"].get<long>());
    const auto samples = tx.exec_params(
        "SELECT count(*) FROM meter_values WHERE station_id = $1 AND measurand = "
        "'Energy.Active.Import.Register'",
        id);
    CHECK(samples[0][0].as<long>() >= 3);
  }
  CHECK(daemon.stop());
}

TEST_CASE("a simulated fleet completes its sessions against chargegridd", "[interop][sim]") {
  chargegrid::testing::TestDatabase db;
  enrol_token(db, "FLEET-TAG");
  Daemon daemon(db.url());
  for (const auto version :
       {chargegrid::sim::OcppVersion::v16, chargegrid::sim::OcppVersion::v201}) {
    chargegrid::sim::FleetOptions options;
    options.stations = 4;
    options.threads = 2;
    options.id_prefix = "FLEET" + chargegrid::sim::to_string(version) + "-";
    auto& s = options.station;
    s.version = version;
    s.id_tag = "FLEET-TAG";
    s.endpoint = chargegrid::sim::parse_url(daemon.url());
    s.sessions = 2;
    s.time_scale = 60;
    s.meter_interval_s = 60;
    s.session_length_s = 300;
    s.idle_between_sessions_s = 30;
    s.first_session_delay_s = 0;
    s.response_timeout_s = 10;
    chargegrid::sim::Fleet fleet(options);
    const auto stats = fleet.run(std::chrono::seconds(90));
    INFO(stats.to_json().dump(1));
    CHECK(stats.stations_finished == 4);
    CHECK(stats.sessions_completed == 8);
    CHECK(stats.call_errors_received == 0);
    CHECK(stats.call_timeouts == 0);

    auto connection = db.connect();
    pqxx::read_transaction tx(connection);
    const auto ended = tx.exec_params(
        "SELECT count(*) FROM transactions WHERE station_id LIKE $1 || '%' AND state = 'ended' "
        "AND meter_stop_wh > meter_start_wh",
        options.id_prefix);
    CHECK(ended[0][0].as<long>() == 8);
  }
  CHECK(daemon.stop());
}
