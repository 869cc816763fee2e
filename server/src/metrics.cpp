#include "metrics.hpp"

#include <fmt/format.h>

namespace chargegrid::server {

std::string label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_.load(std::memory_order_relaxed), name,
                     count_.load(std::memory_order_relaxed));
}

Metrics::Metrics() = default;

void Metrics::count(std::map<std::string, std::uint64_t>& counters, const std::string& key) {
  std::lock_guard lock(mutex_);
  ++counters[key];
}

void Metrics::count_message(const std::string& direction, const std::string& action,
                            const std::string& outcome) {
  count(messages_, fmt::format(R"(direction="{}",action="{}",outcome="{}")", direction,
                               label_value(action), label_value(outcome)));
}

void Metrics::observe_handling(std::chrono::steady_clock::duration d) {
  handling_.observe(std::chrono::duration<double>(d).count());
}

void Metrics::add_gauge_source(GaugeSource source) {
  std::lock_guard lock(mutex_);
  gauges_.push_back(std::move(source));
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(4096);
  {
    std::lock_guard lock(mutex_);
    out += "# HELP chargegrid_ocpp_messages_total OCPP messages by direction, action and outcome\n";
    out += "# TYPE chargegrid_ocpp_messages_total counter\n";
    for (const auto& [labels, n] : messages_)
      out += fmt::format("chargegrid_ocpp_messages_total{{{}}} {}\n", labels, n);
    out += "# HELP chargegrid_station_connections_total Station connection events\n";
    out += "# TYPE chargegrid_station_connections_total counter\n";
    for (const auto& [event, n] : connections_)
      out += fmt::format("chargegrid_station_connections_total{{event=\"{}\"}} {}\n", event, n);
    for (const auto& gauge : gauges_) gauge(out);
  }
  handling_.render(out, "chargegrid_ocpp_handling_seconds",
                   "Time from receiving a CALL to sending its answer");
  batch_rows_.render(out, "chargegrid_db_write_batch_rows", "Rows per meter-value write batch");
  return out;
}

}  // namespace chargegrid::server
