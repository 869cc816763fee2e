#pragma once
// Counters a simulated fleet keeps: messages, CALLERRORs by code, connects and a
// latency histogram of the station's CALLs (time from send to CALLRESULT/CALLERROR).

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace chargegrid::sim {

// Log-bucketed histogram of microsecond latencies: about 2 % relative precision
// from 1 µs to over an hour, constant memory, mergeable.
class LatencyHistogram {
 public:
  void record(std::chrono::microseconds latency);
  void merge(const LatencyHistogram& other);
  std::uint64_t count() const { return count_; }
  // Upper bound of the bucket holding the q-quantile (0..1), in microseconds; 0 if empty.
  double quantile_us(double q) const;
  double max_us() const { return static_cast<double>(max_us_); }
  double mean_us() const { return count_ ? sum_us_ / static_cast<double>(count_) : 0.0; }
  // Lossless form ({"buckets": [[index, count], ...], "count", "max_us", "sum_us"}, empty
  // buckets left out), so histograms from several processes can be merged.
  nlohmann::json to_buckets_json() const;
  // Throws std::invalid_argument for anything to_buckets_json() does not write.
  static LatencyHistogram from_buckets_json(const nlohmann::json& json);

 private:
  static constexpr std::size_t kBuckets = 1200;
  // kBuckets counts once anything is recorded or merged; empty before, so that the many
  // histograms that never record (a station's own Stats) cost nothing.
  std::vector<std::uint64_t> buckets_;
  void allocate() {
    if (buckets_.empty()) buckets_.assign(kBuckets, 0);
  }
  std::uint64_t count_ = 0;
  std::uint64_t max_us_ = 0;
  double sum_us_ = 0.0;
};

struct Stats {
  std::uint64_t calls_sent = 0;      // CALLs the stations sent (retransmissions included)
  std::uint64_t calls_answered = 0;  // ... answered by a CALLRESULT or CALLERROR
  std::uint64_t call_timeouts = 0;   // ... left unanswered within the response timeout
  std::uint64_t call_errors_received = 0;
  std::map<std::string, std::uint64_t> call_error_codes;
  std::uint64_t calls_received = 0;  // CALLs the CSMS sent to the stations
  std::map<std::string, std::uint64_t> calls_received_by_action;
  std::uint64_t not_implemented_sent = 0;
  std::uint64_t connects = 0;    // successful WebSocket handshakes
  std::uint64_t reconnects = 0;  // ... of them after a drop
  std::uint64_t connect_failures = 0;
  // ... by what failed ("connect: Connection refused", "handshake refused with HTTP 503", ...;
  // at most kMaxFailureKinds kinds, then the rest as "other").
  std::map<std::string, std::uint64_t> connect_failure_kinds;
  static constexpr std::size_t kMaxFailureKinds = 16;
  void count_connect_failure(const std::string& what);
  std::uint64_t boots_accepted = 0;
  std::uint64_t boots_pending = 0;
  std::uint64_t boots_rejected = 0;
  std::uint64_t sessions_started = 0;
  std::uint64_t sessions_completed = 0;
  std::uint64_t transaction_messages_resent = 0;
  // ISO 15118 vehicles (Iso15118Options): contract authorizations accepted and refused,
  // SECC certificates the CSMS signed and the station installed.
  std::uint64_t pnc_authorized = 0;
  std::uint64_t pnc_refused = 0;
  std::uint64_t secc_certificates_installed = 0;
  std::uint64_t stations = 0;
  std::uint64_t stations_finished = 0;  // completed every session they were asked to
  double wall_seconds = 0.0;
  LatencyHistogram latency;

  void merge(const Stats& other);
  nlohmann::json to_json() const;

 private:
  // `n` failures of `kind`, or of "other" once kMaxFailureKinds kinds are counted.
  void add_failure_kind(std::string kind, std::uint64_t n);
};

}  // namespace chargegrid::sim
