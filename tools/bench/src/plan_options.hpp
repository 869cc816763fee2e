#pragma once
// The workload parameters chargegrid-bench takes and hands on to each
// chargegrid-bench-load unchanged: one list, so both programs name and check them alike.

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/tools/options.hpp"
#include "workload.hpp"

namespace chargegrid::bench {

inline void add_plan_options(CLI::App& app, LoadPlan& p) {
  tools::option(app, "--connectors", p.connectors, "connectors / EVSEs per station",
                CLI::Range(1, 32));
  tools::option(app, "--rate", p.rate, "metering: meter messages per second, whole fleet",
                CLI::PositiveNumber);
  tools::option(app, "--sessions", p.sessions, "sessions: sessions per station",
                CLI::Range(1, 100000));
  tools::option(app, "--session-length", p.session_length_s, "sessions: simulated seconds",
                CLI::PositiveNumber);
  tools::option(app, "--meter-interval", p.meter_interval_s, "sessions: simulated seconds",
                CLI::PositiveNumber);
  tools::option(app, "--time-scale", p.time_scale, "sessions: simulated seconds per real second",
                CLI::PositiveNumber);
  tools::option(app, "--day", p.day_s, "mixed: real seconds a fleet day lasts",
                CLI::PositiveNumber);
  tools::option(app, "--response-timeout", p.response_timeout_s, "real seconds a station waits",
                CLI::PositiveNumber);
}

// The same parameters as flags for a chargegrid-bench-load command line.
inline std::vector<std::string> plan_flags(const LoadPlan& p) {
  const std::vector<std::pair<const char*, std::string>> flags{
      {"--connectors", std::to_string(p.connectors)},
      {"--rate", std::to_string(p.rate)},
      {"--sessions", std::to_string(p.sessions)},
      {"--session-length", std::to_string(p.session_length_s)},
      {"--meter-interval", std::to_string(p.meter_interval_s)},
      {"--time-scale", std::to_string(p.time_scale)},
      {"--day", std::to_string(p.day_s)},
      {"--response-timeout", std::to_string(p.response_timeout_s)}};
  std::vector<std::string> args;
  for (const auto& [flag, value] : flags) {
    args.push_back(flag);
    args.push_back(value);
  }
  return args;
}

}  // namespace chargegrid::bench
