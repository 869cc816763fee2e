#include "api/station_calls.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "logging.hpp"

namespace chargegrid::server::api {

namespace asio = boost::asio;

asio::awaitable<CallOutcome> await_station_call(
    const std::shared_ptr<StationConnection>& connection, const std::string& action,
    const nlohmann::json& payload) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(CallOutcome)>(
      [connection, action, payload](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto executor = asio::get_associated_executor(*shared);
        connection->call(std::move(action), std::move(payload),
                         [shared, executor](CallOutcome outcome) {
                           asio::post(executor, [shared, outcome = std::move(outcome)]() mutable {
                             (*shared)(std::move(outcome));
                           });
                         });
      },
      asio::use_awaitable);
}

std::int64_t next_command_id(pqxx::transaction_base& tx) {
  return tx.exec("SELECT nextval('command_log_id_seq')")[0][0].as<std::int64_t>();
}

asio::awaitable<CommandTarget> reserve_command(ApiContext& api, const Principal& principal,
                                               const std::string& station_id) {
  auto target = co_await api.transaction([&](pqxx::work& tx) {
    auto site = station_site_in_scope(tx, principal, station_id);
    return CommandTarget{site, next_command_id(tx), remote_holder(api, tx, station_id)};
  });
  co_return target;
}

std::optional<RemoteHolder> remote_holder(ApiContext& api, pqxx::transaction_base& tx,
                                          const std::string& station_id) {
  if (!api.services.cluster.enabled()) return std::nullopt;
  return api.services.cluster.remote_holder(tx, station_id);
}

StationTarget station_target(ApiContext& api, const std::string& station_id,
                             const std::optional<RemoteHolder>& remote) {
  StationTarget target;
  target.local = api.services.stations.find(station_id);
  if (!target.local) target.remote = remote;
  return target;
}

asio::awaitable<nlohmann::json> send_command(ApiContext& api, const Principal& principal,
                                             const CommandRequest& request,
                                             std::int64_t command_id) {
  // Logged first: a command that cannot be audited is not sent.
  const auto& target = request.target;
  const std::string initial_outcome = target.online() ? "pending" : "offline";
  co_await api.transaction([&](pqxx::work& tx) {
    // Routed to the node holding the station: it reads the payload to send from the row
    // (dispatch, cleared when the command ends) and writes the outcome there.
    std::optional<std::string> routed_from, routed_to, dispatch;
    std::optional<std::int64_t> lease_epoch;
    if (target.remote) {
      routed_from = api.services.cluster.node_id();
      routed_to = target.remote->node;
      dispatch = request.payload.dump();
      lease_epoch = target.remote->epoch;
    }
    tx.exec_params(
        R"(INSERT INTO command_log (id, station_id, site_id, api_key_id, command, ocpp_action,
                                    request, outcome, completed_at, routed_from, routed_to,
                                    dispatch, lease_epoch)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8,
                   CASE WHEN $8 = 'pending' THEN NULL ELSE now() END, $9, $10, $11::jsonb, $12))",
        command_id, request.station_id, request.site_id, principal.key_id, request.command,
        request.ocpp_action, request.audited.dump(), initial_outcome, routed_from, routed_to,
        dispatch, lease_epoch);
    if (target.remote) api.services.cluster.notify_command(tx, command_id, *target.remote);
    return true;
  });
  if (!target.online()) {
    ApiError offline(
        Status::conflict, "Station offline",
        "station " + request.station_id + " is not connected; try again when it is online");
    offline.extra = {{"command_id", command_id}, {"station_id", request.station_id}};
    throw offline;
  }

  CallOutcome outcome;
  if (target.remote) {
    // The holding node sends it, and records the outcome in the audit log.
    outcome = co_await api.services.cluster.await_outcome(command_id, *target.remote);
  } else {
    outcome = co_await await_station_call(target.local, request.ocpp_action, request.payload);
  }
  const std::string outcome_text = outcome_name(outcome.kind);
  if (!target.remote) {
    try {
      co_await api.transaction([&](pqxx::work& tx) {
        tx.exec_params(
            "UPDATE command_log SET outcome = $2, response = $3::jsonb, completed_at = now() "
            "WHERE id = $1",
            command_id, outcome_text, outcome.payload.dump());
        return true;
      });
    } catch (const std::exception& e) {
      // The station has acted; the caller must hear its answer even so.
      log::warn("command_audit_failed", {{"command_id", command_id}, {"error", e.what()}});
    }
  }

  Event event;
  event.type = "command.result";
  event.station_id = request.station_id;
  event.site_id = request.site_id;
  event.data = {{"command_id", command_id},
                {"command", request.command},
                {"ocpp_action", request.ocpp_action},
                {"outcome", outcome_text}};
  if (outcome.kind == CallOutcome::Kind::Result && outcome.payload.contains("status"))
    event.data["status"] = outcome.payload["status"];
  api.services.events.publish(event);

  auto fail = [&](Status status, std::string title, std::string detail) {
    ApiError error(status, std::move(title), detail);
    error.extra = {{"command_id", command_id}, {"station_id", request.station_id}};
    return error;
  };
  const auto description = outcome.payload.value("description", std::string());
  switch (outcome.kind) {
    case CallOutcome::Kind::Result:
      break;
    case CallOutcome::Kind::Error: {
      auto error = fail(Status::bad_gateway, "Station answered with an error",
                        "station " + request.station_id + " rejected " + request.ocpp_action +
                            " with " + outcome.payload.value("errorCode", std::string("an error")) +
                            (description.empty() ? "" : ": " + description));
      error.extra["ocpp_error"] = outcome.payload;
      throw error;
    }
    case CallOutcome::Kind::Timeout:
      throw fail(Status::gateway_timeout, "Station did not answer",
                 "station " + request.station_id + " did not answer " + request.ocpp_action +
                     " within " + std::to_string(api.services.config.call_timeout_s) + " s");
    case CallOutcome::Kind::Disconnected:
      throw fail(Status::conflict, "Station offline",
                 "station " + request.station_id + " disconnected before answering" +
                     (description.empty() ? "" : " (" + description + ")"));
    case CallOutcome::Kind::Refused:
      throw fail(Status::too_many_requests, "Too many commands in flight",
                 "station " + request.station_id + " has too many calls awaiting an answer; " +
                     "retry when they are answered");
    case CallOutcome::Kind::Invalid:
      throw fail(Status::unprocessable_entity, "Invalid value",
                 request.ocpp_action + " for " +
                     std::string(protocols::subprotocol(target.version())) + ": " + description);
  }
  nlohmann::json answer{{"command_id", command_id},
                        {"station_id", request.station_id},
                        {"command", request.command},
                        {"ocpp_action", request.ocpp_action},
                        {"outcome", outcome_text},
                        {"status", outcome.payload.value("status", nlohmann::json(nullptr))},
                        {"response", outcome.payload}};
  co_return answer;
}

}  // namespace chargegrid::server::api
