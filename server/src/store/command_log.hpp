#pragma once
// command_log: every CALL the server sends a station, with who asked for it, the outcome and
// the station's answer. Also the mailbox of routed commands in cluster mode: a command for a
// station held by another node carries the payload to send (dispatch) until the holder has
// taken it on (once) and written the outcome.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::command_log {

std::int64_t next_id(Tx& tx);
// `count` ids from the sequence in one statement, ascending.
std::vector<std::int64_t> next_ids(Tx& tx, std::size_t count);

struct Entry {
  std::int64_t id = 0;
  std::string station_id;
  std::optional<std::int64_t> site_id;
  std::optional<std::int64_t> api_key_id;
  std::string origin;       // "api" or the service that sent it ("smart-charging", "pki", ...)
  std::string command;      // e.g. "remote-start", "ocpp"
  std::string ocpp_action;  // empty while the station is offline
  nlohmann::json audited;   // what is kept of the arguments (secrets removed)
  std::string outcome;      // "pending", or the outcome already known ("offline")
  // Routed to another node (cluster mode).
  std::optional<std::string> routed_from, routed_to;
  std::optional<nlohmann::json> dispatch;
  std::optional<std::int64_t> lease_epoch;
};
void insert(Tx& tx, const Entry& entry);
// insert() for many commands in one statement.
void insert_all(Tx& tx, std::span<const Entry> entries);

// The outcome of a command sent from this node.
void complete(Tx& tx, std::int64_t id, const std::string& outcome, const nlohmann::json& response);
struct Completion {
  std::int64_t id = 0;
  std::string outcome;
  nlohmann::json response;
};
// complete() for many commands in one statement.
void complete_all(Tx& tx, std::span<const Completion> completions);

// A routed command the holding node takes on: nullopt when it is not pending for `node`, or
// was taken on already (a command is never sent twice).
struct Dispatch {
  std::string station_id;
  std::string ocpp_action;
  nlohmann::json payload;
};
std::optional<Dispatch> take_on(Tx& tx, std::int64_t id, const std::string& node);
// The holder's outcome of a routed command; returns the node waiting for it, to be woken.
std::optional<std::string> finish_routed(Tx& tx, std::int64_t id, const std::string& outcome,
                                         const nlohmann::json& response);
// Routed commands addressed to `node` that it has not taken on yet.
std::vector<std::int64_t> waiting_for(Tx& tx, const std::string& node);

// What the waiting node finds: the outcome ("pending" while there is none), the response, and
// whether the holder still lives. When `give_up` (the deadline passed, or the holder is dead)
// a still pending command is ended as `timeout` or `lost` here, and gave_up says so.
struct RoutedState {
  std::string outcome;  // empty: no such command
  nlohmann::json response = nlohmann::json::object();
  bool gave_up = false;
};
RoutedState check_routed(Tx& tx, std::int64_t id, const std::string& holder, bool expired);

// A node (re)starting under an id: commands routed to its previous process end as lost.
void abandon_routed_to(Tx& tx, const std::string& node);
// Routed commands whose requesting node died before giving up on them.
void expire_routed(Tx& tx, int older_than_s);

}  // namespace chargegrid::server::store::command_log
