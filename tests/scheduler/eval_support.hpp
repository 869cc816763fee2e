#pragma once
// What the tests of the evaluations share: the slice of the Norwegian residential data set,
// and running an evaluation tool's command line.

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "chargegrid/scheduler/sessions.hpp"

namespace chargegrid::scheduler::testing {

inline const std::string slice =
    std::string(CHARGEGRID_TEST_DATA_DIR) + "/ev-sessions/norway_slice_2000.csv";

inline std::vector<FinishedSession> load_slice() {
  std::ifstream in(slice);
  REQUIRE(in);
  return read_norway_csv(in).sessions;
}

// Runs `command` (a shell command line) and returns its exit status.
inline int exit_status(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  return pclose(pipe);
}

// Runs `command`, checks that it succeeds and returns what it printed.
inline std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::array<char, 4096> buf;
  while (std::size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  CHECK(pclose(pipe) == 0);
  return out;
}

}  // namespace chargegrid::scheduler::testing
