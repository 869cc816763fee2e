#include "chargegrid/sim/probe.hpp"

#include <functional>
#include <thread>

namespace chargegrid::sim {

namespace {
std::uint64_t read(const std::atomic<std::int64_t>& counter) {
  const auto value = counter.load(std::memory_order_relaxed);
  return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}
}  // namespace

nlohmann::json FleetProbe::Counters::to_json() const {
  return {{"connected", connected},
          {"booted", booted},
          {"connects", connects},
          {"connect_failures", connect_failures},
          {"calls_sent", calls_sent},
          {"calls_answered", calls_answered},
          {"call_errors", call_errors},
          {"call_timeouts", call_timeouts},
          {"sessions_started", sessions_started},
          {"sessions_completed", sessions_completed}};
}

FleetProbe::Counters FleetProbe::counters() const {
  Counters c;
  c.connected = read(connected_);
  c.booted = read(booted_);
  c.connects = read(connects_);
  c.connect_failures = read(connect_failures_);
  c.calls_sent = read(calls_sent_);
  c.calls_answered = read(calls_answered_);
  c.call_errors = read(call_errors_);
  c.call_timeouts = read(call_timeouts_);
  c.sessions_started = read(sessions_started_);
  c.sessions_completed = read(sessions_completed_);
  return c;
}

void FleetProbe::on_disconnected(bool was_booted) {
  add(connected_, -1);
  if (was_booted) add(booted_, -1);
}

void FleetProbe::on_answer(std::chrono::microseconds latency, bool call_error) {
  add(calls_answered_, 1);
  if (call_error) add(call_errors_, 1);
  auto& shard = shards_[std::hash<std::thread::id>{}(std::this_thread::get_id()) % kShards];
  std::lock_guard lock(shard.mutex);
  shard.run.record(latency);
  if (recording_.load(std::memory_order_relaxed)) shard.window.record(latency);
}

void FleetProbe::begin_window() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    shard.window = LatencyHistogram{};
  }
  recording_.store(true);
}

LatencyHistogram FleetProbe::end_window() {
  recording_.store(false);
  LatencyHistogram total;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total.merge(shard.window);
  }
  return total;
}

LatencyHistogram FleetProbe::run_latency() {
  LatencyHistogram total;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total.merge(shard.run);
  }
  return total;
}

}  // namespace chargegrid::sim
