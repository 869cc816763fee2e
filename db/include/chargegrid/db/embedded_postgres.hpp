// A private PostgreSQL cluster run from the installed PostgreSQL binaries.
//
// The cluster lives in one data folder and listens on a Unix socket only, with trust
// authentication on that socket (the socket's folder is readable by its owner alone).
// Processes running as root start PostgreSQL as the `postgres` system user (or `nobody`),
// since PostgreSQL refuses to run as root.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace chargegrid::db {

// A step of the launcher failed; what() names the step and carries the command's stderr.
class EmbeddedPostgresError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct EmbeddedPostgresOptions {
  // Where the cluster lives; created (with initdb) when it holds no cluster yet.
  std::filesystem::path data_dir = "var/pg";
  // Application database, created on start() when missing. Empty: create none.
  std::string database = "chargegrid";
  // Database role used in connection_url(); initdb makes it the superuser.
  std::string user = "postgres";
  // Only names the socket file (.s.PGSQL.<port>); nothing listens on TCP.
  int port = 5432;
  // false turns fsync, synchronous_commit and full_page_writes off: fast, and a crash of
  // the machine may lose or corrupt the cluster. For tests only.
  bool durable = true;
  // Folder holding initdb, pg_ctl and postgres. Empty: `pg_config --bindir`, else the newest
  // /usr/lib/postgresql/<version>/bin.
  std::filesystem::path bin_dir;
  // Extra server settings written to the cluster's configuration on every start.
  std::map<std::string, std::string> settings;
  // How long pg_ctl may wait for the server to start or stop.
  std::chrono::seconds timeout{60};
  // true: a server this object starts stops when this process ends, however it ends (kill -9
  // included): the postmaster runs under a watchdog child process that shuts it down fast
  // (SIGINT; nothing committed is lost) once this process is gone. false: it is started with
  // `pg_ctl start` as a daemon that outlives this process, for a cluster shared by processes
  // that come and go (`chargegridd database start`, the test suite's shared cluster).
  bool stop_with_process = true;
};

class EmbeddedPostgres {
 public:
  explicit EmbeddedPostgres(EmbeddedPostgresOptions options = {});
  // Stops the cluster (pg_ctl stop -m fast) unless detach() was called.
  ~EmbeddedPostgres();

  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // Initialises the data folder if it holds no cluster, starts the server (or adopts the
  // one already running on this folder) and creates the application database if missing.
  // Idempotent. A server whose owner died (killed with -9, say) is shutting down under its
  // watchdog: start() waits until it has stopped, then starts it afresh.
  void start();
  // Uses the server already running on the data folder, without initialising, starting or
  // ever stopping one (the object is detached). False when no server runs there (or the one
  // there is shutting down); then connection_url() stays unusable.
  bool attach();
  // Stops the server (fast shutdown: open sessions are ended), whoever started it.
  // Idempotent.
  void stop();
  // Whether a server is running on the data folder: postmaster.pid names a live postmaster
  // working in this folder.
  bool running() const;
  // Leaves the server running when this object is destroyed (with stop_with_process, until
  // this process ends).
  void detach() noexcept { detached_ = true; }
  // Whether the last start() found the server already running (started by another process)
  // rather than starting it.
  bool adopted() const noexcept { return adopted_; }

  // libpq URI of the application database (or of `database` when given):
  // postgresql:///<db>?host=<socket dir>&port=<port>&user=<user>. Valid after start().
  std::string connection_url() const;
  std::string connection_url(const std::string& database) const;

  const std::filesystem::path& data_dir() const noexcept { return data_dir_; }
  const std::filesystem::path& socket_dir() const noexcept { return socket_dir_; }
  int port() const noexcept { return port_; }
  // The postmaster's process id, read from postmaster.pid; nullopt when none runs.
  std::optional<pid_t> postmaster_pid() const;

 private:
  void initialise_cluster();
  void write_settings();
  void start_server();
  void start_supervised_server();
  bool adopt_running_server();
  bool owner_died();
  void wait_for_orphan_shutdown();
  // Until a connection succeeds; throws after the timeout, or once `alive` says the server
  // is gone.
  void wait_until_accepting(const std::function<bool()>& alive);
  bool watchdog_running();
  void stop_watchdog();
  void remove_stale_pid_file();
  void create_database();
  void prepare_socket_dir();
  void remove_private_socket_dir();

  EmbeddedPostgresOptions options_;
  std::filesystem::path data_dir_;
  std::filesystem::path bin_dir_;
  std::filesystem::path socket_dir_;
  int port_;
  bool detached_ = false;
  bool adopted_ = false;
  // The watchdog of the server this object started (stop_with_process), and the shared
  // flock on the folder's owner lock held meanwhile: see embedded_postgres.cpp.
  pid_t watchdog_pid_ = -1;
  int watchdog_control_ = -1;
  int owner_lock_ = -1;
};

// Whether the account PostgreSQL runs as (see above) can reach `folder` through every parent
// folder. Always true unless the caller is root.
bool server_user_can_reach(const std::filesystem::path& folder);

// The folder holding the newest installed PostgreSQL server binaries; throws
// EmbeddedPostgresError when none is installed.
std::filesystem::path find_postgres_bin_dir();

}  // namespace chargegrid::db
