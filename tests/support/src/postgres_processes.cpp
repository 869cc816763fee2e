#include "chargegrid/testing/postgres_processes.hpp"

#include <cstdio>
#include <stdexcept>
#include <system_error>

#include "chargegrid/db/embedded_postgres.hpp"

namespace fs = std::filesystem;

namespace chargegrid::testing {

std::vector<pid_t> processes_in(const fs::path& folder) {
  std::vector<pid_t> found;
  const fs::path target = fs::weakly_canonical(folder);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_error;
    if (fs::read_symlink(entry.path() / "cwd", link_error) == target)
      found.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return found;
}

std::string cluster_state(const fs::path& data_dir) {
  const auto command =
      (db::find_postgres_bin_dir() / "pg_controldata").string() + " -D '" + data_dir.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string state;
  char line[512];
  while (std::fgets(line, sizeof line, pipe)) {
    const std::string text = line;
    if (text.starts_with("Database cluster state:")) {
      state = text.substr(text.find(':') + 1);
      state.erase(0, state.find_first_not_of(' '));
      state.erase(state.find_last_not_of("\n ") + 1);
    }
  }
  ::pclose(pipe);
  return state;
}

}  // namespace chargegrid::testing
