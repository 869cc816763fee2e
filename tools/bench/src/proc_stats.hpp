#pragma once
// What the benchmark reads from /proc about the processes it measures: CPU time
// (utime + stime, and what exited children left in cutime + cstime), resident memory,
// the machine's load average, and the processes of a PostgreSQL cluster (its
// postmaster, named in postmaster.pid, and every process whose parent it is).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace chargegrid::bench {

struct ProcessSample {
  double cpu_s = 0.0;           // utime + stime of the process (all its threads)
  double children_cpu_s = 0.0;  // cutime + cstime: children it has waited for
  std::uint64_t rss_bytes = 0;  // VmRSS
};

// nullopt when the process is gone (or /proc cannot be read).
std::optional<ProcessSample> sample_process(pid_t pid);

// Direct children of `parent`, from /proc/*/stat.
std::vector<pid_t> child_processes(pid_t parent);

// CPU seconds used so far by a PostgreSQL cluster: its postmaster, its live children
// and the children that already exited (cutime + cstime of the postmaster), and their
// resident memory (shared pages counted once per process, so only a rough figure).
struct ClusterSample {
  double cpu_s = 0.0;
  std::uint64_t rss_bytes = 0;
  int processes = 0;
};
ClusterSample sample_cluster(pid_t postmaster);

// What postmaster.pid in a data folder says: the postmaster's pid, its port and the folder
// of its Unix socket. nullopt while the file is missing or incomplete.
struct PostmasterInfo {
  pid_t pid = 0;
  int port = 0;
  std::string socket_dir;
};
std::optional<PostmasterInfo> read_postmaster_pid(const std::filesystem::path& data_dir);

// The three load averages from /proc/loadavg, e.g. "3.91 3.75 3.60".
std::string load_average();

}  // namespace chargegrid::bench
