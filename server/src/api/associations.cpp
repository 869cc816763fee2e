// Who is plugged in where. A driver (or a facility manager on their behalf)
// claims a station or one of its EVSEs; a token that authorizes at a station
// does the same implicitly. A claim is linked to the session that starts on
// that EVSE (database triggers, see db/migrations/0002_api.sql), which then
// carries the driver even when the station never saw a token.

#include "context.hpp"

namespace chargegrid::server::api {

namespace http = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

const std::string kAssociationColumns = R"(
  SELECT a.id, a.station_id, a.evse_id, a.driver_id, a.id_token, a.source,
         a.transaction_id AS session_id, a.started_at, a.ended_at, a.end_reason,
         a.ended_at IS NULL AS active
  FROM station_associations a JOIN stations st ON st.id = a.station_id)";

const std::string kAssociationScope =
    " ($1::bigint[] IS NULL OR st.site_id = ANY($1) OR a.driver_id = $2)"
    " AND ($2::bigint IS NULL OR a.driver_id = $2)";

void publish(ApiContext& api, const std::string& type, const json& association) {
  Event event;
  event.type = type;
  event.station_id = association["station_id"].get<std::string>();
  event.driver_id = association["driver_id"].get<std::int64_t>();
  event.data = association;
  api.services.events.publish(std::move(event));
}

}  // namespace

void add_association_routes(Router& router, ApiContext& api) {
  const std::vector<Role> readers{Role::Admin, Role::FacilityManager, Role::Driver};

  router.add(http::verb::get, "/api/v1/associations", readers, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto page = r.page();
               const auto station = r.query_text("station_id");
               const auto driver = r.query_int("driver_id");
               const auto active = r.query_bool("active");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 return page_of(
                     json_rows(tx, kAssociationColumns + " WHERE" + kAssociationScope + R"(
                        AND ($3::text IS NULL OR a.station_id = $3)
                        AND ($4::bigint IS NULL OR a.driver_id = $4)
                        AND ($5::boolean IS NULL OR (a.ended_at IS NULL) = $5)
                      ORDER BY a.id DESC LIMIT $6 OFFSET $7)",
                               r.principal.site_scope(), r.principal.driver_scope(), station,
                               driver, active, page.limit + 1, page.offset),
                     page);
               });
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(
      http::verb::post, "/api/v1/associations", readers, "AssociationCreate",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto station_id = r.body.at("station_id").get<std::string>();
        const auto evse_id = r.body.contains("evse_id")
                                 ? std::optional<int>(r.body["evse_id"].get<int>())
                                 : std::nullopt;
        std::optional<std::int64_t> driver_id;
        if (r.body.contains("driver_id")) driver_id = r.body["driver_id"].get<std::int64_t>();
        if (r.principal.role == Role::Driver) {
          if (driver_id && driver_id != r.principal.driver_id)
            throw forbidden("a driver key can only claim stations for its own driver");
          driver_id = r.principal.driver_id;
        }
        if (!driver_id) throw unprocessable("driver_id: is required");
        auto body = co_await api.transaction([&](pqxx::work& tx) {
          // Drivers may claim any station they stand at; managers only their sites'.
          auto station = tx.exec_params("SELECT site_id FROM stations WHERE id = $1", station_id);
          std::optional<std::int64_t> site;
          if (!station.empty() && !station[0][0].is_null()) site = station[0][0].as<std::int64_t>();
          if (station.empty() ||
              (r.principal.role != Role::Driver && !r.principal.may_see_site(site)))
            throw not_found("no station " + station_id + " in this key's sites");
          if (r.principal.role != Role::Driver) {
            auto driver = tx.exec_params("SELECT site_id FROM drivers WHERE id = $1", *driver_id);
            std::optional<std::int64_t> driver_site;
            if (!driver.empty() && !driver[0][0].is_null())
              driver_site = driver[0][0].as<std::int64_t>();
            if (driver.empty() || !r.principal.may_see_site(driver_site))
              throw not_found("no driver " + std::to_string(*driver_id) + " visible to this key");
          }
          // One open claim per EVSE: a new one replaces the last (an EVSE in use
          // by a session keeps its association until the session ends).
          tx.exec_params(
              R"(UPDATE station_associations SET ended_at = now(), end_reason = 'replaced'
                 WHERE station_id = $1 AND ended_at IS NULL AND transaction_id IS NULL
                   AND (evse_id IS NOT DISTINCT FROM $2 OR driver_id = $3))",
              station_id, evse_id, *driver_id);
          auto rows = tx.exec_params(
              R"(INSERT INTO station_associations (station_id, evse_id, driver_id, source,
                                                   created_by_key)
                 VALUES ($1, $2, $3, 'claim', $4) RETURNING id)",
              station_id, evse_id, *driver_id, r.principal.key_id);
          const auto id = rows[0][0].as<std::int64_t>();
          // A session already running there without a driver gets this one
          // (the trigger links the association to it).
          tx.exec_params(
              R"(UPDATE transactions SET driver_id = $3, updated_at = now()
                 WHERE id = (SELECT id FROM transactions
                              WHERE station_id = $1 AND state = 'active' AND driver_id IS NULL
                                AND ($2::int IS NULL OR evse_id = $2)
                              ORDER BY started_at DESC NULLS LAST LIMIT 1))",
              station_id, evse_id, *driver_id);
          return json_row(tx, kAssociationColumns + " WHERE a.id = $1", id);
        });
        publish(api, "association.created", body);
        auto response = json_answer(r.http, Status::created, body);
        response.set(http::field::location, "/api/v1/associations/" + body["id"].dump());
        co_return response;
      });

  router.add(http::verb::delete_, "/api/v1/associations/{association_id}", readers, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("association_id");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 auto row =
                     json_row(tx, kAssociationColumns + " WHERE a.id = $3 AND" + kAssociationScope,
                              r.principal.site_scope(), r.principal.driver_scope(), id);
                 if (row.is_null())
                   throw not_found("no association " + std::to_string(id) + " visible to this key");
                 if (!row["active"].get<bool>())
                   throw conflict("association " + std::to_string(id) + " has already ended");
                 tx.exec_params(
                     "UPDATE station_associations SET ended_at = now(), end_reason = 'released' "
                     "WHERE id = $1",
                     id);
                 return json_row(tx, kAssociationColumns + " WHERE a.id = $1", id);
               });
               publish(api, "association.ended", body);
               co_return json_answer(r.http, Status::ok, body);
             });
}

}  // namespace chargegrid::server::api
