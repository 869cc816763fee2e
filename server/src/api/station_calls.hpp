#pragma once
// Commands sent on behalf of an API caller, through the command router
// (commands/command_router.hpp): the station's answer, or a problem for every other outcome —
// offline or lost 409, no form in the station's OCPP version 409, schema 422, too many
// pending 429, CALLERROR 502, timeout 504.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/context.hpp"
#include "commands/command_router.hpp"

namespace chargegrid::server::api {

// The station's answer as {"command_id", "station_id", "command", "ocpp_action", "outcome",
// "status", "response"}; throws ApiError for every other outcome. The command's origin is
// the caller's key.
boost::asio::awaitable<nlohmann::json> run_command(ApiContext& api, const Principal& principal,
                                                   commands::StationCommand command,
                                                   std::optional<std::int64_t> command_id = {});

// A station the caller may command (else 404): its site, and a command id from the command
// log, reserved so that payloads can carry it.
struct CommandTarget {
  std::optional<std::int64_t> site;
  std::int64_t command_id = 0;
};
boost::asio::awaitable<CommandTarget> reserve_command(ApiContext& api, const Principal& principal,
                                                      const std::string& station_id);

// Sends RemoteStopTransaction (1.6) or RequestStopTransaction (2.0.1, 2.1) for a live session
// the caller may act on (a driver: only their own).
boost::asio::awaitable<nlohmann::json> stop_session(ApiContext& api, const Principal& principal,
                                                    std::int64_t session_id,
                                                    const std::string& command_name);

}  // namespace chargegrid::server::api
