#include "chargegrid/testing/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

extern char** environ;

namespace chargegrid::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<std::string> daemon_test_flags() {
  return {"--bind",
          "127.0.0.1",
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
}

Daemon::Daemon(const std::string& binary, const std::string& database_url, const fs::path& dir,
               const std::string& name, const std::vector<std::string>& extra) {
  fs::create_directories(dir);
  const auto ready = dir / ("ready-" + name + ".json");
  fs::remove(ready);
  log_ = dir / ("chargegridd-" + name + ".log");
  std::vector<std::string> args{binary, "--ready-file", ready.string()};
  if (!database_url.empty()) args.insert(args.end(), {"--database-url", database_url});
  // What the server keeps in files (the ledger's key) goes to the test's folder, not the
  // working directory (the source tree), unless the test names a data folder itself.
  if (std::find(extra.begin(), extra.end(), "--data-dir") == extra.end())
    args.insert(args.end(), {"--data-dir", (dir / ("data-" + name)).string()});
  args.insert(args.end(), extra.begin(), extra.end());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // Nothing else of the test process: a socket it holds (Asio's are not close-on-exec) would
  // otherwise stay open in the child after the test closed it.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
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
  const auto ports = nlohmann::json::parse(in);
  ocpp_port_ = static_cast<std::uint16_t>(ports.at("ocpp_port").get<int>());
  http_port_ = static_cast<std::uint16_t>(ports.at("http_port").get<int>());
  node_id_ = ports.value("node_id", "");
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Daemon::kill_hard() {
  REQUIRE(::kill(pid_, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid_, &status, 0) == pid_);
  CHECK(WIFSIGNALED(status));
  pid_ = -1;
}

bool Daemon::stop(std::chrono::seconds limit) {
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  pid_ = -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string Daemon::log_text(std::size_t max_chars) const {
  std::ifstream in(log_);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_chars ? text.substr(text.size() - max_chars) : text;
}

}  // namespace chargegrid::testing
