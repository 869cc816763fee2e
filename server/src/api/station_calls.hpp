#pragma once
// Sending an OCPP CALL to a station on behalf of an API caller: the command goes
// into the audit log (command_log) before it is sent and gets its outcome after,
// and its result is published as a "command.result" event. Outcomes that are not
// an answer become problems: offline 409, schema 422, too many pending 429,
// CALLERROR 502, timeout 504.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/context.hpp"
#include "cluster.hpp"
#include "connections/station_connection.hpp"

namespace chargegrid::server::api {

// Waits for the outcome of session.call(...). Not a coroutine: the arguments
// are copied into the operation before it suspends, so callers pass named
// objects by reference (g++ 12 mishandles temporaries in co_await expressions).
boost::asio::awaitable<CallOutcome> await_station_call(
    const std::shared_ptr<StationConnection>& session, const std::string& action,
    const nlohmann::json& payload);

// Where a station's commands go: its connection on this node, or (cluster mode) the live
// node that holds it; neither when it is offline.
struct StationTarget {
  std::shared_ptr<StationConnection> local;
  std::optional<RemoteHolder> remote;
  bool online() const { return local || remote; }
  protocols::OcppVersion version() const { return local ? local->version() : remote->version; }
};

struct CommandRequest {
  StationTarget target;
  std::string station_id;
  std::optional<std::int64_t> site_id;
  std::string command;      // the API's name, e.g. "remote-start"
  std::string ocpp_action;  // e.g. "RemoteStartTransaction"
  nlohmann::json payload;   // what is sent
  nlohmann::json audited;   // what the audit log keeps (secrets removed)
};

// The station's answer as {"command_id", "station_id", "command", "ocpp_action",
// "outcome", "status", "response"}; throws ApiError for every other outcome.
// `command_id` is reserved before the payload is built, so payloads can carry it
// (remoteStartId, requestId, reservationId).
boost::asio::awaitable<nlohmann::json> send_command(ApiContext& api, const Principal& principal,
                                                    const CommandRequest& request,
                                                    std::int64_t command_id);

// A command id from the audit log's sequence.
std::int64_t next_command_id(pqxx::transaction_base& tx);

// A station the caller may command (else 404), with its site and a fresh
// command id for the audit log.
struct CommandTarget {
  std::optional<std::int64_t> site;
  std::int64_t command_id = 0;
  std::optional<RemoteHolder> remote;  // cluster mode: the node that holds the station
};
boost::asio::awaitable<CommandTarget> reserve_command(ApiContext& api, const Principal& principal,
                                                      const std::string& station_id);

// Sends RemoteStopTransaction (1.6) or RequestStopTransaction (2.0.1) for a live
// session the caller may act on (a driver: only their own).
boost::asio::awaitable<nlohmann::json> stop_session(ApiContext& api, const Principal& principal,
                                                    std::int64_t session_id,
                                                    const std::string& command_name);

// The station's connection on this node if it has one, else `remote`.
StationTarget station_target(ApiContext& api, const std::string& station_id,
                             const std::optional<RemoteHolder>& remote);
// Inside a transaction, in cluster mode: the live node other than this one that holds the
// station (nullopt otherwise).
std::optional<RemoteHolder> remote_holder(ApiContext& api, pqxx::transaction_base& tx,
                                          const std::string& station_id);

}  // namespace chargegrid::server::api
