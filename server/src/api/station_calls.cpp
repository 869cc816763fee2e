#include "api/station_calls.hpp"

#include "commands/translation.hpp"
#include "store/command_log.hpp"

namespace chargegrid::server::api {

namespace asio = boost::asio;
using commands::Outcome;

asio::awaitable<CommandTarget> reserve_command(ApiContext& api, const Principal& principal,
                                               const std::string& station_id) {
  auto target = co_await api.transaction([&](pqxx::work& tx) {
    auto site = station_site_in_scope(tx, principal, station_id);
    return CommandTarget{site, store::command_log::next_id(tx)};
  });
  co_return target;
}

asio::awaitable<json> run_command(ApiContext& api, const Principal& principal,
                                  commands::StationCommand command,
                                  std::optional<std::int64_t> command_id) {
  command.origin = commands::Origin::api_key(principal.key_id);
  const auto station_id = command.station_id;
  const auto name = command.label.empty() ? command.name : command.label;
  commands::CommandResult result;
  try {
    result = co_await api.services.commands.send(std::move(command), command_id);
  } catch (const commands::UnknownAction& e) {
    throw not_found(e.what());
  } catch (const commands::NotAvailable& e) {
    throw ApiError(Status::conflict, "Not available for this OCPP version", e.what());
  }
  const auto& outcome = result.outcome;
  auto fail = [&](Status status, std::string title, std::string detail) {
    ApiError error(status, std::move(title), detail);
    error.extra = {{"command_id", result.command_id}, {"station_id", station_id}};
    return error;
  };
  const auto description = outcome.payload.value("description", std::string());
  const auto version =
      result.version ? std::string(protocols::subprotocol(*result.version)) : std::string();
  switch (outcome.kind) {
    case Outcome::Kind::Answered:
      break;
    case Outcome::Kind::CallError: {
      auto error = fail(Status::bad_gateway, "Station answered with an error",
                        "station " + station_id + " rejected " + result.ocpp_action + " with " +
                            outcome.payload.value("errorCode", std::string("an error")) +
                            (description.empty() ? "" : ": " + description));
      error.extra["ocpp_error"] = outcome.payload;
      throw error;
    }
    case Outcome::Kind::Timeout:
      throw fail(Status::gateway_timeout, "Station did not answer",
                 "station " + station_id + " did not answer " + result.ocpp_action + " within " +
                     std::to_string(api.services.config.call_timeout_s) + " s");
    case Outcome::Kind::Offline:
      if (result.ocpp_action.empty())
        throw fail(Status::conflict, "Station offline",
                   "station " + station_id + " is not connected; try again when it is online");
      throw fail(Status::conflict, "Station offline",
                 "station " + station_id + " disconnected before answering" +
                     (description.empty() ? "" : " (" + description + ")"));
    case Outcome::Kind::Lost:
      throw fail(Status::conflict, "Station offline",
                 "station " + station_id + " disconnected before answering" +
                     (description.empty() ? "" : " (" + description + ")"));
    case Outcome::Kind::Refused:
      throw fail(Status::too_many_requests, "Too many commands in flight",
                 "station " + station_id + " has too many calls awaiting an answer; " +
                     "retry when they are answered");
    case Outcome::Kind::Invalid:
      throw fail(Status::unprocessable_entity, "Invalid value",
                 result.ocpp_action + " for " + version + ": " + description);
  }
  co_return json{{"command_id", result.command_id},
                 {"station_id", station_id},
                 {"command", name},
                 {"ocpp_action", result.ocpp_action},
                 {"outcome", std::string(commands::outcome_name(outcome.kind))},
                 {"status", outcome.payload.value("status", json(nullptr))},
                 {"response", outcome.payload}};
}

}  // namespace chargegrid::server::api
