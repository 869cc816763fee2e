#include "load_set.hpp"

#include <stdexcept>

#include "proc_stats.hpp"

namespace chargegrid::bench {

void add_numbers(Json& into, const Json& from) {
  if (!from.is_object()) return;
  for (const auto& [key, value] : from.items()) {
    if (!into.contains(key)) {
      into[key] = value;
    } else if (value.is_object()) {
      add_numbers(into[key], value);
    } else if (value.is_number_integer() && into[key].is_number_integer()) {
      into[key] = into[key].get<std::int64_t>() + value.get<std::int64_t>();
    } else if (value.is_number() && into[key].is_number()) {
      into[key] = into[key].get<double>() + value.get<double>();
    }
  }
}

LoadSet::LoadSet(const std::vector<std::vector<std::string>>& argvs,
                 const std::filesystem::path& log_dir)
    : states_(argvs.size()) {
  for (std::size_t i = 0; i < argvs.size(); ++i) {
    children_.push_back(
        std::make_unique<Child>(argvs[i], log_dir / ("load-" + std::to_string(i) + ".log"),
                                [this, i](const std::string& line) { on_line(i, line); }));
  }
}

LoadSet::~LoadSet() {
  for (auto& child : children_) child->close_input();
  children_.clear();  // kills what is still running
}

void LoadSet::on_line(std::size_t index, const std::string& line) {
  Json message = Json::parse(line, nullptr, false);
  if (message.is_discarded() || !message.is_object()) return;
  const std::string event = message.value("event", "");
  std::lock_guard lock(mutex_);
  State& state = states_[index];
  if (message.contains("counters")) state.counters = message["counters"];
  if (event == "ready") state.ready = true;
  if (event == "begin") state.begin = message;
  if (event == "end") state.end = message;
  if (event == "done") {
    state.done = true;
    state.final = message;
  }
  changed_.notify_all();
}

bool LoadSet::wait_all(const std::function<bool(const State&)>& pred,
                       std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    for (const auto& state : states_) {
      if (!pred(state)) return false;
    }
    return true;
  });
}

void LoadSet::wait_ready(std::chrono::milliseconds timeout) {
  if (!wait_all([](const State& s) { return s.ready || s.done; }, timeout)) {
    throw std::runtime_error("load generators did not start (see load-*.log)");
  }
}

void LoadSet::go() {
  for (auto& child : children_) child->send("go");
}

Json LoadSet::counters() {
  std::lock_guard lock(mutex_);
  Json total = Json::object();
  for (const auto& state : states_) add_numbers(total, state.counters);
  return total;
}

bool LoadSet::wait_until(const std::function<bool(const Json&)>& done,
                         std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  bool reached = false;
  changed_.wait_for(lock, timeout, [&] {
    // Each process ends on its own once its stations are done: the goal is missed only when
    // every one has ended without reaching it.
    Json total = Json::object();
    bool all_ended = !states_.empty();
    for (const auto& state : states_) {
      add_numbers(total, state.counters);
      all_ended = all_ended && state.done;
    }
    reached = done(total);
    return reached || all_ended;
  });
  return reached;
}

void LoadSet::ask_all(const char* command, std::optional<Json> State::*answer, const char* what) {
  {
    std::lock_guard lock(mutex_);
    for (auto& state : states_) (state.*answer).reset();
  }
  for (auto& child : children_) child->send(command);
  if (!wait_all([answer](const State& s) { return (s.*answer).has_value() || s.done; },
                std::chrono::seconds(30))) {
    throw std::runtime_error(std::string("load generators did not ") + what);
  }
}

Json LoadSet::begin_window() {
  ask_all("begin", &State::begin, "open the window");
  std::lock_guard lock(mutex_);
  Json total = Json::object();
  for (const auto& state : states_) {
    if (state.begin) add_numbers(total, (*state.begin)["counters"]);
  }
  return total;
}

std::pair<Json, sim::LatencyHistogram> LoadSet::end_window() {
  // A process that already finished keeps its final counters and has no window to close.
  ask_all("end", &State::end, "close the window");
  std::lock_guard lock(mutex_);
  Json total = Json::object();
  sim::LatencyHistogram latency;
  for (const auto& state : states_) {
    if (state.end) {
      add_numbers(total, (*state.end)["counters"]);
      latency.merge(sim::LatencyHistogram::from_buckets_json((*state.end)["latency"]));
    } else {
      add_numbers(total, state.counters);
    }
  }
  return {total, latency};
}

std::pair<Json, sim::LatencyHistogram> LoadSet::finish(std::chrono::milliseconds timeout) {
  for (auto& child : children_) child->send("stop");
  if (!wait_all([](const State& s) { return s.done; }, timeout)) {
    throw std::runtime_error("load generators did not stop in time");
  }
  for (auto& child : children_) child->wait_for(std::chrono::seconds(10));
  std::lock_guard lock(mutex_);
  Json stats = Json::object();
  sim::LatencyHistogram latency;
  for (const auto& state : states_) {
    const Json& final = *state.final;
    if (final.contains("stats")) add_numbers(stats, final["stats"]);
    if (final.contains("latency")) {
      latency.merge(sim::LatencyHistogram::from_buckets_json(final["latency"]));
    }
  }
  return {stats, latency};
}

double LoadSet::cpu_s() const {
  double total = 0;
  for (const auto& child : children_) {
    if (const auto sample = sample_process(child->pid())) total += sample->cpu_s;
  }
  return total;
}

}  // namespace chargegrid::bench
