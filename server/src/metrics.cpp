#include "metrics.hpp"

#include "chargegrid/base/prometheus.hpp"

namespace chargegrid::server {

namespace prometheus = base::prometheus;

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
  std::array<std::uint64_t, 15> counts{};
  for (std::size_t i = 0; i < counts.size(); ++i)
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
  prometheus::Writer(out).histogram(name, help, bounds_, counts,
                                    sum_.load(std::memory_order_relaxed),
                                    count_.load(std::memory_order_relaxed));
}

Metrics::Metrics() = default;

void Metrics::count(std::map<std::string, std::uint64_t>& counters, const std::string& key) {
  std::lock_guard lock(mutex_);
  ++counters[key];
}

void Metrics::count_message(const std::string& direction, const std::string& action,
                            const std::string& outcome) {
  count(messages_,
        prometheus::labels({{"direction", direction}, {"action", action}, {"outcome", outcome}}));
}

void Metrics::observe_write_batch(WriteBatch writer, std::size_t items) {
  auto& histogram = writer == WriteBatch::status      ? status_batch_items_
                    : writer == WriteBatch::boot      ? boot_batch_items_
                    : writer == WriteBatch::connect   ? connect_batch_items_
                    : writer == WriteBatch::session   ? session_batch_items_
                    : writer == WriteBatch::lease_end ? lease_end_batch_items_
                                                      : credentials_batch_items_;
  histogram.observe(static_cast<double>(items));
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
    prometheus::Writer writer(out);
    writer.family("chargegrid_ocpp_messages_total",
                  "OCPP messages by direction, action and outcome", prometheus::Type::kCounter);
    for (const auto& [labels, n] : messages_)
      writer.sample("chargegrid_ocpp_messages_total", labels, n);
    writer.family("chargegrid_station_connections_total", "Station connection events",
                  prometheus::Type::kCounter);
    for (const auto& [event, n] : connections_)
      writer.sample("chargegrid_station_connections_total", prometheus::labels({{"event", event}}),
                    n);
    for (const auto& gauge : gauges_) gauge(out);
  }
  handling_.render(out, "chargegrid_ocpp_handling_seconds",
                   "Time from receiving a CALL to sending its answer");
  batch_rows_.render(out, "chargegrid_db_write_batch_rows", "Rows per meter-value write batch");
  status_batch_items_.render(out, "chargegrid_db_status_batch_items",
                             "Status changes per write batch (one transaction each)");
  boot_batch_items_.render(out, "chargegrid_db_boot_batch_items",
                           "Boots per write batch (one transaction each)");
  connect_batch_items_.render(out, "chargegrid_db_connect_batch_items",
                              "Station connections per write batch (one transaction each)");
  credentials_batch_items_.render(out, "chargegrid_db_credentials_batch_items",
                                  "Handshakes' credential reads per batch (one transaction each)");
  session_batch_items_.render(out, "chargegrid_db_session_batch_items",
                              "Authorize and session messages' writes per batch (one transaction "
                              "each)");
  lease_end_batch_items_.render(out, "chargegrid_db_lease_end_batch_items",
                                "Cluster mode: ended connections' leases per write batch (one "
                                "transaction each)");
  return out;
}

}  // namespace chargegrid::server
