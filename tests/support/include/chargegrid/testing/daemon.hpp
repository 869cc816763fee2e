#pragma once
// chargegridd as a child process for tests that kill it: its log in a folder, its ports from
// its ready file. Catch2 REQUIREs that it starts.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace chargegrid::testing {

class Daemon {
 public:
  // Starts `binary --database-url URL --ready-file DIR/ready-NAME.json ARGS...` with its
  // output in DIR/chargegridd-NAME.log, and waits (up to a minute) until it serves. An empty
  // URL leaves --database-url out: the daemon runs its embedded database (--data-dir).
  Daemon(const std::string& binary, const std::string& database_url,
         const std::filesystem::path& dir, const std::string& name,
         const std::vector<std::string>& args);
  // kill -9 if it still runs.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  std::uint16_t ocpp_port() const { return ocpp_port_; }
  std::uint16_t http_port() const { return http_port_; }
  const std::string& node_id() const { return node_id_; }  // cluster mode
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // kill -9: no chance to answer, flush or close anything.
  void kill_hard();
  // SIGTERM: true when it stopped cleanly within `limit`.
  bool stop(std::chrono::seconds limit = std::chrono::seconds(30));
  // The end of its log.
  std::string log_text(std::size_t max_chars = 4000) const;

 private:
  pid_t pid_ = -1;
  std::uint16_t ocpp_port_ = 0;
  std::uint16_t http_port_ = 0;
  std::string node_id_;
  std::filesystem::path log_;
};

// The flags the robustness and cluster tests give every chargegridd: loopback, ws only, free
// vend, a heartbeat interval of 60 s (one real second at the fleets' time scale), two threads
// and two database connections, meter rows waiting 100 ms for their batch, warnings only.
std::vector<std::string> daemon_test_flags();

}  // namespace chargegrid::testing
