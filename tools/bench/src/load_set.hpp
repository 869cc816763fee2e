#pragma once
// The load-generator processes of one benchmark run, driven together: started with
// their share of the stations, told to go, to open and close a measurement window and
// to stop; their counters summed and their latency histograms merged.

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/sim/stats.hpp"
#include "child.hpp"

namespace chargegrid::bench {

using Json = nlohmann::json;

// Adds the numbers of `from` into `into`, object by object (a missing key is copied).
void add_numbers(Json& into, const Json& from);

class LoadSet {
 public:
  // One process per argument list; its log goes to log_dir/load-N.log.
  LoadSet(const std::vector<std::vector<std::string>>& argvs, const std::filesystem::path& log_dir);
  ~LoadSet();

  // Waits until every process printed "ready"; throws after `timeout`.
  void wait_ready(std::chrono::milliseconds timeout);
  void go();
  // The processes' latest counters, summed.
  Json counters();
  // Waits until `done(counters())` holds, checking on every progress line; false on
  // timeout or once every process has ended without reaching it.
  bool wait_until(const std::function<bool(const Json&)>& done, std::chrono::milliseconds timeout);
  // Opens the window in every process; returns the summed counters at that moment.
  Json begin_window();
  // Closes it; returns the summed counters and the merged latency histogram.
  std::pair<Json, sim::LatencyHistogram> end_window();
  // Stops every process and returns their final statistics merged (stats, latency).
  std::pair<Json, sim::LatencyHistogram> finish(std::chrono::milliseconds timeout);
  // CPU seconds the load processes used so far.
  double cpu_s() const;
  std::size_t size() const { return children_.size(); }

 private:
  struct State {
    Json counters = Json::object();
    bool ready = false;
    bool done = false;
    std::optional<Json> begin, end, final;
  };
  void on_line(std::size_t index, const std::string& line);
  bool wait_all(const std::function<bool(const State&)>& pred, std::chrono::milliseconds timeout);
  // Sends `command` to every process and waits (30 s at most) until each has answered into
  // `answer` or finished; throws naming `what` did not happen.
  void ask_all(const char* command, std::optional<Json> State::*answer, const char* what);

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<State> states_;
  std::vector<std::unique_ptr<Child>> children_;
};

}  // namespace chargegrid::bench
