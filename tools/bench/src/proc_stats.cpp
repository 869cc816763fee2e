#include "proc_stats.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace chargegrid::bench {

namespace {

// Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses):
// fields[0] is field 3 (state), so field N is fields[N - 3].
std::optional<std::vector<std::string>> stat_fields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() < 15) return std::nullopt;
  return fields;
}

double ticks_to_s(const std::string& ticks) {
  static const double per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(std::stoull(ticks)) / per_second;
}

std::uint64_t rss_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream value(line.substr(6));
      std::uint64_t kb = 0;
      value >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

}  // namespace

std::optional<ProcessSample> sample_process(pid_t pid) {
  const auto fields = stat_fields(pid);
  if (!fields) return std::nullopt;
  ProcessSample sample;
  // utime (14), stime (15), cutime (16), cstime (17)
  sample.cpu_s = ticks_to_s((*fields)[14 - 3]) + ticks_to_s((*fields)[15 - 3]);
  sample.children_cpu_s = ticks_to_s((*fields)[16 - 3]) + ticks_to_s((*fields)[17 - 3]);
  sample.rss_bytes = rss_of(pid);
  return sample;
}

std::vector<pid_t> child_processes(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    const auto fields = stat_fields(pid);
    if (fields && std::stol((*fields)[4 - 3]) == parent) children.push_back(pid);  // ppid (4)
  }
  return children;
}

ClusterSample sample_cluster(pid_t postmaster) {
  ClusterSample total;
  const auto main = sample_process(postmaster);
  if (!main) return total;
  total.cpu_s = main->cpu_s + main->children_cpu_s;
  total.rss_bytes = main->rss_bytes;
  total.processes = 1;
  for (pid_t child : child_processes(postmaster)) {
    if (const auto sample = sample_process(child)) {
      total.cpu_s += sample->cpu_s;
      total.rss_bytes += sample->rss_bytes;
      ++total.processes;
    }
  }
  return total;
}

std::optional<PostmasterInfo> read_postmaster_pid(const std::filesystem::path& data_dir) {
  std::ifstream in(data_dir / "postmaster.pid");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  // pid, data folder, start time, port, socket folder, listen address, shmem key, status
  if (lines.size() < 5) return std::nullopt;
  try {
    PostmasterInfo info;
    info.pid = static_cast<pid_t>(std::stol(lines[0]));
    info.port = std::stoi(lines[3]);
    info.socket_dir = lines[4];
    return info;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

}  // namespace chargegrid::bench
