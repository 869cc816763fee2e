#pragma once
// A live view of a running fleet, readable from any thread while it runs: how many
// stations are connected and booted now, how many CALLs were sent and answered so far,
// and, between begin_window() and end_window(), a histogram of the CALL latencies seen
// in that window. Load generators use it to find steady state and to measure one span
// of time. It also keeps the latencies of the whole run, which Fleet::run's final Stats
// report (one histogram per fleet thread rather than one per station).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "chargegrid/sim/stats.hpp"

namespace chargegrid::sim {

class FleetProbe {
 public:
  struct Counters {
    std::uint64_t connected = 0;  // stations whose WebSocket is open now
    std::uint64_t booted = 0;     // ... and whose BootNotification was accepted on it
    std::uint64_t connects = 0;   // handshakes completed so far
    std::uint64_t connect_failures = 0;
    std::uint64_t calls_sent = 0;
    std::uint64_t calls_answered = 0;
    std::uint64_t call_errors = 0;  // answers that were CALLERRORs
    std::uint64_t call_timeouts = 0;
    std::uint64_t sessions_started = 0;
    std::uint64_t sessions_completed = 0;
    nlohmann::json to_json() const;
  };

  Counters counters() const;
  // Starts recording latencies into a fresh window histogram.
  void begin_window();
  // Stops recording and returns what the window saw.
  LatencyHistogram end_window();
  // Every answer's latency since the fleet started.
  LatencyHistogram run_latency();

  // Every CALL a station receives from the CSMS, as it arrives (before the station acts on
  // it), on the station's strand: the watcher must be thread-safe. Set it before Fleet::run.
  using CallWatcher = std::function<void(const std::string& station_id, const std::string& action,
                                         const nlohmann::json& payload)>;
  void watch_calls(CallWatcher watcher) { call_watcher_ = std::move(watcher); }

  // Called by the stations (on their strands).
  void on_csms_call(const std::string& station_id, const std::string& action,
                    const nlohmann::json& payload) const {
    if (call_watcher_) call_watcher_(station_id, action, payload);
  }
  void on_connected() {
    add(connected_, 1);
    add(connects_, 1);
  }
  void on_disconnected(bool was_booted);
  void on_connect_failure() { add(connect_failures_, 1); }
  void on_booted() { add(booted_, 1); }
  void on_call_sent() { add(calls_sent_, 1); }
  void on_answer(std::chrono::microseconds latency, bool call_error);
  void on_timeout() { add(call_timeouts_, 1); }
  void on_session_started() { add(sessions_started_, 1); }
  void on_session_completed() { add(sessions_completed_, 1); }

 private:
  static void add(std::atomic<std::int64_t>& counter, std::int64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  // Sharded by thread so the fleet's I/O threads rarely share a lock.
  struct alignas(64) Shard {
    std::mutex mutex;
    LatencyHistogram window;
    LatencyHistogram run;
  };
  static constexpr std::size_t kShards = 8;

  std::atomic<std::int64_t> connected_{0}, booted_{0}, connects_{0}, connect_failures_{0},
      calls_sent_{0}, calls_answered_{0}, call_errors_{0}, call_timeouts_{0}, sessions_started_{0},
      sessions_completed_{0};
  std::atomic<bool> recording_{false};
  CallWatcher call_watcher_;
  std::array<Shard, kShards> shards_;
};

}  // namespace chargegrid::sim
