// Station leases: which node holds each station's connection, kept true as connections come
// and go and nodes die (docs/cluster.md).

#include <boost/beast/websocket/rfc6455.hpp>
#include <pqxx/pqxx>

#include "chargegrid/db/pool.hpp"
#include "cluster/cluster.hpp"
#include "connections/station_connection.hpp"
#include "connections/station_registry.hpp"
#include "logging.hpp"
#include "state_writers.hpp"
#include "store/stations.hpp"

namespace chargegrid::server {

namespace {

void close_moved(const std::shared_ptr<StationConnection>& connection) {
  connection->close(boost::beast::websocket::close_code::policy_error, "connected to another node");
}

}  // namespace

void Cluster::lease_taken(const std::string& station_id, std::int64_t epoch,
                          const std::shared_ptr<StationConnection>& connection) {
  switch (stations_.record_lease(station_id, epoch)) {
    case StationRegistry::LeaseRecord::Kept:
      if (epoch > 0) ++takeovers_;
      break;
    case StationRegistry::LeaseRecord::Lost:
      ++leases_lost_;
      log::info("station_lease_moved", {{"station", station_id}, {"epoch", epoch}});
      close_moved(connection);
      break;
    case StationRegistry::LeaseRecord::NoConnection:
      if (epoch > 0) connection_ended(station_id, epoch);
      break;
  }
}

void Cluster::connection_ended(const std::string& station_id, std::int64_t epoch) {
  writers_.lease_ends.submit({station_id, node_id_, epoch});
}

void Cluster::reconcile_leases(pqxx::connection_base& c, bool unleased_only) {
  const auto held = stations_.held();
  std::vector<std::string> ids;
  const auto settled = std::chrono::steady_clock::now() - heartbeat_interval_;
  for (const auto& h : held) {
    if (h.takeovers_pending > 0) continue;  // its own take-over decides
    if (unleased_only && (h.lease_epoch > 0 || h.attached_at > settled)) continue;
    ids.push_back(h.station_id);
  }
  if (ids.empty()) return;
  pqxx::work tx(c);
  // Stations another live node holds are not this node's: their connections here are stale.
  std::size_t taken = 0;
  auto [elsewhere, mine] = store::stations::reconcile(tx, ids, node_id_, taken);
  tx.commit();
  for (const auto& [station, epoch] : mine) stations_.confirm_lease(station, epoch);
  for (const auto& [station, epoch] : elsewhere) {
    if (auto connection = stations_.drop_lease(station, epoch)) {
      ++leases_lost_;
      log::info("station_lease_moved", {{"station", station}, {"epoch", epoch}});
      close_moved(connection);
    }
  }
  if (taken > 0) log::info("cluster_leases_taken_back", {{"node", node_id_}, {"stations", taken}});
}

void Cluster::release_orphaned_leases(pqxx::connection_base& c) {
  // Leases this node holds in the database for stations it has no connection to (a
  // take-over whose transaction committed although its answer was lost).
  pqxx::work tx(c);
  std::vector<store::stations::StationEpoch> orphaned;
  for (auto& lease : store::stations::leases_older_than(tx, node_id_, config_.lease_timeout_s))
    if (!stations_.find(lease.first)) orphaned.push_back(std::move(lease));
  // A station that connected here since the read above has a higher epoch than it had.
  const auto freed = store::stations::release(tx, node_id_, orphaned);
  tx.commit();
  if (freed > 0)
    log::info("cluster_orphaned_leases_released", {{"node", node_id_}, {"stations", freed}});
}

}  // namespace chargegrid::server
