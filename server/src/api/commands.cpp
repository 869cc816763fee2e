// Remote commands: one POST per command under /stations/{station_id}/commands/,
// with a body that means the same for every OCPP version; it is translated into
// the station's version (1.6 RemoteStartTransaction or 2.0.1 RequestStartTransaction,
// and so on), sent, and the station's answer returned. The audit log of every
// command is /commands.

#include "api/station_calls.hpp"
#include "chargegrid/protocols/validation.hpp"

namespace chargegrid::server::api {

namespace http = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
using protocols::OcppVersion;

namespace {

// What a command becomes for one station: the OCPP action and its payload.
struct OcppCall {
  std::string action;
  json payload;
};

using Translate = OcppCall (*)(const json& body, OcppVersion version, std::int64_t command_id);

struct Command {
  const char* name;
  const char* schema;  // components/schemas name
  Translate translate;
};

bool is16(OcppVersion v) {
  return v == OcppVersion::v16;
}

[[noreturn]] void wrong_version(OcppVersion v, const std::string& use) {
  throw ApiError(Status::conflict, "Not available for this OCPP version",
                 "the station speaks " + std::string(protocols::subprotocol(v)) + "; use " + use);
}

json id_token_201(const json& body) {
  return {{"idToken", body.at("id_token")}, {"type", body.value("token_type", "Central")}};
}

OcppCall remote_start(const json& b, OcppVersion v, std::int64_t id) {
  if (is16(v)) {
    json p{{"idTag", b.at("id_token")}};
    if (b.contains("evse_id")) p["connectorId"] = b["evse_id"];
    return {"RemoteStartTransaction", p};
  }
  json p{{"idToken", id_token_201(b)}, {"remoteStartId", id}};
  if (b.contains("evse_id")) p["evseId"] = b["evse_id"];
  return {"RequestStartTransaction", p};
}

OcppCall reset(const json& b, OcppVersion v, std::int64_t) {
  const auto type = b.at("type").get<std::string>();
  if (is16(v)) {
    if (b.contains("evse_id")) wrong_version(v, "a reset without evse_id");
    return {"Reset", {{"type", type == "Hard" || type == "Immediate" ? "Hard" : "Soft"}}};
  }
  json p{{"type", type == "Hard" || type == "Immediate" ? "Immediate" : "OnIdle"}};
  if (b.contains("evse_id")) p["evseId"] = b["evse_id"];
  return {"Reset", p};
}

OcppCall unlock_connector(const json& b, OcppVersion v, std::int64_t) {
  if (is16(v)) return {"UnlockConnector", {{"connectorId", b.at("evse_id")}}};
  return {"UnlockConnector",
          {{"evseId", b.at("evse_id")}, {"connectorId", b.value("connector_id", 1)}}};
}

OcppCall change_availability(const json& b, OcppVersion v, std::int64_t) {
  const char* status = b.at("operational").get<bool>() ? "Operative" : "Inoperative";
  const int evse = b.value("evse_id", 0);
  if (is16(v)) return {"ChangeAvailability", {{"connectorId", evse}, {"type", status}}};
  json p{{"operationalStatus", status}};
  if (evse > 0) {
    p["evse"] = {{"id", evse}};
    if (b.contains("connector_id")) p["evse"]["connectorId"] = b["connector_id"];
  }
  return {"ChangeAvailability", p};
}

OcppCall get_configuration(const json& b, OcppVersion v, std::int64_t) {
  if (!is16(v)) wrong_version(v, "get-variables");
  json p = json::object();
  if (b.contains("keys")) p["key"] = b["keys"];
  return {"GetConfiguration", p};
}

OcppCall change_configuration(const json& b, OcppVersion v, std::int64_t) {
  if (!is16(v)) wrong_version(v, "set-variables");
  return {"ChangeConfiguration", {{"key", b.at("key")}, {"value", b.at("value")}}};
}

json component_variable(const json& item) {
  json component{{"name", item.at("component")}};
  if (item.contains("component_instance")) component["instance"] = item["component_instance"];
  if (item.contains("evse_id")) component["evse"] = {{"id", item["evse_id"]}};
  json variable{{"name", item.at("variable")}};
  if (item.contains("variable_instance")) variable["instance"] = item["variable_instance"];
  json out{{"component", component}, {"variable", variable}};
  if (item.contains("attribute_type")) out["attributeType"] = item["attribute_type"];
  return out;
}

OcppCall get_variables(const json& b, OcppVersion v, std::int64_t) {
  if (is16(v)) wrong_version(v, "get-configuration");
  json data = json::array();
  for (const auto& item : b.at("variables")) data.push_back(component_variable(item));
  return {"GetVariables", {{"getVariableData", data}}};
}

OcppCall set_variables(const json& b, OcppVersion v, std::int64_t) {
  if (is16(v)) wrong_version(v, "change-configuration");
  json data = json::array();
  for (const auto& item : b.at("variables")) {
    auto entry = component_variable(item);
    entry["attributeValue"] = item.at("value");
    data.push_back(entry);
  }
  return {"SetVariables", {{"setVariableData", data}}};
}

OcppCall trigger_message(const json& b, OcppVersion v, std::int64_t) {
  json p{{"requestedMessage", b.at("message")}};
  if (b.contains("evse_id")) {
    if (is16(v))
      p["connectorId"] = b["evse_id"];
    else
      p["evse"] = {{"id", b["evse_id"]}};
  }
  return {"TriggerMessage", p};
}

OcppCall clear_cache(const json&, OcppVersion, std::int64_t) {
  return {"ClearCache", json::object()};
}

OcppCall send_local_list(const json& b, OcppVersion v, std::int64_t) {
  json list = json::array();
  for (const auto& entry : b.value("entries", json::array())) {
    json info{{"status", entry.value("status", "Accepted")}};
    if (is16(v)) {
      if (entry.contains("expiry")) info["expiryDate"] = entry["expiry"];
      list.push_back({{"idTag", entry.at("id_token")}, {"idTagInfo", info}});
    } else {
      if (entry.contains("expiry")) info["cacheExpiryDateTime"] = entry["expiry"];
      list.push_back({{"idToken", id_token_201(entry)}, {"idTokenInfo", info}});
    }
  }
  if (is16(v))
    return {"SendLocalList",
            {{"listVersion", b.at("version")},
             {"updateType", b.at("update_type")},
             {"localAuthorizationList", list}}};
  json p{{"versionNumber", b.at("version")}, {"updateType", b.at("update_type")}};
  if (!list.empty()) p["localAuthorizationList"] = list;
  return {"SendLocalList", p};
}

OcppCall get_local_list_version(const json&, OcppVersion, std::int64_t) {
  return {"GetLocalListVersion", json::object()};
}

OcppCall reserve_now(const json& b, OcppVersion v, std::int64_t id) {
  const auto reservation = b.value("reservation_id", id);
  if (is16(v))
    return {"ReserveNow",
            {{"connectorId", b.value("evse_id", 0)},
             {"expiryDate", b.at("expiry")},
             {"idTag", b.at("id_token")},
             {"reservationId", reservation}}};
  json p{{"id", reservation}, {"expiryDateTime", b.at("expiry")}, {"idToken", id_token_201(b)}};
  if (b.contains("evse_id")) p["evseId"] = b["evse_id"];
  return {"ReserveNow", p};
}

OcppCall cancel_reservation(const json& b, OcppVersion, std::int64_t) {
  return {"CancelReservation", {{"reservationId", b.at("reservation_id")}}};
}

OcppCall update_firmware(const json& b, OcppVersion v, std::int64_t id) {
  json p;
  if (is16(v)) {
    p = {{"location", b.at("location")}, {"retrieveDate", b.at("retrieve_at")}};
  } else {
    p = {{"requestId", id},
         {"firmware", {{"location", b.at("location")}, {"retrieveDateTime", b.at("retrieve_at")}}}};
  }
  if (b.contains("retries")) p["retries"] = b["retries"];
  if (b.contains("retry_interval_s")) p["retryInterval"] = b["retry_interval_s"];
  return {"UpdateFirmware", p};
}

OcppCall get_log(const json& b, OcppVersion v, std::int64_t id) {
  json p;
  if (is16(v)) {
    p = {{"location", b.at("location")}};
    if (b.contains("from")) p["startTime"] = b["from"];
    if (b.contains("to")) p["stopTime"] = b["to"];
    if (b.value("log_type", "DiagnosticsLog") != "DiagnosticsLog")
      wrong_version(v, "log_type DiagnosticsLog (1.6 stations only have diagnostics)");
  } else {
    json log{{"remoteLocation", b.at("location")}};
    if (b.contains("from")) log["oldestTimestamp"] = b["from"];
    if (b.contains("to")) log["latestTimestamp"] = b["to"];
    p = {{"logType", b.value("log_type", "DiagnosticsLog")}, {"requestId", id}, {"log", log}};
  }
  if (b.contains("retries")) p["retries"] = b["retries"];
  if (b.contains("retry_interval_s")) p["retryInterval"] = b["retry_interval_s"];
  return {is16(v) ? "GetDiagnostics" : "GetLog", p};
}

constexpr Command kCommands[] = {
    {"remote-start", "RemoteStartCommand", remote_start},
    {"reset", "ResetCommand", reset},
    {"unlock-connector", "UnlockConnectorCommand", unlock_connector},
    {"change-availability", "ChangeAvailabilityCommand", change_availability},
    {"get-configuration", "GetConfigurationCommand", get_configuration},
    {"change-configuration", "ChangeConfigurationCommand", change_configuration},
    {"get-variables", "GetVariablesCommand", get_variables},
    {"set-variables", "SetVariablesCommand", set_variables},
    {"trigger-message", "TriggerMessageCommand", trigger_message},
    {"clear-cache", "EmptyCommand", clear_cache},
    {"send-local-list", "SendLocalListCommand", send_local_list},
    {"get-local-list-version", "EmptyCommand", get_local_list_version},
    {"reserve-now", "ReserveNowCommand", reserve_now},
    {"cancel-reservation", "CancelReservationCommand", cancel_reservation},
    {"update-firmware", "UpdateFirmwareCommand", update_firmware},
    {"get-log", "GetLogCommand", get_log},
};

const std::string kCommandColumns = R"(
  SELECT c.id, c.station_id, c.site_id, c.api_key_id, c.command, c.ocpp_action, c.request,
         c.outcome, c.response, c.created_at, c.completed_at, c.routed_from, c.routed_to
  FROM command_log c)";

}  // namespace

void add_command_routes(Router& router, ApiContext& api) {
  const std::vector<Role> operators{Role::Admin, Role::FacilityManager};

  // remote-stop names a session; the station is checked to be the session's.
  router.add(http::verb::post, "/api/v1/stations/{station_id}/commands/remote-stop", operators,
             "RemoteStopCommand", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto station_id = r.path_text("station_id");
               const auto session_id = r.body.at("session_id").get<std::int64_t>();
               auto owner = co_await api.transaction([&](pqxx::work& tx) {
                 station_site_in_scope(tx, r.principal, station_id);
                 auto rows = tx.exec_params("SELECT station_id FROM transactions WHERE id = $1",
                                            session_id);
                 return rows.empty() ? std::string() : rows[0][0].as<std::string>();
               });
               if (owner != station_id)
                 throw unprocessable("session_id: " + std::to_string(session_id) +
                                     " is not a session of station " + station_id);
               const std::string command_name = "remote-stop";
               auto answer = co_await stop_session(api, r.principal, session_id, command_name);
               co_return json_answer(r.http, Status::ok, answer);
             });

  for (const auto& command : kCommands) {
    const std::string name = command.name;
    const Translate translate = command.translate;
    router.add(http::verb::post, "/api/v1/stations/{station_id}/commands/" + name, operators,
               command.schema, [&api, name, translate](ApiRequest& r) -> awaitable<HttpResponse> {
                 const auto station_id = r.path_text("station_id");
                 auto reserved = co_await reserve_command(api, r.principal, station_id);
                 // An offline station's command is still logged (as offline).
                 auto target = station_target(api, station_id, reserved.remote);
                 OcppCall call;
                 if (target.online())
                   call = translate(r.body, target.version(), reserved.command_id);
                 CommandRequest request{target,      station_id,   reserved.site, name,
                                        call.action, call.payload, r.body};
                 auto answer =
                     co_await send_command(api, r.principal, request, reserved.command_id);
                 co_return json_answer(r.http, Status::ok, answer);
               });
  }

  // Any OCPP action, payload as the station's version defines it: for what the
  // commands above do not cover. Admins only.
  router.add(http::verb::post, "/api/v1/stations/{station_id}/ocpp/{action}", {Role::Admin},
             "OcppPayload", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto station_id = r.path_text("station_id");
               const auto action = r.path_text("action");
               auto reserved = co_await reserve_command(api, r.principal, station_id);
               auto target = station_target(api, station_id, reserved.remote);
               if (target.online() && !protocols::is_known_action(target.version(), action))
                 throw not_found("OCPP " + std::string(protocols::subprotocol(target.version())) +
                                 " has no action " + action);
               CommandRequest request{target, station_id, reserved.site, "ocpp",
                                      action, r.body,     r.body};
               auto answer = co_await send_command(api, r.principal, request, reserved.command_id);
               co_return json_answer(r.http, Status::ok, answer);
             });

  router.add(http::verb::get, "/api/v1/commands", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto page = r.page();
               const auto scope = r.principal.site_scope();
               const auto station = r.query_text("station_id");
               const auto site = r.query_int("site_id");
               const auto outcome =
                   r.query_choice("outcome", {"pending", "answered", "call_error", "timeout",
                                              "offline", "refused", "invalid"});
               const auto from = r.query_time("from");
               const auto to = r.query_time("to");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 return page_of(json_rows(tx, kCommandColumns + R"(
                      WHERE ($1::bigint[] IS NULL OR c.site_id = ANY($1))
                        AND ($2::text IS NULL OR c.station_id = $2)
                        AND ($3::bigint IS NULL OR c.site_id = $3)
                        AND ($4::text IS NULL OR c.outcome = $4)
                        AND ($5::timestamptz IS NULL OR c.created_at >= $5)
                        AND ($6::timestamptz IS NULL OR c.created_at < $6)
                      ORDER BY c.id DESC LIMIT $7 OFFSET $8)",
                                          scope, station, site, outcome, from, to, page.limit + 1,
                                          page.offset),
                                page);
               });
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(http::verb::get, "/api/v1/commands/{command_id}", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("command_id");
               const auto scope = r.principal.site_scope();
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 auto row = json_row(
                     tx,
                     kCommandColumns +
                         " WHERE c.id = $1 AND ($2::bigint[] IS NULL OR c.site_id = ANY($2))",
                     id, scope);
                 if (row.is_null()) throw not_found("no command " + std::to_string(id));
                 return row;
               });
               co_return json_answer(r.http, Status::ok, body);
             });
}

}  // namespace chargegrid::server::api
