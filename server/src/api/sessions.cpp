// Charging sessions, live and past: who, where, when, how much energy in and
// out (from the meter's registers), the meter samples, and a remote stop.

#include "api/station_calls.hpp"

namespace chargegrid::server::api {

namespace {

const std::string kSessionColumns = R"(
  SELECT t.id, t.station_id, st.site_id, t.evse_id, t.connector_id, t.protocol,
         t.transaction_uid AS station_transaction_id, t.state AS status, t.charging_state,
         t.id_token, t.driver_id, t.started_at, t.ended_at, t.stop_reason,
         t.meter_start_wh, t.meter_stop_wh,
         CASE WHEN t.import_first_wh IS NOT NULL
              THEN round((t.import_last_wh - t.import_first_wh)::numeric, 3) END
           AS energy_imported_wh,
         CASE WHEN t.export_first_wh IS NOT NULL
              THEN round((t.export_last_wh - t.export_first_wh)::numeric, 3) END
           AS energy_exported_wh,
         (SELECT json_build_object('id', a.id, 'driver_id', a.driver_id, 'source', a.source,
                                   'started_at', a.started_at, 'ended_at', a.ended_at)
            FROM station_associations a WHERE a.transaction_id = t.id
            ORDER BY a.id LIMIT 1) AS association,
         t.updated_at
  FROM transactions t JOIN stations st ON st.id = t.station_id)";

// " AND <the caller may see t>" with $1 = site scope, $2 = driver scope.
const std::string kSessionScope =
    " ($1::bigint[] IS NULL OR st.site_id = ANY($1) OR t.driver_id = $2)"
    " AND ($2::bigint IS NULL OR t.driver_id = $2)";

json session_in_scope(pqxx::transaction_base& tx, const Principal& principal, std::int64_t id) {
  auto row = json_row(tx, kSessionColumns + " WHERE t.id = $3 AND" + kSessionScope,
                      principal.site_scope(), principal.driver_scope(), id);
  if (row.is_null()) throw not_found("no session " + std::to_string(id) + " visible to this key");
  return row;
}

}  // namespace

awaitable<json> stop_session(ApiContext& api, const Principal& principal, std::int64_t session_id,
                             const std::string& command_name) {
  auto session = co_await api.transaction(
      [&](pqxx::work& tx) { return session_in_scope(tx, principal, session_id); });
  if (session["status"] != "active")
    throw conflict("session " + std::to_string(session_id) + " has already ended");
  commands::StationCommand command;
  command.station_id = session["station_id"].get<std::string>();
  command.name = "remote-stop";
  command.label = command_name;
  command.arguments = {{"session_id", session_id},
                       {"station_transaction_id", session["station_transaction_id"]}};
  command.audited = {{"session_id", session_id}};
  if (!session["site_id"].is_null()) command.site_id = session["site_id"].get<std::int64_t>();
  auto answer = co_await run_command(api, principal, std::move(command));
  co_return answer;
}

void add_session_routes(Router& router, ApiContext& api) {
  const std::vector<Role> readers{Role::Admin, Role::FacilityManager, Role::Driver};

  add_read_route(router, api, "/api/v1/sessions", readers,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto page = r.page();
                   const auto site = r.query_int("site_id");
                   const auto station = r.query_text("station_id");
                   const auto driver = r.query_int("driver_id");
                   const auto status = r.query_choice("status", {"active", "ended"});
                   const auto from = r.query_time("from");
                   const auto to = r.query_time("to");
                   return page_rows(tx, page, kSessionColumns + " WHERE" + kSessionScope + R"(
                        AND ($3::bigint IS NULL OR st.site_id = $3)
                        AND ($4::text IS NULL OR t.station_id = $4)
                        AND ($5::bigint IS NULL OR t.driver_id = $5)
                        AND ($6::text IS NULL OR t.state = $6)
                        AND ($7::timestamptz IS NULL OR t.started_at >= $7)
                        AND ($8::timestamptz IS NULL OR t.started_at < $8)
                      ORDER BY t.started_at DESC NULLS LAST, t.id DESC LIMIT $9 OFFSET $10)",
                                    r.principal.site_scope(), r.principal.driver_scope(), site,
                                    station, driver, status, from, to);
                 });

  add_read_route(router, api, "/api/v1/sessions/{session_id}", readers,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   return session_in_scope(tx, r.principal, r.path_id("session_id"));
                 });

  add_read_route(router, api, "/api/v1/sessions/{session_id}/meter-values", readers,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto id = r.path_id("session_id");
                   const auto page = r.page();
                   const auto measurand = r.query_text("measurand");
                   const auto from = r.query_time("from");
                   const auto to = r.query_time("to");

                   session_in_scope(tx, r.principal, id);
                   return page_rows(tx, page, R"(
                   SELECT sampled_at, measurand, phase, location, context, value, unit, format,
                          signed_data
                   FROM meter_values
                   WHERE transaction_id = $1
                     AND station_id = (SELECT station_id FROM transactions WHERE id = $1)
                     AND ($2::text IS NULL OR measurand = $2)
                     AND ($3::timestamptz IS NULL OR sampled_at >= $3)
                     AND ($4::timestamptz IS NULL OR sampled_at < $4)
                   ORDER BY sampled_at, measurand, phase LIMIT $5 OFFSET $6)",
                                    id, measurand, from, to);
                 });

  router.add(http::verb::post, "/api/v1/sessions/{session_id}/stop", readers, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("session_id");
               const std::string command_name = "stop-session";
               auto answer = co_await stop_session(api, r.principal, id, command_name);
               co_return json_answer(r.http, Status::ok, answer);
             });
}

}  // namespace chargegrid::server::api
