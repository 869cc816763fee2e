// The cluster's Prometheus counters and gauge.

#include "cluster/cluster.hpp"
#include "connections/station_registry.hpp"
#include "metrics.hpp"

namespace chargegrid::server {

void Cluster::count_outcome(const std::string& direction, std::string_view outcome) {
  std::lock_guard lock(outcome_mutex_);
  ++routed_outcomes_[direction + "\x1f" + std::string(outcome)];
}

void Cluster::render_metrics(std::string& out) const {
  auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(value) + "\n";
  };
  out += "# HELP chargegrid_cluster_stations_held Stations whose lease this node holds\n";
  out += "# TYPE chargegrid_cluster_stations_held gauge\n";
  std::size_t held = 0;
  for (const auto& h : stations_.held())
    if (h.lease_epoch > 0) ++held;
  out += "chargegrid_cluster_stations_held " + std::to_string(held) + "\n";
  out +=
      "# HELP chargegrid_cluster_commands_total Commands routed between nodes: out (sent to "
      "the holding node), in (run here for another node), by outcome\n";
  out += "# TYPE chargegrid_cluster_commands_total counter\n";
  {
    std::lock_guard lock(outcome_mutex_);
    for (const auto& [key, n] : routed_outcomes_) {
      const auto split = key.find('\x1f');
      out += "chargegrid_cluster_commands_total{direction=\"" + key.substr(0, split) +
             "\",outcome=\"" + label_value(key.substr(split + 1)) + "\"} " + std::to_string(n) +
             "\n";
    }
  }
  counter("chargegrid_cluster_lease_takeovers_total",
          "Station leases this node took (connects and reconnects)", takeovers_);
  counter("chargegrid_cluster_leases_lost_total",
          "Connections closed here because another node took the station over", leases_lost_);
  counter("chargegrid_cluster_nodes_expired_total",
          "Nodes this node declared dead (heartbeat older than their lease timeout)",
          nodes_expired_);
  counter("chargegrid_cluster_notifications_total", "Notifications received", notifications_);
  counter("chargegrid_cluster_notifications_ignored_total",
          "Notifications malformed, unknown or naming no pending command", notifications_ignored_);
  counter("chargegrid_cluster_listener_failures_total",
          "Times the listening connection failed (database away)", heartbeats_failed_);
  counter("chargegrid_cluster_listener_reconnects_total",
          "Times the listening connection was made again", listener_reconnects_);
}

}  // namespace chargegrid::server
