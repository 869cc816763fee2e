#pragma once
// The certificates the simulator's ISO 15118 tests use: scripts/pki's test PKI, made once for
// the whole test binary in a temporary folder.

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace chargegrid::testing {

inline const std::filesystem::path& sim_pki() {
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    std::string folder = (fs::temp_directory_path() / "chargegrid-sim-pki-XXXXXX").string();
    if (::mkdtemp(folder.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    const auto command = std::string(CHARGEGRID_SOURCE_DIR) + "/scripts/pki " + folder + "/pki > " +
                         folder + "/pki.log 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("scripts/pki failed");
    return fs::path(folder) / "pki";
  }();
  return dir;
}

}  // namespace chargegrid::testing
