#pragma once
// Cluster mode (docs/cluster.md): several nodes share one PostgreSQL and the listening ports.
// Each node has a row in cluster_nodes that it heartbeats; each station is held by at most one
// node, recorded as a lease on its row (held_by, lease_epoch). A node whose heartbeat is older
// than its lease timeout is dead: any node that is itself healthy deletes it, which ends its
// leases.
//
// One dedicated connection per node LISTENs on the node's channel on its own thread, and also
// carries the heartbeat, so neither waits behind the pool's queue. Notifications only wake
// (cluster/messages.hpp); what they are about is read from the database. Notifications sent
// while the listener was away are lost: after reconnecting it scans command_log for commands
// addressed to it and checks its stations' leases again.
//
// The class's parts live in one file each: membership.cpp (registration, heartbeat, expiry),
// leases.cpp, listener.cpp, routing.cpp (commands routed to the holding node) and metrics.cpp.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chargegrid/db/fwd.hpp"
#include "chargegrid/server/config.hpp"
#include "commands/outcome.hpp"
#include "store/stations.hpp"

namespace chargegrid::server {

class Database;
class Metrics;
class StationConnection;
class StationRegistry;
class StateWriters;

// The live node, other than this one, that holds a station.
using RemoteHolder = store::stations::Holder;

class Cluster {
 public:
  Cluster(const Config& config, std::string database_url, db::ConnectionPool& pool,
          Database& database, StationRegistry& stations, StateWriters& writers, Metrics& metrics);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  bool enabled() const { return config_.cluster; }
  const std::string& node_id() const { return node_id_; }
  // Random per process (also outside cluster mode): tells a restart from its predecessor.
  std::int64_t incarnation() const { return incarnation_; }

  // What the listener hands on to others: a routed command to run here, an operator's
  // registration decision for a station connected here, another node's domain event. Set
  // before start().
  std::function<void(std::int64_t command_id)> on_routed_command;
  std::function<void(const std::string& station_id, const std::string& registration)>
      on_registration;
  std::function<void(const nlohmann::json& event)> on_event;
  // Whether a client streams live events from this node: each heartbeat then tells the
  // other nodes to keep relaying theirs (store::cluster_nodes::want_events).
  std::function<bool()> streams_events;
  // How long the other nodes relay their events after this node last said it streams them:
  // a client that reconnects within it resumes with every node's events.
  static constexpr int kEventsWantedS = 300;

  // Registers this node (refusing an id a live node elsewhere uses), ends the leases and
  // commands a previous process under the same id left, and starts the listener. Throws
  // when the database refuses. No-op unless enabled().
  void start(std::uint16_t ocpp_port, std::uint16_t http_port);
  // Stops the listener, gives back the leases still held and deletes the node's row.
  void stop();

  // --- Leases (call only when enabled()) ---
  // After the take-over's transaction (epoch 0: it failed or found no row): records it,
  // closes `connection` when another node took the station meanwhile, gives the lease back
  // when the connection is already gone.
  void lease_taken(const std::string& station_id, std::int64_t epoch,
                   const std::shared_ptr<StationConnection>& connection);
  // The connection that held the lease at `epoch` ended: the station is offline unless
  // another connection (here or elsewhere) took it since.
  void connection_ended(const std::string& station_id, std::int64_t epoch);

  // --- Routing (call only when enabled()) ---
  // Waits for the outcome the holder writes to command_log; ends the wait with Timeout after
  // the call timeout (plus a little), or Lost when the holder dies first. Throws
  // db::DatabaseUnavailable if the database could not be read until the end.
  boost::asio::awaitable<commands::Outcome> await_outcome(std::int64_t command_id,
                                                          RemoteHolder holder);
  // A notification turned out to name nothing to do (e.g. a command not pending here).
  void notification_ignored() { ++notifications_ignored_; }
  // Counts a routed command's outcome on this node (direction "in": run here for another).
  void count_outcome(const std::string& direction, std::string_view outcome);

 private:
  struct Waiter;
  class Receiver;

  void run_listener();
  bool stopping();
  void sleep_for(std::chrono::milliseconds d);
  void register_node(pqxx::connection_base& c);
  // Also joins again when the node was declared dead.
  void heartbeat(pqxx::connection_base& c);
  void expire_dead_nodes(pqxx::connection_base& c);
  // Compares this node's connections with their leases: closes those another live node
  // holds, takes back the free ones. `unleased_only`: only connections without a lease yet.
  void reconcile_leases(pqxx::connection_base& c, bool unleased_only);
  void release_orphaned_leases(pqxx::connection_base& c);
  void rescan_commands(pqxx::connection_base& c);
  void handle(const std::string& payload);
  void wake_waiter(std::int64_t command_id);
  void render_metrics(std::string& out) const;

  const Config& config_;
  const std::string url_;
  db::ConnectionPool& pool_;
  Database& database_;
  StateWriters& writers_;
  StationRegistry& stations_;
  std::string node_id_;
  std::int64_t incarnation_ = 0;  // this process's registration (random)
  std::chrono::milliseconds heartbeat_interval_;
  std::uint16_t ocpp_port_ = 0;
  std::uint16_t http_port_ = 0;

  std::thread listener_;
  std::mutex stop_mutex_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  bool started_ = false;

  // Heartbeats have succeeded without a gap since then (only then may this node expire
  // others: after a database outage every node gets a full lease timeout to heartbeat).
  std::optional<std::chrono::steady_clock::time_point> healthy_since_;

  std::mutex waiters_mutex_;
  std::unordered_map<std::int64_t, std::shared_ptr<Waiter>> waiters_;

  std::atomic<std::uint64_t> takeovers_{0}, leases_lost_{0}, nodes_expired_{0}, notifications_{0},
      notifications_ignored_{0}, listener_reconnects_{0}, heartbeats_failed_{0};
  mutable std::mutex outcome_mutex_;
  std::unordered_map<std::string, std::uint64_t> routed_outcomes_;  // "out/answered" -> n
};

}  // namespace chargegrid::server
