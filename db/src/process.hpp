// Runs an external program, optionally as another user, and collects its output.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace chargegrid::db::detail {

// The account a child process runs as. Empty when it runs as the caller.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

struct CommandResult {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

// Starts argv[0] (an absolute path) with argv, waits for it and returns its exit code and
// output. The child gets a clean signal state, no inherited descriptors beyond stdio, the
// working directory "/", a C locale and no PG* variables. Throws std::system_error when the
// program cannot be started at all.
CommandResult run_command(const std::vector<std::string>& argv, const std::optional<RunAs>& run_as);

// A long-running server (the postmaster) whose lifetime is tied to this process by a
// watchdog: see start_supervised().
struct Supervised {
  pid_t watchdog = -1;  // this process's child; the server is the watchdog's child
  int control = -1;     // write end of the watchdog's control pipe (close-on-exec)
};

struct SupervisedOptions {
  std::vector<std::string> argv;  // argv[0] an absolute path
  std::optional<RunAs> run_as;
  int output_fd = -1;  // the server's stdout and stderr
  // Descriptors the watchdog keeps open until it exits (a flock held on them is held as long).
  std::vector<int> keep_fds;
  // A folder removed (rmdir) once the server has exited; empty: none.
  std::string remove_dir_after;
};

// Starts argv under a watchdog process, a child of this process that does nothing else:
//  - it starts the server as its own child and waits for it;
//  - when this process ends, however it ends (even kill -9), the kernel closes the control
//    pipe's write end; the watchdog reads end-of-file, sends the server SIGINT (PostgreSQL's
//    fast shutdown: sessions end, a checkpoint is written, nothing committed is lost), waits
//    for it to exit and exits;
//  - should the watchdog itself be killed, the server gets SIGINT all the same
//    (PR_SET_PDEATHSIG, set after dropping privileges, which would clear it; the watchdog is
//    single-threaded, so "the parent thread exited" means the watchdog exited);
//  - it runs in a session of its own, so a terminal's Ctrl-C reaches this process only, which
//    can finish its own shutdown before it stops the server.
// A pipe rather than PR_SET_PDEATHSIG on the server alone because that signal fires when the
// *thread* that forked exits, which in a multi-threaded caller may be long before the process.
// Throws std::system_error when the watchdog cannot be started.
Supervised start_supervised(const SupervisedOptions& options);

// Tells the watchdog to stop the server (SIGINT) and waits up to `timeout` for it to exit.
// Returns the watchdog's exit code (the server's: 128 + signal when killed by one), or
// nullopt when it did not exit in time (it is left running; call again to wait more).
std::optional<int> stop_supervised(Supervised& process, std::chrono::milliseconds timeout);

// The watchdog's exit code if it has exited (it then is reaped and `process` reset), else
// nullopt. Never blocks.
std::optional<int> supervised_exit_code(Supervised& process);

// Quotes argv for a log or error message.
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace chargegrid::db::detail
