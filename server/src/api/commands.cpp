// Remote commands: one POST per row of the command table (commands/translation.hpp) under
// /stations/{station_id}/commands/, with a body that means the same for every OCPP version;
// the command router translates it into the station's version, sends it, and the station's
// answer is returned. The audit log of every command is /commands.

#include "api/station_calls.hpp"
#include "chargegrid/protocols/validation.hpp"
#include "commands/translation.hpp"

namespace chargegrid::server::api {

using protocols::OcppVersion;

namespace {

const std::string kCommandColumns = R"(
  SELECT c.id, c.station_id, c.site_id, c.api_key_id, c.command, c.ocpp_action, c.request,
         c.outcome, c.response, c.created_at, c.completed_at, c.routed_from, c.routed_to,
         c.origin
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

  for (const auto& spec : commands::command_table()) {
    if (spec.schema.empty()) continue;  // offered on a route of its own
    const std::string name(spec.name);
    router.add(http::verb::post, "/api/v1/stations/{station_id}/commands/" + name, operators,
               std::string(spec.schema), [&api, name](ApiRequest& r) -> awaitable<HttpResponse> {
                 const auto station_id = r.path_text("station_id");
                 auto reserved = co_await reserve_command(api, r.principal, station_id);
                 commands::StationCommand command;
                 command.station_id = station_id;
                 command.name = name;
                 command.arguments = r.body;
                 command.site_id = reserved.site;
                 auto answer = co_await run_command(api, r.principal, std::move(command),
                                                    reserved.command_id);
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
               commands::StationCommand command;
               command.station_id = station_id;
               command.name = "ocpp";
               command.ocpp_action = action;
               command.arguments = r.body;
               command.site_id = reserved.site;
               auto answer =
                   co_await run_command(api, r.principal, std::move(command), reserved.command_id);
               co_return json_answer(r.http, Status::ok, answer);
             });

  add_read_route(router, api, "/api/v1/commands", operators,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto page = r.page();
                   const auto scope = r.principal.site_scope();
                   const auto station = r.query_text("station_id");
                   const auto site = r.query_int("site_id");
                   const auto outcome =
                       r.query_choice("outcome", {"pending", "answered", "call_error", "timeout",
                                                  "offline", "lost", "refused", "invalid"});
                   const auto from = r.query_time("from");
                   const auto to = r.query_time("to");
                   return page_rows(tx, page, kCommandColumns + R"(
                      WHERE ($1::bigint[] IS NULL OR c.site_id = ANY($1))
                        AND ($2::text IS NULL OR c.station_id = $2)
                        AND ($3::bigint IS NULL OR c.site_id = $3)
                        AND ($4::text IS NULL OR c.outcome = $4)
                        AND ($5::timestamptz IS NULL OR c.created_at >= $5)
                        AND ($6::timestamptz IS NULL OR c.created_at < $6)
                      ORDER BY c.id DESC LIMIT $7 OFFSET $8)",
                                    scope, station, site, outcome, from, to);
                 });

  add_read_route(
      router, api, "/api/v1/commands/{command_id}", operators,
      [](ApiRequest& r, pqxx::work& tx) -> json {
        const auto id = r.path_id("command_id");
        const auto scope = r.principal.site_scope();

        auto row = json_row(
            tx,
            kCommandColumns + " WHERE c.id = $1 AND ($2::bigint[] IS NULL OR c.site_id = ANY($2))",
            id, scope);
        if (row.is_null()) throw not_found("no command " + std::to_string(id));
        return row;
      });
}

}  // namespace chargegrid::server::api
