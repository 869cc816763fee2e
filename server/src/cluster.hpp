#pragma once
// Cluster mode (docs/cluster.md): several nodes share one PostgreSQL and the listening
// ports. Each node has a row in cluster_nodes that it heartbeats; each station is held by
// at most one node, recorded as a lease on its row (held_by, lease_epoch). A node whose
// heartbeat is older than its lease timeout is dead: any node that is itself healthy
// deletes it, which ends its leases.
//
// One dedicated connection per node LISTENs on the node's channel ("chargegrid:<node id>")
// on its own thread, and also carries the heartbeat, so neither waits behind the pool's
// queue. NOTIFY only wakes; what a notification is about is read from the database:
//   {"op":"command","id":N}   run command_log row N (routed here) on this node's connection
//   {"op":"result","id":N}    row N, which this node routed, has its outcome
//   {"op":"release","station":S,"epoch":E}   another node took S over at epoch E
//   {"op":"close","station":S,"reason":R}    close S's connection (API: deleted, profile ...)
//   {"op":"registration","station":S,"registration":"accepted"|"rejected"}
// Notifications sent while the listener was away are lost: after reconnecting it scans
// command_log for commands addressed to it and checks its stations' leases again.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chargegrid/db/pool.hpp"
#include "chargegrid/protocols/version.hpp"
#include "chargegrid/server/config.hpp"
#include "connections/station_registry.hpp"
#include "database.hpp"
#include "metrics.hpp"

namespace chargegrid::server {

struct CallOutcome;
class StationConnection;

// An operator set the station's registration: "accepted" asks a station waiting in Pending
// to boot again (TriggerMessage), "rejected" closes its connection.
void apply_registration(const std::shared_ptr<StationConnection>& connection,
                        const std::string& registration);

// A PostgreSQL text[] literal of `items` (for = ANY($1::text[])).
std::string pg_text_array(const std::vector<std::string>& items);

// The live node, other than this one, that holds a station.
struct RemoteHolder {
  std::string node;
  std::int64_t epoch = 0;
  protocols::OcppVersion version = protocols::OcppVersion::v16;
};

class Cluster {
 public:
  Cluster(const Config& config, std::string database_url, db::ConnectionPool& pool,
          Database& database, StationRegistry& stations, Metrics& metrics);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  bool enabled() const { return config_.cluster; }
  const std::string& node_id() const { return node_id_; }
  // The NOTIFY channel of a node.
  static std::string channel(const std::string& node);

  // Registers this node (refusing an id a live node elsewhere uses), ends the leases and
  // commands a previous process under the same id left, and starts the listener. Throws
  // when the database refuses. No-op unless enabled().
  void start(std::uint16_t ocpp_port, std::uint16_t http_port);
  // Stops the listener, gives back the leases still held and deletes the node's row.
  void stop();

  // --- Leases (call only when enabled()) ---
  // Inside a transaction that took a station's lease: tells the previous holder, if it is
  // another node, that the station is now held here at `epoch`.
  void notify_previous_holder(pqxx::transaction_base& tx, const std::string& station_id,
                              const std::optional<std::string>& previous, std::int64_t epoch) const;
  // Takes the lease of an existing station row (e.g. one created by BootNotification);
  // returns the new epoch, 0 if the station has no row.
  std::int64_t take_lease(pqxx::transaction_base& tx, const std::string& station_id) const;
  // After the take-over's transaction (epoch 0: it failed or found no row): records it,
  // closes `connection` when another node took the station meanwhile, gives the lease back when
  // the connection is already gone.
  void lease_taken(const std::string& station_id, std::int64_t epoch,
                   const std::shared_ptr<StationConnection>& connection);
  // The connection that held the lease at `epoch` ended: the station is offline unless
  // another connection (here or elsewhere) took it since.
  void connection_ended(const std::string& station_id, std::int64_t epoch);

  // --- Routing (call only when enabled()) ---
  // Inside a transaction: the live node other than this one holding the station.
  std::optional<RemoteHolder> remote_holder(pqxx::transaction_base& tx,
                                            const std::string& station_id) const;
  // Inside the transaction that inserted command_log row `command_id` (routed_to = holder):
  // wakes the holder.
  void notify_command(pqxx::transaction_base& tx, std::int64_t command_id,
                      const RemoteHolder& holder) const;
  // Waits for the outcome the holder writes to command_log; ends the wait with Timeout after
  // the call timeout (plus a little), or Disconnected when the holder dies first. Throws
  // db::DatabaseUnavailable if the database could not be read until the end.
  boost::asio::awaitable<CallOutcome> await_outcome(std::int64_t command_id,
                                                    const RemoteHolder& holder);
  // Inside a transaction: sends `message` (an op above) to the station's holder if that is
  // another node.
  void notify_holder(pqxx::transaction_base& tx, const std::string& station_id,
                     const nlohmann::json& message) const;

  // For the API: the cluster's nodes as JSON (read in the caller's transaction).
  nlohmann::json nodes(pqxx::transaction_base& tx) const;

 private:
  struct Waiter;
  class Receiver;

  void run_listener();
  bool stopping();
  void sleep_for(std::chrono::milliseconds d);
  void register_node(pqxx::connection& c);
  // Also joins again when the node was declared dead.
  void heartbeat(pqxx::connection& c);
  void expire_dead_nodes(pqxx::connection& c);
  // Compares this node's connections with their leases: closes those another live node
  // holds, takes back the free ones. `unleased_only`: only connections without a lease yet.
  void reconcile_leases(pqxx::connection& c, bool unleased_only);
  void release_orphaned_leases(pqxx::connection& c);
  void rescan_commands(pqxx::connection& c);
  void handle(pqxx::connection& c, const std::string& payload);
  void dispatch_command(pqxx::connection& c, std::int64_t command_id);
  void finish_command(std::int64_t command_id, const CallOutcome& outcome);
  void wake_waiter(std::int64_t command_id);
  void count_outcome(const std::string& direction, const std::string& outcome);
  void render_metrics(std::string& out) const;

  const Config& config_;
  const std::string url_;
  db::ConnectionPool& pool_;
  Database& database_;
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
