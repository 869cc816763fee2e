#include "station_calls.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "../logging.hpp"

namespace chargegrid::server::api {

namespace asio = boost::asio;

asio::awaitable<CallOutcome> await_station_call(const std::shared_ptr<StationSession>& session,
                                                const std::string& action,
                                                const nlohmann::json& payload) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(CallOutcome)>(
      [session, action, payload](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto executor = asio::get_associated_executor(*shared);
        session->call(std::move(action), std::move(payload),
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
    return CommandTarget{site, next_command_id(tx)};
  });
  co_return target;
}

std::shared_ptr<StationSession> connected_station(ApiContext& api, const std::string& station_id) {
  auto session = api.services.stations.find(station_id);
  if (!session)
    throw ApiError(Status::conflict, "Station offline",
                   "station " + station_id + " is not connected; try again when it is online");
  return session;
}

namespace {

const char* outcome_name(CallOutcome::Kind kind) {
  switch (kind) {
    case CallOutcome::Kind::Result:
      return "answered";
    case CallOutcome::Kind::Error:
      return "call_error";
    case CallOutcome::Kind::Timeout:
      return "timeout";
    case CallOutcome::Kind::Disconnected:
      return "offline";
    case CallOutcome::Kind::Refused:
      return "refused";
    case CallOutcome::Kind::Invalid:
      return "invalid";
  }
  return "refused";
}

}  // namespace

asio::awaitable<nlohmann::json> send_command(ApiContext& api, const Principal& principal,
                                             const CommandRequest& request,
                                             std::int64_t command_id) {
  // Logged first: a command that cannot be audited is not sent.
  const auto& session = request.session;
  const std::string initial_outcome = session ? "pending" : "offline";
  co_await api.transaction([&](pqxx::work& tx) {
    tx.exec_params(
        R"(INSERT INTO command_log (id, station_id, site_id, api_key_id, command, ocpp_action,
                                    request, outcome, completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8,
                   CASE WHEN $8 = 'pending' THEN NULL ELSE now() END))",
        command_id, request.station_id, request.site_id, principal.key_id, request.command,
        request.ocpp_action, request.audited.dump(), initial_outcome);
    return true;
  });
  if (!session) {
    ApiError offline(
        Status::conflict, "Station offline",
        "station " + request.station_id + " is not connected; try again when it is online");
    offline.extra = {{"command_id", command_id}, {"station_id", request.station_id}};
    throw offline;
  }

  auto outcome = co_await await_station_call(session, request.ocpp_action, request.payload);
  const std::string outcome_text = outcome_name(outcome.kind);
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
                 "station " + request.station_id + " disconnected before answering");
    case CallOutcome::Kind::Refused:
      throw fail(Status::too_many_requests, "Too many commands in flight",
                 "station " + request.station_id + " has too many calls awaiting an answer; " +
                     "retry when they are answered");
    case CallOutcome::Kind::Invalid:
      throw fail(Status::unprocessable_entity, "Invalid value",
                 request.ocpp_action + " for " +
                     std::string(protocols::subprotocol(session->version())) + ": " + description);
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
