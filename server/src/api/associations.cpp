// Who is plugged in where. A driver (or a facility manager on their behalf)
// claims a station or one of its EVSEs; a token that authorizes at a station
// does the same implicitly. A claim is linked to the session that starts on
// that EVSE (database triggers, see db/migrations/0002_api.sql and 0006), which
// then carries the driver even when the station never saw a token.
//
// Claims stay within tenants: a driver claims only stations of their home site;
// a claim never ends another driver's claim (an overlapping one is a 409), and
// it takes over a session already running only if that session has no driver,
// started without a known token (one in the token table) and started less than
// --claim-window seconds ago.

#include "store/associations.hpp"

#include "api/context.hpp"
#include "api/declarations.hpp"
#include "events/domain_events.hpp"
#include "store/sessions.hpp"

namespace chargegrid::server::api {

namespace {

const std::string kAssociationColumns = R"(
  SELECT a.id, a.station_id, a.evse_id, a.driver_id, a.id_token, a.source,
         a.transaction_id AS session_id, a.started_at, a.ended_at, a.end_reason,
         a.ended_at IS NULL AS active
  FROM station_associations a JOIN stations st ON st.id = a.station_id)";

const std::string kAssociationScope =
    " ($1::bigint[] IS NULL OR st.site_id = ANY($1) OR a.driver_id = $2)"
    " AND ($2::bigint IS NULL OR a.driver_id = $2)";

void publish(ApiContext& api, bool created, const json& association) {
  const auto station = association["station_id"].get<std::string>();
  const auto driver = association["driver_id"].get<std::int64_t>();
  if (created)
    api.services.events.publish(events::AssociationCreated{station, driver, association});
  else
    api.services.events.publish(events::AssociationEnded{station, driver, association});
}

}  // namespace

void add_association_routes(Router& router, ApiContext& api) {
  const std::vector<Role> readers{Role::Admin, Role::FacilityManager, Role::Driver};

  add_read_route(
      router, api, "/api/v1/associations", readers, [](ApiRequest& r, pqxx::work& tx) -> json {
        const auto page = r.page();
        const auto station = r.query_text("station_id");
        const auto driver = r.query_int("driver_id");
        const auto active = r.query_bool("active");
        return page_rows(tx, page, kAssociationColumns + " WHERE" + kAssociationScope + R"(
                        AND ($3::text IS NULL OR a.station_id = $3)
                        AND ($4::bigint IS NULL OR a.driver_id = $4)
                        AND ($5::boolean IS NULL OR (a.ended_at IS NULL) = $5)
                      ORDER BY a.id DESC LIMIT $6 OFFSET $7)",
                         r.principal.site_scope(), r.principal.driver_scope(), station, driver,
                         active);
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
        const auto declaration = read_declaration(r.body);
        const int window_s = api.services.config.claim_window_s;
        const std::string where =
            evse_id ? "EVSE " + std::to_string(*evse_id) + " of station " + station_id
                    : "station " + station_id;
        auto body = co_await api.transaction([&](pqxx::work& tx) {
          // Locked: claims on one station are decided one at a time.
          auto station = tx.exec_params(
              "SELECT site_id FROM stations WHERE id = $1 FOR NO KEY UPDATE", station_id);
          std::optional<std::int64_t> site;
          if (!station.empty() && !station[0][0].is_null()) site = station[0][0].as<std::int64_t>();
          auto driver = tx.exec_params("SELECT site_id FROM drivers WHERE id = $1", *driver_id);
          std::optional<std::int64_t> driver_site;
          if (!driver.empty() && !driver[0][0].is_null())
            driver_site = driver[0][0].as<std::int64_t>();
          // Drivers claim stations of their home site; managers those of their sites.
          const bool station_visible = !station.empty() && (r.principal.role == Role::Driver
                                                                ? site && site == driver_site
                                                                : r.principal.may_see_site(site));
          if (!station_visible)
            throw not_found("no station " + station_id + " in this key's sites");
          if (r.principal.role != Role::Driver &&
              (driver.empty() || !r.principal.may_see_site(driver_site)))
            throw not_found("no driver " + std::to_string(*driver_id) + " visible to this key");

          // Another driver's open claim on the same EVSE (or the whole station) stays.
          auto claimed = tx.exec_params(
              R"(SELECT a.evse_id FROM station_associations a
                 WHERE a.station_id = $1 AND a.ended_at IS NULL AND a.transaction_id IS NULL
                   AND a.source = 'claim' AND a.driver_id <> $3
                   AND (a.evse_id IS NULL OR $2::int IS NULL OR a.evse_id = $2)
                 LIMIT 1)",
              station_id, evse_id, *driver_id);
          if (!claimed.empty()) {
            const std::string what = claimed[0][0].is_null()
                                         ? "the whole station"
                                         : "EVSE " + claimed[0][0].as<std::string>();
            throw conflict(where + " overlaps another driver's claim (on " + what +
                           "); it ends when they release it or their session ends");
          }

          // A session running there: taken over only if nobody authorised it.
          auto running = tx.exec_params(
              R"(SELECT t.id, t.driver_id, is_known_token(t.id_token),
                        LEAST(COALESCE(t.started_at, t.created_at), t.created_at)
                          >= now() - make_interval(secs => $3)
                 FROM transactions t
                 WHERE t.station_id = $1 AND t.state = 'active'
                   AND ($2::int IS NULL OR t.evse_id = $2)
                 ORDER BY t.started_at DESC NULLS LAST, t.id DESC
                 FOR UPDATE)",
              station_id, evse_id, window_s);
          std::optional<int> take_over;
          for (const auto& session : running) {
            const auto session_id = session[0].as<std::string>();
            std::string refusal;
            if (!session[1].is_null()) {
              refusal = session[1].as<std::int64_t>() == *driver_id
                            ? "session " + session_id + " there is already this driver's"
                            : "session " + session_id + " there is another driver's";
            } else if (session[2].as<bool>()) {
              refusal = "session " + session_id +
                        " there was authorised with a token; only that token's driver has it";
            } else if (!session[3].as<bool>()) {
              refusal = "session " + session_id + " there started more than " +
                        std::to_string(window_s) +
                        " s ago; a claim takes over a session only "
                        "within " +
                        std::to_string(window_s) + " s of its start";
            } else {
              take_over = session[0].as<int>();
              break;
            }
            // On one EVSE the running session is the one meant; a claim on the whole
            // station may still wait for the next session on a free EVSE.
            if (evse_id) throw conflict(where + ": " + refusal);
          }

          // The driver's own earlier open claims at this station give way to this one.
          const auto id =
              store::associations::claim(tx, station_id, evse_id, *driver_id, r.principal.key_id);
          // The trigger links the new claim to the session it takes over.
          if (take_over) store::sessions::assign_driver(tx, *take_over, *driver_id);
          if (declaration) store::charging_plans::declare_for_association(tx, id, *declaration);
          return json_row(tx, kAssociationColumns + " WHERE a.id = $1", id);
        });
        publish(api, true, body);
        if (declaration) announce_declaration(api, station_id);
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
                 store::associations::release(tx, id);
                 return json_row(tx, kAssociationColumns + " WHERE a.id = $1", id);
               });
               publish(api, false, body);
               co_return json_answer(r.http, Status::ok, body);
             });
}

}  // namespace chargegrid::server::api
