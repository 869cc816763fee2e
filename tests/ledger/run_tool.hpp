// Runs chargegrid-verify as a third party would and captures its exit status and output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace chargegrid::ledger::testing {

struct ToolRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

inline ToolRun run_verify(const std::vector<std::string>& args) {
  std::string command = shell_quote(CHARGEGRID_VERIFY_BINARY);
  for (const auto& arg : args) command += " " + shell_quote(arg);
  command += " 2>&1";
  ToolRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    run.output.append(buffer.data(), n);
  int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

inline std::filesystem::path write_temp(const std::filesystem::path& dir, const std::string& name,
                                        const std::string& content) {
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace chargegrid::ledger::testing
