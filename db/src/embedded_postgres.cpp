#include "chargegrid/db/embedded_postgres.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include "chargegrid/base/log.hpp"
#include "chargegrid/db/url.hpp"
#include "process.hpp"

namespace chargegrid::db {
namespace fs = std::filesystem;
namespace log = base::log;
using detail::CommandResult;
using detail::RunAs;

namespace {

constexpr std::size_t kMaxSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1
constexpr const char* kSettingsFile = "chargegrid.conf";
// Who is behind a running server, for a process that finds it running (see owner_died()):
//  - the owner lock is held (shared flock) by each live process whose EmbeddedPostgres
//    started the server under a watchdog (stop_with_process); the kernel drops it the moment
//    such a process dies, whatever kills it;
//  - the watchdog lock is held by the watchdog, from before it exists (its starter takes it
//    and hands it down) until its server has exited.
// Watchdog lock held, owner lock free: the owner died and the server is being shut down.
// Owner lock held: a live process's server. Neither: a server started by pg_ctl.
constexpr const char* kOwnerLock = "chargegrid-owner.lock";
constexpr const char* kWatchdogLock = "chargegrid-watchdog.lock";

// The account PostgreSQL runs as: the caller, or an unprivileged user when the caller is root.
std::optional<RunAs> server_account() {
  if (::geteuid() != 0) return std::nullopt;
  for (const char* name : {"postgres", "nobody"}) {
    if (const passwd* pw = ::getpwnam(name)) return RunAs{pw->pw_uid, pw->pw_gid, name};
  }
  throw EmbeddedPostgresError(
      "embedded postgres: running as root, but neither a 'postgres' nor a 'nobody' user exists "
      "to run PostgreSQL as");
}

std::string trim(std::string text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(const std::string& text, std::size_t max_chars) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

// Single-quoted value for postgresql.conf.
std::string conf_quote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'')
      out += "''";
    else if (c == '\\')
      out += "\\\\";
    else
      out += c;
  }
  return out + "'";
}

void change_owner(const fs::path& path, const std::optional<RunAs>& account, bool recursive) {
  if (!account) return;
  if (::lchown(path.c_str(), account->uid, account->gid) != 0)
    throw EmbeddedPostgresError("embedded postgres: cannot chown " + path.string() + " to " +
                                account->name + ": " + std::strerror(errno));
  if (recursive && fs::is_directory(path) && !fs::is_symlink(path)) {
    for (const auto& entry : fs::recursive_directory_iterator(path)) {
      if (::lchown(entry.path().c_str(), account->uid, account->gid) != 0)
        throw EmbeddedPostgresError("embedded postgres: cannot chown " + entry.path().string() +
                                    ": " + std::strerror(errno));
    }
  }
}

// Holds an exclusive flock on the data folder, so that two processes never initialise or
// start the same cluster at once.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& folder)
      : fd_(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ < 0)
      throw EmbeddedPostgresError("embedded postgres: cannot open " + folder.string() + ": " +
                                  std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd_);
        throw EmbeddedPostgresError("embedded postgres: cannot lock " + folder.string() + ": " +
                                    std::strerror(err));
      }
    }
  }
  ~FolderLock() { ::close(fd_); }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

// Opens (creating) a lock file and takes a shared flock on it; returns the descriptor.
int hold_shared_lock(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw EmbeddedPostgresError("embedded postgres: cannot open " + path.string() + ": " +
                                std::strerror(errno));
  while (::flock(fd, LOCK_SH) != 0) {
    if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      throw EmbeddedPostgresError("embedded postgres: cannot lock " + path.string() + ": " +
                                  std::strerror(err));
    }
  }
  return fd;
}

// Whether some process holds a flock on the lock file (missing or unreadable: no).
bool lock_is_held(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // also releases the lock, if it was taken
  return held;
}

// Whether `account` may search (x) a folder with these attributes.
bool may_search(const struct stat& info, const RunAs& account) {
  if (info.st_uid == account.uid) return info.st_mode & S_IXUSR;
  if (info.st_gid == account.gid) return info.st_mode & S_IXGRP;
  return info.st_mode & S_IXOTH;
}

struct PidFile {
  pid_t pid = 0;
  int port = 0;
  fs::path socket_dir;
  std::string status;
};

// postmaster.pid: pid, data folder, start time, port, first socket folder, listen address,
// shared memory key, status ("starting", "ready", "stopping").
std::optional<PidFile> read_pid_file(const fs::path& data_dir) {
  std::ifstream in(data_dir / "postmaster.pid");
  if (!in) return std::nullopt;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.empty()) return std::nullopt;
  PidFile file;
  try {
    file.pid = static_cast<pid_t>(std::stol(lines[0]));
    if (lines.size() > 3) file.port = std::stoi(lines[3]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (lines.size() > 4) file.socket_dir = trim(lines[4]);
  if (lines.size() > 7) file.status = trim(lines[7]);
  return file;
}

bool process_alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

// Whether `pid` is a postmaster serving `data_dir`: a postmaster works in its data folder.
// Guards against a stale postmaster.pid whose number now belongs to another process (after
// a reboot, say), which must neither be adopted nor signalled.
bool is_postmaster_of(pid_t pid, const fs::path& data_dir) {
  if (!process_alive(pid)) return false;
  std::error_code ec;
  const fs::path cwd = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec);
  if (ec) return true;  // no /proc to ask: trust the pid file, as pg_ctl does
  const fs::path canonical = fs::weakly_canonical(data_dir, ec);
  return cwd == (ec ? data_dir : canonical);
}

}  // namespace

bool server_user_can_reach(const fs::path& folder) {
  const auto account = server_account();
  if (!account) return true;
  const fs::path absolute = fs::absolute(folder).lexically_normal();
  for (fs::path ancestor = absolute.parent_path();; ancestor = ancestor.parent_path()) {
    struct stat info {};
    if (::stat(ancestor.c_str(), &info) == 0 && !may_search(info, *account)) return false;
    if (ancestor == ancestor.root_path() || ancestor.empty()) break;
  }
  return true;
}

fs::path find_postgres_bin_dir() {
  std::vector<fs::path> candidates;
  if (const char* from_env = std::getenv("CHARGEGRID_PG_BINDIR"); from_env && *from_env)
    candidates.emplace_back(from_env);
  for (const char* pg_config : {"/usr/bin/pg_config", "/usr/local/bin/pg_config"}) {
    if (::access(pg_config, X_OK) != 0) continue;
    try {
      const auto result = detail::run_command({pg_config, "--bindir"}, std::nullopt);
      if (result.exit_code == 0) candidates.emplace_back(trim(result.out));
    } catch (const std::exception&) {
    }
  }
  // Debian installs each major version side by side; prefer the newest.
  std::vector<std::pair<int, fs::path>> versions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit))
      versions.emplace_back(std::stoi(name), entry.path() / "bin");
  }
  std::sort(versions.begin(), versions.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (auto& [version, path] : versions) candidates.push_back(path);
  candidates.emplace_back("/usr/local/pgsql/bin");

  for (const auto& dir : candidates) {
    if (::access((dir / "initdb").c_str(), X_OK) == 0 &&
        ::access((dir / "pg_ctl").c_str(), X_OK) == 0 &&
        ::access((dir / "postgres").c_str(), X_OK) == 0)
      return dir;
  }
  throw EmbeddedPostgresError(
      "embedded postgres: no PostgreSQL server binaries found (looked at $CHARGEGRID_PG_BINDIR, "
      "pg_config --bindir, /usr/lib/postgresql/*/bin); install the 'postgresql' package");
}

EmbeddedPostgres::EmbeddedPostgres(EmbeddedPostgresOptions options)
    : options_(std::move(options)),
      data_dir_(fs::absolute(options_.data_dir).lexically_normal()),
      port_(options_.port) {
  if (data_dir_.has_filename() == false) data_dir_ = data_dir_.parent_path();
  if (options_.port <= 0 || options_.port > 65535)
    throw std::invalid_argument("embedded postgres: port out of range");
  if (options_.user.empty()) throw std::invalid_argument("embedded postgres: empty user name");
  for (const auto& [name, value] : options_.settings) {
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") != std::string::npos)
      throw std::invalid_argument("embedded postgres: bad setting name '" + name + "'");
  }
  bin_dir_ = options_.bin_dir.empty() ? find_postgres_bin_dir() : options_.bin_dir;
}

EmbeddedPostgres::~EmbeddedPostgres() {
  // Detached with a watchdog: its control pipe and the owner lock stay open (on purpose)
  // until this process ends, and with them the server.
  if (detached_) return;
  try {
    stop();
  } catch (const std::exception& e) {
    log::error("embedded_postgres_stop_failed",
               {{"data_dir", data_dir_.string()}, {"error", e.what()}});
  }
}

namespace {

CommandResult run_step(const std::string& step, const std::vector<std::string>& argv,
                       const std::optional<RunAs>& account) {
  try {
    return detail::run_command(argv, account);
  } catch (const std::system_error& e) {
    throw EmbeddedPostgresError("embedded postgres: " + step + " failed: " + e.what());
  }
}

[[noreturn]] void fail_step(const std::string& step, const std::vector<std::string>& argv,
                            const CommandResult& result, const std::string& extra = {}) {
  std::string message = "embedded postgres: " + step + " failed (exit code " +
                        std::to_string(result.exit_code) + "): " + detail::describe_command(argv);
  const std::string err = trim(result.err.empty() ? result.out : result.err);
  if (!err.empty()) message += "\n" + tail(err, 4000);
  if (!extra.empty()) message += "\n" + extra;
  throw EmbeddedPostgresError(message);
}

}  // namespace

void EmbeddedPostgres::start() {
  const auto account = server_account();
  if (!server_user_can_reach(data_dir_))
    throw EmbeddedPostgresError("embedded postgres: PostgreSQL runs as '" + account->name +
                                "', which cannot reach " + data_dir_.string() +
                                "; choose a data folder whose parent folders are searchable "
                                "by others (o+x), e.g. under /var or /tmp");
  std::error_code ec;
  fs::create_directories(data_dir_, ec);
  if (ec)
    throw EmbeddedPostgresError("embedded postgres: cannot create " + data_dir_.string() + ": " +
                                ec.message());
  FolderLock lock(data_dir_);

  struct stat info {};
  if (::stat(data_dir_.c_str(), &info) != 0)
    throw EmbeddedPostgresError("embedded postgres: cannot stat " + data_dir_.string());
  if (account && info.st_uid != account->uid) {
    log::info("embedded_postgres_chown",
              {{"data_dir", data_dir_.string()}, {"user", account->name}});
    change_owner(data_dir_, account, true);
  }
  ::chmod(data_dir_.c_str(), 0700);

  if (!fs::exists(data_dir_ / "PG_VERSION")) initialise_cluster();

  if (watchdog_running()) {
    // Started by this object and still running (or still starting).
    wait_until_accepting([this] { return watchdog_running(); });
  } else {
    remove_stale_pid_file();
    adopted_ = adopt_running_server();
    if (!adopted_) start_server();
  }
  create_database();
}

bool EmbeddedPostgres::attach() {
  detached_ = true;
  if (!fs::exists(data_dir_ / "PG_VERSION")) return false;
  FolderLock lock(data_dir_);
  if (!running() || owner_died()) return false;
  const auto pid_file = read_pid_file(data_dir_);
  if (!pid_file || pid_file->socket_dir.empty() || pid_file->port <= 0) return false;
  socket_dir_ = pid_file->socket_dir;
  port_ = pid_file->port;
  const pid_t pid = pid_file->pid;
  try {
    wait_until_accepting([&] { return is_postmaster_of(pid, data_dir_); });
  } catch (const EmbeddedPostgresError&) {
    socket_dir_.clear();
    return false;
  }
  adopted_ = true;
  return true;
}

void EmbeddedPostgres::initialise_cluster() {
  const auto account = server_account();
  std::vector<std::string> argv{(bin_dir_ / "initdb").string(),
                                "--pgdata=" + data_dir_.string(),
                                "--username=" + options_.user,
                                "--encoding=UTF8",
                                "--locale=C",
                                "--auth-local=trust",
                                "--auth-host=reject"};
  if (!options_.durable) argv.emplace_back("--no-sync");
  log::info("embedded_postgres_initdb",
            {{"data_dir", data_dir_.string()},
             {"user", account ? account->name : std::string("(caller)")}});
  const auto result = run_step("initdb", argv, account);
  if (result.exit_code != 0) {
    std::string hint;
    if (account)
      hint = "hint: the '" + account->name + "' user must be able to reach " + data_dir_.string() +
             " (every parent folder needs o+x)";
    fail_step("initdb", argv, result, hint);
  }
  std::ofstream conf(data_dir_ / "postgresql.conf", std::ios::app);
  conf << "\n# Settings of the ChargeGrid embedded cluster, rewritten on every start.\n"
       << "include_if_exists = '" << kSettingsFile << "'\n";
  if (!conf) throw EmbeddedPostgresError("embedded postgres: cannot append to postgresql.conf");
}

void EmbeddedPostgres::prepare_socket_dir() {
  const std::string socket_name = ".s.PGSQL." + std::to_string(port_);
  if ((data_dir_ / socket_name).string().size() <= kMaxSocketPath &&
      data_dir_.string().find(',') == std::string::npos) {
    socket_dir_ = data_dir_;
    return;
  }
  // The data folder's path is too long for a socket: a private folder under /tmp instead.
  std::string templ = "/tmp/chargegrid-pg-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr)
    throw EmbeddedPostgresError(std::string("embedded postgres: cannot create socket folder: ") +
                                std::strerror(errno));
  socket_dir_ = templ;
  ::chmod(socket_dir_.c_str(), 0700);
  change_owner(socket_dir_, server_account(), false);
}

void EmbeddedPostgres::remove_private_socket_dir() {
  if (socket_dir_.empty() || socket_dir_ == data_dir_) return;
  if (socket_dir_.string().starts_with("/tmp/chargegrid-pg-")) {
    std::error_code ec;
    fs::remove(socket_dir_, ec);  // only succeeds once the server removed its socket
  }
}

void EmbeddedPostgres::write_settings() {
  std::map<std::string, std::string> settings{
      {"listen_addresses", ""},
      {"port", std::to_string(port_)},
      {"unix_socket_directories", socket_dir_.string()},
      {"unix_socket_permissions", "0700"},
      {"logging_collector", "on"},
      {"log_directory", "log"},
      {"log_filename", "postgresql-%a.log"},
      {"log_truncate_on_rotation", "on"},
      {"log_rotation_age", "1d"},
      {"log_rotation_size", "0"},
      {"log_line_prefix", "%m [%p] %q%u@%d "},
      {"max_connections", "200"},
      {"shared_buffers", "128MB"},
      {"max_wal_size", "512MB"},
  };
  if (!options_.durable) {
    settings["fsync"] = "off";
    settings["synchronous_commit"] = "off";
    settings["full_page_writes"] = "off";
  }
  for (const auto& [name, value] : options_.settings) settings[name] = value;
  const fs::path path = data_dir_ / kSettingsFile;
  {
    std::ofstream out(path, std::ios::trunc);
    out << "# Written by the ChargeGrid embedded launcher on every start; edits are lost.\n";
    for (const auto& [name, value] : settings) out << name << " = " << conf_quote(value) << "\n";
    if (!out) throw EmbeddedPostgresError("embedded postgres: cannot write " + path.string());
  }
  ::chmod(path.c_str(), 0600);
  change_owner(path, server_account(), false);
}

bool EmbeddedPostgres::owner_died() {
  return lock_is_held(data_dir_ / kWatchdogLock) && !lock_is_held(data_dir_ / kOwnerLock);
}

void EmbeddedPostgres::wait_for_orphan_shutdown() {
  log::info("embedded_postgres_wait_for_orphan", {{"data_dir", data_dir_.string()}});
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  while (lock_is_held(data_dir_ / kWatchdogLock)) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw EmbeddedPostgresError(
          "embedded postgres: the server on " + data_dir_.string() +
          " belongs to a process that ended and is still shutting down after " +
          std::to_string(options_.timeout.count()) + " s; try again once it has stopped");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool EmbeddedPostgres::adopt_running_server() {
  if (!running()) return false;
  if (owner_died()) {
    // Its watchdog is stopping it (fast shutdown): adopting it would lose it in a moment.
    wait_for_orphan_shutdown();
    return false;
  }
  const auto pid_file = read_pid_file(data_dir_);
  if (!pid_file || pid_file->socket_dir.empty() || pid_file->port <= 0) return false;
  socket_dir_ = pid_file->socket_dir;
  port_ = pid_file->port;
  const pid_t pid = pid_file->pid;
  log::info("embedded_postgres_adopt",
            {{"data_dir", data_dir_.string()}, {"pid", pid}, {"socket_dir", socket_dir_.string()}});
  try {
    wait_until_accepting([&] { return is_postmaster_of(pid, data_dir_); });
    return true;
  } catch (const std::exception& e) {
    if (!running()) return false;  // it was shutting down, and now it is gone
    // Alive but not serving (e.g. wedged in shutdown): restart it cleanly.
    log::warn("embedded_postgres_restart_unresponsive",
              {{"data_dir", data_dir_.string()}, {"error", e.what()}});
    std::vector<std::string> argv{(bin_dir_ / "pg_ctl").string(),
                                  "stop",
                                  "-D",
                                  data_dir_.string(),
                                  "-m",
                                  "immediate",
                                  "-w",
                                  "-t",
                                  std::to_string(options_.timeout.count())};
    const auto result = run_step("pg_ctl stop", argv, server_account());
    if (result.exit_code != 0 && running()) fail_step("pg_ctl stop", argv, result);
    return false;
  }
}

void EmbeddedPostgres::start_server() {
  if (options_.stop_with_process) {
    start_supervised_server();
    return;
  }
  prepare_socket_dir();
  write_settings();
  const auto log_path = data_dir_ / "startup.log";
  std::vector<std::string> argv{(bin_dir_ / "pg_ctl").string(),
                                "start",
                                "-D",
                                data_dir_.string(),
                                "-l",
                                log_path.string(),
                                "-w",
                                "-t",
                                std::to_string(options_.timeout.count())};
  log::info("embedded_postgres_start", {{"data_dir", data_dir_.string()},
                                        {"socket_dir", socket_dir_.string()},
                                        {"port", port_},
                                        {"durable", options_.durable}});
  const auto result = run_step("pg_ctl start", argv, server_account());
  if (result.exit_code != 0) {
    // Another process may have started it between our status check and now.
    if (adopt_running_server()) return;
    fail_step("pg_ctl start", argv, result,
              "server log " + log_path.string() + ":\n" + tail(read_file(log_path), 4000));
  }
  wait_until_accepting([this] { return running(); });
}

// The postmaster as the child of a watchdog (detail::start_supervised): it stops when this
// process ends, however it ends.
void EmbeddedPostgres::start_supervised_server() {
  prepare_socket_dir();
  write_settings();
  const auto account = server_account();
  const auto log_path = data_dir_ / "startup.log";
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0)
    throw EmbeddedPostgresError("embedded postgres: cannot open " + log_path.string() + ": " +
                                std::strerror(errno));
  int watchdog_lock = -1;
  detail::Supervised started;
  const std::vector<std::string> argv{(bin_dir_ / "postgres").string(), "-D", data_dir_.string()};
  try {
    change_owner(log_path, account, false);  // pg_ctl, running as the account, appends to it
    if (owner_lock_ < 0) owner_lock_ = hold_shared_lock(data_dir_ / kOwnerLock);
    watchdog_lock = hold_shared_lock(data_dir_ / kWatchdogLock);
    detail::SupervisedOptions options{
        .argv = argv,
        .run_as = account,
        .output_fd = log_fd,
        .keep_fds = {watchdog_lock},
        .remove_dir_after = socket_dir_ == data_dir_ ? std::string() : socket_dir_.string()};
    started = detail::start_supervised(options);
  } catch (const std::system_error& e) {
    ::close(log_fd);
    if (watchdog_lock >= 0) ::close(watchdog_lock);
    throw EmbeddedPostgresError("embedded postgres: cannot start " +
                                detail::describe_command(argv) + ": " + e.what());
  } catch (...) {
    ::close(log_fd);
    if (watchdog_lock >= 0) ::close(watchdog_lock);
    throw;
  }
  ::close(log_fd);
  ::close(watchdog_lock);  // the watchdog holds it now
  watchdog_pid_ = started.watchdog;
  watchdog_control_ = started.control;
  log::info("embedded_postgres_start", {{"data_dir", data_dir_.string()},
                                        {"socket_dir", socket_dir_.string()},
                                        {"port", port_},
                                        {"durable", options_.durable},
                                        {"watchdog", watchdog_pid_}});
  try {
    wait_until_accepting([this] { return watchdog_running(); });
  } catch (const EmbeddedPostgresError& e) {
    const bool exited = !watchdog_running();
    if (!exited) stop_watchdog();
    // Another server on the folder (started by hand, say) made PostgreSQL refuse to start.
    if (exited && adopt_running_server()) return;
    throw EmbeddedPostgresError(std::string(e.what()) +
                                "\ncommand: " + detail::describe_command(argv) + "\nserver log " +
                                log_path.string() + ":\n" + tail(read_file(log_path), 4000));
  }
}

bool EmbeddedPostgres::watchdog_running() {
  if (watchdog_pid_ <= 0) return false;
  detail::Supervised watchdog{watchdog_pid_, watchdog_control_};
  const auto code = detail::supervised_exit_code(watchdog);
  if (!code) return true;
  log::warn("embedded_postgres_server_exited",
            {{"data_dir", data_dir_.string()}, {"exit_code", *code}});
  watchdog_pid_ = -1;
  watchdog_control_ = -1;
  if (owner_lock_ >= 0) ::close(owner_lock_);
  owner_lock_ = -1;
  return false;
}

void EmbeddedPostgres::stop_watchdog() {
  if (watchdog_pid_ <= 0) return;
  log::info("embedded_postgres_stop",
            {{"data_dir", data_dir_.string()}, {"watchdog", watchdog_pid_}});
  detail::Supervised watchdog{watchdog_pid_, watchdog_control_};
  auto code = detail::stop_supervised(watchdog, options_.timeout);
  if (!code) {
    log::warn("embedded_postgres_stop_slow", {{"data_dir", data_dir_.string()}});
    run_step("pg_ctl stop",
             {(bin_dir_ / "pg_ctl").string(), "stop", "-D", data_dir_.string(), "-m", "immediate",
              "-w", "-t", std::to_string(options_.timeout.count())},
             server_account());
    code = detail::stop_supervised(watchdog, options_.timeout);
  }
  watchdog_pid_ = watchdog.watchdog;
  watchdog_control_ = watchdog.control;
  if (watchdog_pid_ <= 0 && owner_lock_ >= 0) {
    ::close(owner_lock_);
    owner_lock_ = -1;
  }
}

void EmbeddedPostgres::wait_until_accepting(const std::function<bool()>& alive) {
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      pqxx::connection probe(connection_url("postgres"));
      pqxx::nontransaction(probe).exec("SELECT 1");
      return;
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    if (!alive())
      throw EmbeddedPostgresError("embedded postgres: the server on " + data_dir_.string() +
                                  " exited: " + trim(last_error));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw EmbeddedPostgresError("embedded postgres: server on " + data_dir_.string() +
                              " does not accept connections: " + trim(last_error));
}

void EmbeddedPostgres::create_database() {
  if (options_.database.empty() || options_.database == "postgres") return;
  pqxx::connection admin(connection_url("postgres"));
  pqxx::nontransaction txn(admin);
  const auto exists =
      txn.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", options_.database);
  if (!exists.empty()) return;
  log::info("embedded_postgres_create_database", {{"database", options_.database}});
  try {
    txn.exec("CREATE DATABASE " + txn.quote_name(options_.database));
  } catch (const pqxx::sql_error& e) {
    // duplicate_database: another process created it meanwhile.
    if (e.sqlstate() != "42P04") throw;
  }
}

void EmbeddedPostgres::stop() {
  if (!fs::exists(data_dir_ / "PG_VERSION")) return;
  FolderLock lock(data_dir_);
  stop_watchdog();
  if (!running()) {
    remove_private_socket_dir();
    return;
  }
  if (auto pid_file = read_pid_file(data_dir_); pid_file && !pid_file->socket_dir.empty())
    socket_dir_ = pid_file->socket_dir;
  std::vector<std::string> argv{(bin_dir_ / "pg_ctl").string(),
                                "stop",
                                "-D",
                                data_dir_.string(),
                                "-m",
                                "fast",
                                "-w",
                                "-t",
                                std::to_string(options_.timeout.count())};
  log::info("embedded_postgres_stop", {{"data_dir", data_dir_.string()}});
  const auto result = run_step("pg_ctl stop", argv, server_account());
  if (result.exit_code != 0 && running()) fail_step("pg_ctl stop", argv, result);
  remove_private_socket_dir();
}

bool EmbeddedPostgres::running() const {
  return postmaster_pid().has_value();
}

std::optional<pid_t> EmbeddedPostgres::postmaster_pid() const {
  const auto pid_file = read_pid_file(data_dir_);
  if (!pid_file || !is_postmaster_of(pid_file->pid, data_dir_)) return std::nullopt;
  return pid_file->pid;
}

void EmbeddedPostgres::remove_stale_pid_file() {
  const auto pid_file = read_pid_file(data_dir_);
  if (!pid_file || !process_alive(pid_file->pid) || is_postmaster_of(pid_file->pid, data_dir_))
    return;
  // A live process that is not this folder's postmaster: PostgreSQL would refuse to start.
  log::warn("embedded_postgres_stale_pid_file",
            {{"data_dir", data_dir_.string()}, {"pid", pid_file->pid}});
  std::error_code ec;
  fs::remove(data_dir_ / "postmaster.pid", ec);
}

std::string EmbeddedPostgres::connection_url() const {
  return connection_url(options_.database.empty() ? std::string("postgres") : options_.database);
}

std::string EmbeddedPostgres::connection_url(const std::string& database) const {
  if (socket_dir_.empty())
    throw std::logic_error("embedded postgres: connection_url() before start()");
  return url_with_database("postgresql://?host=" + percent_encode(socket_dir_.string()) + "&port=" +
                               std::to_string(port_) + "&user=" + percent_encode(options_.user),
                           database);
}

}  // namespace chargegrid::db
