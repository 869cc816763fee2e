#pragma once
// Command-line pieces shared by chargegrid-predict-eval and chargegrid-plan-eval: the sessions
// file, its format and --json, and reading the file with its rejected rows reported.

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "chargegrid/scheduler/sessions.hpp"

namespace chargegrid::tools {

struct SessionInput {
  std::string format = "generic";
  std::string path;
  bool json = false;
};

inline void add_session_input(CLI::App& app, SessionInput& input, bool required) {
  app.add_option("--format", input.format, "Input format")
      ->check(CLI::IsMember({"generic", "norway"}))
      ->capture_default_str();
  auto* file = app.add_option("SESSIONS", input.path, "Sessions CSV");
  if (required) file->required();
  app.add_flag("--json", input.json, "Print the summary as one JSON object");
}

// The file's sessions; nothing (and the reason on standard error) when the file cannot be
// opened or has no usable row.
inline std::optional<scheduler::SessionFile> read_session_input(const SessionInput& input) {
  if (input.path.empty()) {
    std::cerr << "SESSIONS is required\n";
    return std::nullopt;
  }
  std::ifstream in(input.path);
  if (!in) {
    std::cerr << "cannot open " << input.path << "\n";
    return std::nullopt;
  }
  scheduler::SessionFile file =
      input.format == "norway" ? scheduler::read_norway_csv(in) : scheduler::read_generic_csv(in);
  if (file.sessions.empty()) {
    std::cerr << "no usable sessions in " << input.path << "\n";
    for (const auto& r : file.rejected) std::cerr << "  " << r << "\n";
    return std::nullopt;
  }
  return file;
}

}  // namespace chargegrid::tools
