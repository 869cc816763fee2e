#pragma once
// cluster_nodes: the nodes of a cluster and their heartbeats; and the NOTIFYs nodes send each
// other inside the transactions that make them true (cluster/messages.hpp says what they mean).

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::cluster_nodes {

struct Node {
  std::string id;
  std::int64_t incarnation = 0;  // random per process: a restart under the same id is new
  std::string host;
  int pid = 0;
  int ocpp_port = 0;
  int http_port = 0;
  int lease_timeout_s = 15;
};

// The node's row as it stands (locked for the caller's transaction).
struct Existing {
  std::string host;
  int pid = 0;
  bool live = false;  // its heartbeat is recent
};
std::optional<Existing> lock(Tx& tx, const std::string& id);
// Registers the node (again), as a new incarnation.
void upsert(Tx& tx, const Node& node);
// False when the row is not this incarnation's any more (declared dead, or taken).
bool heartbeat(Tx& tx, const std::string& id, std::int64_t incarnation);
// Joins again after being declared dead; false if another process holds the id.
bool rejoin(Tx& tx, const Node& node);
// Deletes the nodes (other than `self`) whose heartbeat is older than their lease timeout.
std::vector<std::string> delete_dead(Tx& tx, const std::string& self);
void leave(Tx& tx, const std::string& id, std::int64_t incarnation);
// The node streams live events to a client: others relay theirs to it for `seconds` from now
// (or longer, if already so).
void want_events(Tx& tx, const std::string& id, int seconds);
// Whether a live node other than `self` wants the others' live events now.
bool events_wanted_elsewhere(Tx& tx, const std::string& self);
// The nodes as the API shows them (GET /api/v1/cluster).
nlohmann::json list(Tx& tx);

// NOTIFY one node; delivered when the transaction commits.
void notify(Tx& tx, const std::string& node, const nlohmann::json& message);
// NOTIFY the node holding `station_id`, if that is another node than `self`.
void notify_holder(Tx& tx, const std::string& station_id, const nlohmann::json& message,
                   const std::string& self);
// NOTIFY every node listening for domain events.
void notify_all(Tx& tx, const std::string& channel, const std::string& payload);

}  // namespace chargegrid::server::store::cluster_nodes
