#include "chargegrid/sim/stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace chargegrid::sim {

namespace {
constexpr double kGrowth = 1.02;
std::size_t bucket_of(std::uint64_t us) {
  if (us <= 1) return 0;
  const auto index =
      static_cast<std::size_t>(std::ceil(std::log(static_cast<double>(us)) / std::log(kGrowth)));
  return index;
}
double bucket_upper_us(std::size_t bucket) {
  return std::pow(kGrowth, static_cast<double>(bucket));
}
}  // namespace

void LatencyHistogram::record(std::chrono::microseconds latency) {
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency.count()));
  allocate();
  buckets_[std::min(bucket_of(us), kBuckets - 1)]++;
  ++count_;
  max_us_ = std::max(max_us_, us);
  sum_us_ += static_cast<double>(us);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (!other.buckets_.empty()) {
    allocate();
    for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  }
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
  sum_us_ += other.sum_us_;
}

double LatencyHistogram::quantile_us(double q) const {
  if (count_ == 0) return 0.0;
  const auto rank =
      static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      return std::min(bucket_upper_us(i), static_cast<double>(max_us_));
    }
  }
  return static_cast<double>(max_us_);
}

nlohmann::json LatencyHistogram::to_buckets_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] != 0) buckets.push_back({i, buckets_[i]});
  }
  return {
      {"buckets", std::move(buckets)}, {"count", count_}, {"max_us", max_us_}, {"sum_us", sum_us_}};
}

LatencyHistogram LatencyHistogram::from_buckets_json(const nlohmann::json& json) {
  LatencyHistogram h;
  try {
    std::uint64_t total = 0;
    for (const auto& bucket : json.at("buckets")) {
      const auto index = bucket.at(0).get<std::size_t>();
      if (index >= kBuckets) throw std::invalid_argument("latency bucket out of range");
      h.allocate();
      h.buckets_[index] += bucket.at(1).get<std::uint64_t>();
      total += bucket.at(1).get<std::uint64_t>();
    }
    h.count_ = json.at("count").get<std::uint64_t>();
    if (h.count_ != total) throw std::invalid_argument("latency bucket counts do not add up");
    h.max_us_ = json.at("max_us").get<std::uint64_t>();
    h.sum_us_ = json.at("sum_us").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("bad latency histogram: ") + e.what());
  }
  return h;
}

void Stats::count_connect_failure(const std::string& what) {
  ++connect_failures;
  // Boost's system_error appends where it was thrown (" [system:111 at file:line]"): not a
  // kind of its own.
  add_failure_kind(what.substr(0, what.find(" [")), 1);
}

void Stats::add_failure_kind(std::string kind, std::uint64_t n) {
  if (!connect_failure_kinds.contains(kind) && connect_failure_kinds.size() >= kMaxFailureKinds)
    kind = "other";
  connect_failure_kinds[kind] += n;
}

void Stats::merge(const Stats& o) {
  calls_sent += o.calls_sent;
  calls_answered += o.calls_answered;
  call_timeouts += o.call_timeouts;
  call_errors_received += o.call_errors_received;
  for (const auto& [code, n] : o.call_error_codes) call_error_codes[code] += n;
  calls_received += o.calls_received;
  for (const auto& [action, n] : o.calls_received_by_action) calls_received_by_action[action] += n;
  not_implemented_sent += o.not_implemented_sent;
  connects += o.connects;
  reconnects += o.reconnects;
  connect_failures += o.connect_failures;
  for (const auto& [kind, n] : o.connect_failure_kinds) add_failure_kind(kind, n);
  boots_accepted += o.boots_accepted;
  boots_pending += o.boots_pending;
  boots_rejected += o.boots_rejected;
  sessions_started += o.sessions_started;
  sessions_completed += o.sessions_completed;
  transaction_messages_resent += o.transaction_messages_resent;
  pnc_authorized += o.pnc_authorized;
  pnc_refused += o.pnc_refused;
  secc_certificates_installed += o.secc_certificates_installed;
  stations += o.stations;
  stations_finished += o.stations_finished;
  wall_seconds = std::max(wall_seconds, o.wall_seconds);
  latency.merge(o.latency);
}

nlohmann::json Stats::to_json() const {
  const auto ms = [](double us) { return std::round(us) / 1000.0; };
  return {
      {"stations", stations},
      {"stations_finished", stations_finished},
      {"wall_seconds", wall_seconds},
      {"calls_sent", calls_sent},
      {"calls_answered", calls_answered},
      {"call_timeouts", call_timeouts},
      {"call_errors_received", call_errors_received},
      {"call_error_codes", call_error_codes},
      {"calls_received", calls_received},
      {"calls_received_by_action", calls_received_by_action},
      {"not_implemented_sent", not_implemented_sent},
      {"connects", connects},
      {"reconnects", reconnects},
      {"connect_failures", connect_failures},
      {"connect_failure_kinds", connect_failure_kinds},
      {"boots",
       {{"accepted", boots_accepted}, {"pending", boots_pending}, {"rejected", boots_rejected}}},
      {"sessions_started", sessions_started},
      {"sessions_completed", sessions_completed},
      {"transaction_messages_resent", transaction_messages_resent},
      {"pnc_authorized", pnc_authorized},
      {"pnc_refused", pnc_refused},
      {"secc_certificates_installed", secc_certificates_installed},
      {"latency_ms",
       {{"count", latency.count()},
        {"mean", ms(latency.mean_us())},
        {"p50", ms(latency.quantile_us(0.50))},
        {"p99", ms(latency.quantile_us(0.99))},
        {"p99.9", ms(latency.quantile_us(0.999))},
        {"max", ms(latency.max_us())}}},
  };
}

}  // namespace chargegrid::sim
