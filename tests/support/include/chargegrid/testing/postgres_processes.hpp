#pragma once
// What the tests that start and kill PostgreSQL themselves look at: the processes still working
// in a data folder, and the state its control file records.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace chargegrid::testing {

// Processes working in `folder`: a postmaster and its children live in their data folder.
std::vector<pid_t> processes_in(const std::filesystem::path& folder);

// pg_controldata's "Database cluster state": "shut down" after a clean (fast) shutdown,
// "in production" after a crash. Throws when pg_controldata cannot be run.
std::string cluster_state(const std::filesystem::path& data_dir);

}  // namespace chargegrid::testing
