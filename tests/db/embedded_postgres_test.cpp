#include "chargegrid/db/embedded_postgres.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/postgres_processes.hpp"
#include "chargegrid/testing/temp_folder.hpp"

namespace fs = std::filesystem;
using chargegrid::db::EmbeddedPostgres;
using chargegrid::db::EmbeddedPostgresError;
using chargegrid::db::EmbeddedPostgresOptions;
using namespace chargegrid::testing;

namespace {

// How long a server and its processes may take to go away.
constexpr std::chrono::seconds kCleanUp{30};

EmbeddedPostgresOptions test_options(const fs::path& data_dir) {
  EmbeddedPostgresOptions options;
  options.data_dir = data_dir;
  options.durable = false;
  return options;
}

// A temporary folder of the test's own, and the data folder of a cluster in it.
struct ClusterFolder {
  TempFolder folder;
  const fs::path data_dir = folder.path() / "pg";
};

// A cluster in a temporary folder of the test's own, not yet started.
struct Cluster : ClusterFolder {
  EmbeddedPostgres pg{test_options(data_dir)};

  // Starts the server; its postmaster's pid.
  pid_t start_server() {
    pg.start();
    const auto pid = pg.postmaster_pid();
    REQUIRE(pid.has_value());
    return *pid;
  }

  // Starts and stops the server: the postmaster.pid it wrote, as a crash would have left it.
  std::string stale_pid_file() {
    pg.start();
    std::string text;
    {
      std::ifstream in(data_dir / "postmaster.pid");
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    pg.stop();
    return text;
  }

  // Writes `pid_file_text` back as postmaster.pid, naming process `pid` in its first line.
  void write_pid_file(const std::string& pid_file_text, pid_t pid) {
    std::ofstream out(data_dir / "postmaster.pid", std::ios::trunc);
    out << std::to_string(pid) + pid_file_text.substr(pid_file_text.find('\n'));
  }
};

std::string query_one(const std::string& url, const std::string& sql) {
  pqxx::connection connection(url);
  pqxx::nontransaction txn(connection);
  return txn.exec1(sql)[0].as<std::string>();
}

uid_t process_uid(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("Uid:")) return static_cast<uid_t>(std::stoul(line.substr(4)));
  FAIL("no Uid line for pid " << pid);
  return 0;
}

// A child process starts the cluster, writes a row and waits; it is killed with SIGKILL.
// Returns the postmaster's pid as the child reported it.
pid_t run_owner_and_kill_it(const EmbeddedPostgresOptions& options) {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ready[0]);
    try {
      EmbeddedPostgres pg(options);
      pg.start();
      {
        pqxx::connection connection(pg.connection_url());
        pqxx::work txn(connection);
        txn.exec("CREATE TABLE kept (value text)");
        txn.exec("INSERT INTO kept VALUES ('written before the kill')");
        txn.commit();
      }
      const pid_t postmaster = pg.postmaster_pid().value_or(0);
      [[maybe_unused]] auto n = ::write(ready[1], &postmaster, sizeof postmaster);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(ready[1]);
  pid_t postmaster = 0;
  const auto got = ::read(ready[0], &postmaster, sizeof postmaster);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(got == static_cast<ssize_t>(sizeof postmaster));
  REQUIRE(postmaster > 0);
  CHECK(WIFSIGNALED(status));
  return postmaster;
}

pid_t parent_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  const auto close = text.rfind(')');  // the command name may hold spaces
  REQUIRE(close != std::string::npos);
  std::istringstream fields(text.substr(close + 2));
  std::string state;
  pid_t parent = 0;
  fields >> state >> parent;
  return parent;
}

uid_t expected_server_uid() {
  if (::geteuid() != 0) return ::geteuid();
  for (const char* name : {"postgres", "nobody"})
    if (const passwd* pw = ::getpwnam(name)) return pw->pw_uid;
  FAIL("no unprivileged user");
  return 0;
}

}  // namespace

TEST_CASE_METHOD(Cluster, "EmbeddedPostgres initialises, starts, serves and stops a cluster",
                 "[db][embedded]") {
  CHECK_FALSE(pg.running());
  CHECK_THROWS_AS(pg.connection_url(), std::logic_error);

  pg.start();
  CHECK(pg.running());
  CHECK(fs::exists(data_dir / "PG_VERSION"));
  CHECK(pg.socket_dir() == data_dir);
  const std::string url = pg.connection_url();
  CHECK(url.starts_with("postgresql:///chargegrid?host=" + data_dir.string()));
  CHECK(query_one(url, "SELECT current_database()") == "chargegrid");
  CHECK(query_one(url, "SHOW server_encoding") == "UTF8");
  CHECK(query_one(url, "SHOW fsync") == "off");
  CHECK(query_one(url, "SHOW listen_addresses") == "");
  CHECK(query_one(url, "SELECT current_user") == "postgres");

  pg.stop();
  CHECK_FALSE(pg.running());
  CHECK_FALSE(pg.postmaster_pid().has_value());
  CHECK_THROWS_AS(pqxx::connection(url), pqxx::broken_connection);
  pg.stop();  // idempotent
}

TEST_CASE_METHOD(ClusterFolder, "EmbeddedPostgres keeps data across a restart on the same folder",
                 "[db][embedded]") {
  {
    EmbeddedPostgres pg(test_options(data_dir));
    pg.start();
    pg.start();  // idempotent while running
    pqxx::connection connection(pg.connection_url());
    pqxx::work txn(connection);
    txn.exec("CREATE TABLE kept (value text)");
    txn.exec("INSERT INTO kept VALUES ('still here')");
    txn.commit();
  }  // the destructor stops the server
  {
    EmbeddedPostgres pg(test_options(data_dir));
    CHECK_FALSE(pg.running());
    pg.start();
    CHECK(query_one(pg.connection_url(), "SELECT value FROM kept") == "still here");
  }
}

TEST_CASE("EmbeddedPostgres durable mode keeps fsync on", "[db][embedded]") {
  TempFolder folder;
  auto options = test_options(folder.path() / "pg");
  options.durable = true;
  options.database = "fleet";
  options.settings["work_mem"] = "8MB";
  EmbeddedPostgres pg(options);
  pg.start();
  CHECK(query_one(pg.connection_url(), "SHOW fsync") == "on");
  CHECK(query_one(pg.connection_url(), "SHOW work_mem") == "8MB");
  CHECK(query_one(pg.connection_url(), "SELECT current_database()") == "fleet");
}

TEST_CASE_METHOD(Cluster, "EmbeddedPostgres runs the server as an unprivileged user",
                 "[db][embedded]") {
  const uid_t server_uid = process_uid(start_server());
  CHECK(server_uid == expected_server_uid());
  CHECK(server_uid != 0);
  struct stat info {};
  REQUIRE(::stat(data_dir.c_str(), &info) == 0);
  CHECK(info.st_uid == server_uid);
  CHECK((info.st_mode & 0777) == 0700);
  // The caller reaches the socket regardless.
  CHECK(query_one(pg.connection_url(), "SELECT 1") == "1");
}

TEST_CASE_METHOD(ClusterFolder,
                 "EmbeddedPostgres stops its server when the owner is killed with SIGKILL",
                 "[db][embedded]") {
  const pid_t postmaster = run_owner_and_kill_it(test_options(data_dir));

  // The watchdog shuts the server down by itself: no process of the folder remains.
  INFO("processes still working in " << data_dir.string());
  CHECK(eventually([&] { return ::kill(postmaster, 0) != 0 && processes_in(data_dir).empty(); },
                   kCleanUp));
  EmbeddedPostgres pg(test_options(data_dir));
  CHECK_FALSE(pg.running());
  // A fast shutdown, not a crash: the cluster was shut down cleanly.
  CHECK(cluster_state(data_dir) == "shut down");
  CHECK_FALSE(fs::exists(data_dir / "postmaster.pid"));

  pg.start();
  CHECK(query_one(pg.connection_url(), "SELECT value FROM kept") == "written before the kill");
}

TEST_CASE_METHOD(
    ClusterFolder,
    "EmbeddedPostgres started right after its owner was killed starts the server afresh",
    "[db][embedded]") {
  const pid_t first_postmaster = run_owner_and_kill_it(test_options(data_dir));

  // No pause: the old server may still be shutting down. It is neither adopted (it would be
  // gone a moment later) nor a reason to fail.
  EmbeddedPostgres pg(test_options(data_dir));
  pg.start();
  CHECK_FALSE(pg.adopted());
  CHECK(pg.postmaster_pid() != first_postmaster);
  CHECK(::kill(first_postmaster, 0) != 0);
  CHECK(query_one(pg.connection_url(), "SELECT value FROM kept") == "written before the kill");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(query_one(pg.connection_url(), "SELECT value FROM kept") == "written before the kill");
}

TEST_CASE_METHOD(ClusterFolder,
                 "EmbeddedPostgres adopts a daemonised server whose owner was killed with SIGKILL",
                 "[db][embedded]") {
  auto options = test_options(data_dir);
  options.stop_with_process = false;  // pg_ctl start: the server outlives its starter
  const pid_t first_postmaster = run_owner_and_kill_it(options);

  EmbeddedPostgres pg(test_options(data_dir));
  CHECK(pg.running());  // the postmaster outlived its owner
  pg.start();
  CHECK(pg.adopted());
  CHECK(pg.postmaster_pid() == first_postmaster);  // adopted, not a second server
  CHECK(query_one(pg.connection_url(), "SELECT value FROM kept") == "written before the kill");
  pg.stop();
  CHECK_FALSE(pg.running());
}

TEST_CASE_METHOD(Cluster, "EmbeddedPostgres keeps serving after the thread that started it ended",
                 "[db][embedded]") {
  std::thread([&] { pg.start(); }).join();
  // PR_SET_PDEATHSIG on a child fires when the thread that forked it ends: the watchdog
  // must not depend on that.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(pg.running());
  CHECK(query_one(pg.connection_url(), "SELECT 1") == "1");
  pg.stop();
  CHECK_FALSE(pg.running());
  // The logging collector outlives the postmaster by a moment.
  CHECK(eventually([&] { return processes_in(data_dir).empty(); }, kCleanUp));
}

TEST_CASE_METHOD(Cluster, "EmbeddedPostgres server stops cleanly when its watchdog is killed",
                 "[db][embedded]") {
  const pid_t postmaster = start_server();
  const pid_t watchdog = parent_of(postmaster);
  REQUIRE(watchdog != ::getpid());
  REQUIRE(parent_of(watchdog) == ::getpid());
  REQUIRE(::kill(watchdog, SIGKILL) == 0);
  CHECK(eventually([&] { return !pg.running(); }, kCleanUp));
  CHECK(cluster_state(data_dir) == "shut down");
  pg.start();  // starts it again
  CHECK(pg.postmaster_pid() != postmaster);
  CHECK(query_one(pg.connection_url(), "SELECT 1") == "1");
}

TEST_CASE_METHOD(Cluster, "EmbeddedPostgres starts over a stale postmaster.pid of a dead process",
                 "[db][embedded]") {
  const auto pid_file_text = stale_pid_file();
  // A process id that is certainly dead: a child that already exited and was reaped.
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  write_pid_file(pid_file_text, dead);
  CHECK_FALSE(pg.running());
  pg.start();
  CHECK(pg.running());
  CHECK(pg.postmaster_pid() != dead);
  CHECK(query_one(pg.connection_url(), "SELECT 1") == "1");
}

TEST_CASE("EmbeddedPostgres moves the socket to /tmp when the data path is too long",
          "[db][embedded]") {
  TempFolder folder;
  const auto data_dir = folder.path() / std::string(90, 'd') / "pg";
  REQUIRE((data_dir / ".s.PGSQL.5432").string().size() > 107);
  EmbeddedPostgres pg(test_options(data_dir));
  pg.start();
  const auto socket_dir = pg.socket_dir();
  CHECK(socket_dir.string().starts_with("/tmp/chargegrid-pg-"));
  CHECK(fs::exists(socket_dir / ".s.PGSQL.5432"));
  CHECK(query_one(pg.connection_url(), "SELECT 1") == "1");
  pg.stop();
  CHECK_FALSE(fs::exists(socket_dir));
}

TEST_CASE("EmbeddedPostgres reports bad data folders clearly", "[db][embedded]") {
  TempFolder folder;
  SECTION("a regular file where the folder should be") {
    const auto path = folder.path() / "file";
    std::ofstream(path) << "not a folder";
    EmbeddedPostgres pg(test_options(path));
    CHECK_THROWS_WITH(pg.start(), Catch::Contains("cannot create"));
  }
  SECTION("a folder holding other files but no cluster") {
    const auto path = folder.path() / "busy";
    fs::create_directories(path);
    std::ofstream(path / "notes.txt") << "mine";
    EmbeddedPostgres pg(test_options(path));
    CHECK_THROWS_WITH(pg.start(), Catch::Contains("initdb failed") && Catch::Contains("not empty"));
  }
  SECTION("options out of range") {
    auto options = test_options(folder.path() / "pg");
    options.port = 70000;
    CHECK_THROWS_AS(EmbeddedPostgres(options), std::invalid_argument);
    options.port = 5432;
    options.settings["bad name; DROP"] = "x";
    CHECK_THROWS_AS(EmbeddedPostgres(options), std::invalid_argument);
  }
  SECTION("no PostgreSQL binaries in the given folder") {
    auto options = test_options(folder.path() / "pg");
    options.bin_dir = folder.path();
    EmbeddedPostgres pg(options);
    CHECK_THROWS_AS(pg.start(), EmbeddedPostgresError);
  }
}

TEST_CASE_METHOD(ClusterFolder,
                 "EmbeddedPostgres started twice at once on one folder runs one server",
                 "[db][embedded]") {
  EmbeddedPostgres first(test_options(data_dir));
  EmbeddedPostgres second(test_options(data_dir));
  std::string first_error, second_error;
  std::thread racer([&] {
    try {
      second.start();
    } catch (const std::exception& e) {
      second_error = e.what();
    }
  });
  try {
    first.start();
  } catch (const std::exception& e) {
    first_error = e.what();
  }
  racer.join();
  CHECK(first_error.empty());
  CHECK(second_error.empty());
  CHECK(first.postmaster_pid() == second.postmaster_pid());
  CHECK(first.connection_url() == second.connection_url());
  CHECK(query_one(second.connection_url(),
                  "SELECT count(*) FROM pg_database WHERE datname = "
                  "'chargegrid'") == "1");
  second.detach();  // first owns the shutdown
}

TEST_CASE_METHOD(Cluster,
                 "EmbeddedPostgres ignores a postmaster.pid naming an unrelated live process",
                 "[db][embedded]") {
  const auto pid_file_text = stale_pid_file();
  // As after a reboot: the recorded number now belongs to some other process.
  const pid_t unrelated = ::fork();
  REQUIRE(unrelated >= 0);
  if (unrelated == 0) {
    for (;;) ::pause();
  }
  write_pid_file(pid_file_text, unrelated);
  CHECK_FALSE(pg.running());
  CHECK_NOTHROW(pg.start());
  CHECK(pg.postmaster_pid() != unrelated);
  CHECK(query_one(pg.connection_url(), "SELECT 1") == "1");
  pg.stop();
  CHECK(::kill(unrelated, 0) == 0);  // neither adopted nor signalled
  ::kill(unrelated, SIGKILL);
  ::waitpid(unrelated, nullptr, 0);
}
