// Where the ledger tests find their data files, and small helpers to read them.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace chargegrid::ledger::testing {

inline std::filesystem::path data_dir() {
  return CHARGEGRID_TEST_DATA_DIR;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace chargegrid::ledger::testing
