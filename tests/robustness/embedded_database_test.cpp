// chargegridd on its embedded PostgreSQL (no --database-url), killed with SIGKILL: the
// database it started must not outlive it, must have been shut down cleanly, and the next
// chargegridd on the same data folder (started at once or later) must serve what was stored
// before the kill.

#include <signal.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/daemon.hpp"
#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/http_client.hpp"
#include "chargegrid/testing/postgres_processes.hpp"
#include "chargegrid/testing/temp_folder.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using chargegrid::testing::cluster_state;
using chargegrid::testing::eventually;
using chargegrid::testing::processes_in;

namespace {

std::unique_ptr<chargegrid::testing::Daemon> start_daemon(const fs::path& folder,
                                                          const std::string& name) {
  auto args = chargegrid::testing::daemon_test_flags();
  args.insert(args.end(),
              {"--ocpp-port", "0", "--http-port", "0", "--data-dir", (folder / "var").string()});
  return std::make_unique<chargegrid::testing::Daemon>(CHARGEGRIDD, "", folder, name, args);
}

pid_t postmaster_of(const fs::path& data_dir) {
  std::ifstream in(data_dir / "postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

void boot_station(const chargegrid::testing::Daemon& daemon, const std::string& id) {
  chargegrid::sim::OcppTestClient client;
  REQUIRE(client.connect("127.0.0.1", daemon.ocpp_port(), "/ocpp/" + id, {"ocpp1.6"}) == "ocpp1.6");
  const auto answer = client.call(
      "BootNotification", {{"chargePointVendor", "Embedded"}, {"chargePointModel", "Kill9"}});
  REQUIRE(answer.at(0) == 3);
  CHECK(answer.at(2).at("status") == "Accepted");
  client.close();
}

std::int64_t stations_named(const fs::path& data_dir, const std::string& prefix) {
  pqxx::connection connection("postgresql:///chargegrid?host=" + data_dir.string() +
                              "&port=5432&user=postgres");
  pqxx::nontransaction txn(connection);
  return txn
      .exec_params1("SELECT count(*) FROM stations WHERE id LIKE $1 AND vendor = 'Embedded'",
                    prefix + "%")[0]
      .as<std::int64_t>();
}

}  // namespace

TEST_CASE("kill -9 of chargegridd leaves no embedded database running and loses nothing",
          "[integration][crash][embedded]") {
  chargegrid::testing::TempFolder folder;
  const auto data_dir = folder.path() / "var" / "pg";

  auto daemon = start_daemon(folder.path(), "1");
  boot_station(*daemon, "EMB0001");
  const pid_t first_postmaster = postmaster_of(data_dir);
  REQUIRE(first_postmaster > 0);
  daemon->kill_hard();

  // The database stops by itself, cleanly (a fast shutdown, not a crash).
  INFO("processes still working in " << data_dir.string());
  CHECK(eventually(
      [&] { return ::kill(first_postmaster, 0) != 0 && processes_in(data_dir).empty(); }, 30s));
  CHECK(cluster_state(data_dir) == "shut down");

  // The next chargegridd starts it again and finds what was stored.
  daemon = start_daemon(folder.path(), "2");
  CHECK(stations_named(data_dir, "EMB0001") == 1);
  boot_station(*daemon, "EMB0002");

  // Killed again and restarted at once: the old database may still be shutting down.
  const pid_t second_postmaster = postmaster_of(data_dir);
  daemon->kill_hard();
  daemon = start_daemon(folder.path(), "3");
  CHECK(::kill(second_postmaster, 0) != 0);
  CHECK(postmaster_of(data_dir) != second_postmaster);
  CHECK(stations_named(data_dir, "EMB") == 2);

  // A clean stop stops the database with it.
  INFO(daemon->log_text());
  CHECK(daemon->stop());
  CHECK(eventually([&] { return processes_in(data_dir).empty(); }, 30s));
  CHECK(cluster_state(data_dir) == "shut down");
}

namespace {

struct CommandOutput {
  int code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs chargegridd with `args` (shell words) in `cwd`.
CommandOutput chargegridd(const fs::path& cwd, const std::string& args) {
  const fs::path err_file = cwd / "admin.err";
  const auto command = "cd '" + cwd.string() + "' && " + std::string(CHARGEGRIDD) + " " + args +
                       " 2>'" + err_file.string() + "'";
  CommandOutput result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) result.out += buffer;
  result.code = WEXITSTATUS(::pclose(pipe));
  std::ifstream in(err_file);
  result.err.assign(std::istreambuf_iterator<char>(in), {});
  return result;
}

}  // namespace

TEST_CASE("an admin command uses the running server's database and never creates one",
          "[integration][admin][embedded]") {
  chargegrid::testing::TempFolder folder;
  const fs::path elsewhere = folder.path() / "elsewhere";
  fs::create_directories(elsewhere);

  // No server anywhere: a clear failure that says where it looked, and nothing created.
  const auto lonely = chargegridd(elsewhere, "apikey create --role admin --name lost");
  CHECK(lonely.code == 1);
  CHECK(lonely.out.empty());
  CHECK(lonely.err.find((elsewhere / "var" / "pg").string()) != std::string::npos);
  CHECK_FALSE(fs::exists(elsewhere / "var"));

  auto daemon = start_daemon(folder.path(), "admin");
  const auto server_dir = (folder.path() / "var").string();
  // --data-dir after the subcommand and before it: both find the server's database.
  for (const auto& args :
       {"apikey create --role admin --name after --data-dir '" + server_dir + "'",
        "--data-dir '" + server_dir + "' apikey create --role admin --name before"}) {
    INFO(args);
    auto made = chargegridd(elsewhere, args);
    INFO(made.err);
    REQUIRE(made.code == 0);
    made.out.erase(made.out.find_last_not_of('\n') + 1);
    const auto me = chargegrid::testing::http_request(
        daemon->http_port(), boost::beast::http::verb::get, "/api/v1/me", made.out);
    CHECK(me.status == 200);
  }
  CHECK_FALSE(fs::exists(elsewhere / "var"));

  // The help lists the admin commands.
  const auto help = chargegridd(elsewhere, "--help");
  CHECK(help.out.find("apikey create") != std::string::npos);
  CHECK(help.out.find("database start") != std::string::npos);
  CHECK(daemon->stop());
}
