#pragma once
// A test PKI made with the openssl command line (make_test_pki.sh) in a temporary folder, and
// small file and shell helpers for the security tests.

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chargegrid/testing/temp_folder.hpp"

namespace chargegrid::testing {

// A temporary folder whose files are named by file().
class TempDir : public TempFolder {
 public:
  std::string file(const std::string& name) const { return (path() / name).string(); }
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a shell command; its exit status (0 for success).
inline int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The files make_test_pki.sh describes.
class TestPki : public TempDir {
 public:
  TestPki() {
    REQUIRE(shell(std::string(CHARGEGRID_TEST_PKI_SCRIPT) + " " + path().string() + " > " +
                  file("make.log") + " 2>&1") == 0);
  }
};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace chargegrid::testing
