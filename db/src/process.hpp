// Runs an external program, optionally as another user, and collects its output.
#pragma once

#include <sys/types.h>

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

// Quotes argv for a log or error message.
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace chargegrid::db::detail
