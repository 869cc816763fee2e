#pragma once
// Process metrics in Prometheus text format (rendered by base::prometheus). Counters are
// updated from any thread; the exposition is rendered on scrape.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace chargegrid::server {

// A histogram with fixed upper bounds, lock-free to observe.
class Histogram {
 public:
  static constexpr std::array<double, 14> kLatencyBounds{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  static constexpr std::array<double, 14> kSizeBounds{1,   2,   5,    10,   20,   50,    100,
                                                      200, 500, 1000, 2000, 5000, 10000, 50000};

  explicit Histogram(const std::array<double, 14>& bounds) : bounds_(bounds) {}
  void observe(double value);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  const std::array<double, 14>& bounds_;
  std::array<std::atomic<std::uint64_t>, 15> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class Metrics {
 public:
  Metrics();

  // One OCPP message handled: action and outcome (accepted, error code, ...).
  void count_message(const std::string& direction, const std::string& action,
                     const std::string& outcome);
  void observe_handling(std::chrono::steady_clock::duration d);
  void observe_batch(std::size_t rows) { batch_rows_.observe(static_cast<double>(rows)); }
  // Group commits of the other writers: one transaction per batch.
  enum class WriteBatch { status, boot, connect, credentials, session, lease_end };
  void observe_write_batch(WriteBatch writer, std::size_t items);
  void count_connection(const std::string& event) { count(connections_, event); }

  // Gauges read at scrape time from their owners.
  using GaugeSource = std::function<void(std::string& out)>;
  void add_gauge_source(GaugeSource source);

  std::string render() const;

 private:
  void count(std::map<std::string, std::uint64_t>& counters, const std::string& key);

  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> messages_;  // key: rendered label set
  std::map<std::string, std::uint64_t> connections_;
  std::vector<GaugeSource> gauges_;
  Histogram handling_{Histogram::kLatencyBounds};
  Histogram batch_rows_{Histogram::kSizeBounds};
  Histogram status_batch_items_{Histogram::kSizeBounds};
  Histogram boot_batch_items_{Histogram::kSizeBounds};
  Histogram connect_batch_items_{Histogram::kSizeBounds};
  Histogram credentials_batch_items_{Histogram::kSizeBounds};
  Histogram session_batch_items_{Histogram::kSizeBounds};
  Histogram lease_end_batch_items_{Histogram::kSizeBounds};
};

}  // namespace chargegrid::server
