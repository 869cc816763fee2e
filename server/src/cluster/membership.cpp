// Cluster membership: this node's row, its heartbeat, and the expiry of dead nodes.

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <pqxx/pqxx>
#include <random>

#include "chargegrid/base/text.hpp"
#include "cluster/cluster.hpp"
#include "connections/station_registry.hpp"
#include "logging.hpp"
#include "metrics.hpp"
#include "store/cluster_nodes.hpp"
#include "store/command_log.hpp"
#include "store/outbox.hpp"
#include "store/stations.hpp"

namespace chargegrid::server {

namespace {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// HOST:PID, with what a node id may not hold replaced and the host shortened to fit.
std::string default_node_id() {
  std::string host = host_name();
  for (char& c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '-';
  const std::string pid = std::to_string(::getpid());
  if (host.size() + 1 + pid.size() > 48) host.resize(48 - 1 - pid.size());
  return host + ":" + pid;
}

bool process_alive(int pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

}  // namespace

Cluster::Cluster(const Config& config, std::string database_url, db::ConnectionPool& pool,
                 Database& database, StationRegistry& stations, StateWriters& writers,
                 Metrics& metrics)
    : config_(config),
      url_(std::move(database_url)),
      pool_(pool),
      database_(database),
      writers_(writers),
      stations_(stations),
      node_id_(config.node_id.empty() ? default_node_id() : config.node_id),
      heartbeat_interval_(std::max<std::int64_t>(200, config.lease_timeout_s * 1000 / 5)) {
  std::random_device random;
  incarnation_ =
      static_cast<std::int64_t>((static_cast<std::uint64_t>(random()) << 31) ^ random()) &
      0x7fffffffffffffffLL;
  if (enabled()) metrics.add_gauge_source([this](std::string& out) { render_metrics(out); });
}

Cluster::~Cluster() {
  stop();
}

void Cluster::start(std::uint16_t ocpp_port, std::uint16_t http_port) {
  if (!enabled() || started_) return;
  ocpp_port_ = ocpp_port;
  http_port_ = http_port;
  {
    pqxx::connection c(url_);
    register_node(c);
  }
  started_ = true;
  log::info("cluster_node_started", {{"node", node_id_},
                                     {"lease_timeout_s", config_.lease_timeout_s},
                                     {"heartbeat_ms", heartbeat_interval_.count()}});
  listener_ = std::thread([this] { run_listener(); });
}

namespace {

store::cluster_nodes::Node node_row(const std::string& id, std::int64_t incarnation,
                                    std::uint16_t ocpp_port, std::uint16_t http_port,
                                    int lease_timeout_s) {
  return {id,        incarnation, host_name(),    static_cast<int>(::getpid()),
          ocpp_port, http_port,   lease_timeout_s};
}

}  // namespace

void Cluster::register_node(pqxx::connection_base& c) {
  pqxx::work tx(c);
  const auto host = host_name();
  if (auto existing = store::cluster_nodes::lock(tx, node_id_); existing && existing->live) {
    // A live node elsewhere, or another live process here, uses this id.
    if (existing->host != host || (existing->pid != ::getpid() && process_alive(existing->pid)))
      throw std::runtime_error("node id '" + node_id_ + "' is in use by " + existing->host + ":" +
                               std::to_string(existing->pid) +
                               " (its heartbeat is recent): choose another --node-id, or wait "
                               "--lease-timeout seconds after it stopped");
  }
  // What a previous process under this id left: leases of connections it no longer has, and
  // commands routed to it that it will never finish.
  const auto freed = store::stations::free_leases_of(tx, node_id_);
  store::command_log::abandon_routed_to(tx, node_id_);
  store::cluster_nodes::upsert(
      tx, node_row(node_id_, incarnation_, ocpp_port_, http_port_, config_.lease_timeout_s));
  tx.commit();
  if (freed > 0)
    log::info("cluster_stale_leases_cleared", {{"node", node_id_}, {"stations", freed}});
}

void Cluster::heartbeat(pqxx::connection_base& c) {
  pqxx::work tx(c);
  if (!store::cluster_nodes::heartbeat(tx, node_id_, incarnation_)) {
    // Declared dead (a long outage or pause): its leases were ended. Join again and take
    // back the leases of the connections still here that no other node took.
    const bool joined = store::cluster_nodes::rejoin(
        tx, node_row(node_id_, incarnation_, ocpp_port_, http_port_, config_.lease_timeout_s));
    tx.commit();
    if (!joined) {
      ++heartbeats_failed_;
      log::error("cluster_node_id_taken",
                 {{"node", node_id_}, {"error", "another process registered this node id"}});
      healthy_since_.reset();
      return;
    }
    log::warn("cluster_node_rejoined", {{"node", node_id_}});
    reconcile_leases(c, false);
  } else {
    if (streams_events && streams_events())
      store::cluster_nodes::want_events(tx, node_id_, kEventsWantedS);
    tx.commit();
  }
  if (!healthy_since_) healthy_since_ = std::chrono::steady_clock::now();
}

void Cluster::expire_dead_nodes(pqxx::connection_base& c) {
  const auto timeout = std::chrono::seconds(config_.lease_timeout_s);
  if (!healthy_since_ || std::chrono::steady_clock::now() - *healthy_since_ < timeout) return;
  pqxx::work tx(c);
  std::vector<std::pair<std::string, std::size_t>> expired;
  for (const auto& node : store::cluster_nodes::delete_dead(tx, node_id_)) {
    expired.emplace_back(node, store::stations::free_leases_of(tx, node));
    store::outbox::drop_node_consumers(tx, node);
  }
  // Commands whose requesting node died before it could give up on them.
  store::command_log::expire_routed(tx, 2 * config_.call_timeout_s + config_.lease_timeout_s);
  tx.commit();
  for (const auto& [node, released] : expired) {
    ++nodes_expired_;
    log::warn("cluster_node_expired",
              {{"node", node}, {"stations_released", released}, {"by", node_id_}});
  }
}

void Cluster::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_signal_.notify_all();
  if (listener_.joinable()) listener_.join();
  if (!started_) return;
  try {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    const auto freed = store::stations::free_leases_of(tx, node_id_);
    store::outbox::drop_node_consumers(tx, node_id_);
    store::cluster_nodes::leave(tx, node_id_, incarnation_);
    tx.commit();
    log::info("cluster_node_left", {{"node", node_id_}, {"leases_released", freed}});
  } catch (const std::exception& e) {
    log::warn("cluster_leave_failed", {{"node", node_id_}, {"error", base::first_line(e.what())}});
  }
}

}  // namespace chargegrid::server
