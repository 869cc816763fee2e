// The cluster's Prometheus counters and gauge.

#include "chargegrid/base/prometheus.hpp"
#include "cluster/cluster.hpp"
#include "connections/station_registry.hpp"

namespace chargegrid::server {

void Cluster::count_outcome(const std::string& direction, std::string_view outcome) {
  std::lock_guard lock(outcome_mutex_);
  ++routed_outcomes_[direction + "\x1f" + std::string(outcome)];
}

void Cluster::render_metrics(std::string& out) const {
  namespace prometheus = base::prometheus;
  prometheus::Writer writer(out);
  std::size_t held = 0;
  for (const auto& h : stations_.held())
    if (h.lease_epoch > 0) ++held;
  writer.gauge("chargegrid_cluster_stations_held", "Stations whose lease this node holds", held);
  writer.family("chargegrid_cluster_commands_total",
                "Commands routed between nodes: out (sent to the holding node), in (run here for "
                "another node), by outcome",
                prometheus::Type::kCounter);
  {
    std::lock_guard lock(outcome_mutex_);
    for (const auto& [key, n] : routed_outcomes_) {
      const auto split = key.find('\x1f');
      writer.sample("chargegrid_cluster_commands_total",
                    prometheus::labels({{"direction", std::string_view(key).substr(0, split)},
                                        {"outcome", std::string_view(key).substr(split + 1)}}),
                    n);
    }
  }
  writer.counter("chargegrid_cluster_lease_takeovers_total",
                 "Station leases this node took (connects and reconnects)", takeovers_.load());
  writer.counter("chargegrid_cluster_leases_lost_total",
                 "Connections closed here because another node took the station over",
                 leases_lost_.load());
  writer.counter("chargegrid_cluster_nodes_expired_total",
                 "Nodes this node declared dead (heartbeat older than their lease timeout)",
                 nodes_expired_.load());
  writer.counter("chargegrid_cluster_notifications_total", "Notifications received",
                 notifications_.load());
  writer.counter("chargegrid_cluster_notifications_ignored_total",
                 "Notifications malformed, unknown or naming no pending command",
                 notifications_ignored_.load());
  writer.counter("chargegrid_cluster_listener_failures_total",
                 "Times the listening connection failed (database away)",
                 heartbeats_failed_.load());
  writer.counter("chargegrid_cluster_listener_reconnects_total",
                 "Times the listening connection was made again", listener_reconnects_.load());
}

}  // namespace chargegrid::server
