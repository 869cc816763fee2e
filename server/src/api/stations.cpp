// Stations: registration and approval (for the Pending boot policy), site,
// security profile and password, what the station reported at boot, its
// connection state, EVSEs with live status, status history and security events.

#include "store/stations.hpp"

#include "api/station_calls.hpp"
#include "cluster/cluster.hpp"
#include "cluster/messages.hpp"
#include "connections/station_connection.hpp"
#include "ocpp/common.hpp"
#include "security/password.hpp"
#include "store/cluster_nodes.hpp"

namespace chargegrid::server::api {

namespace {

const std::string kStationColumns = R"(
  SELECT st.id, st.name, st.site_id, st.registration, st.security_profile,
         st.password_hash IS NOT NULL AS has_password, st.password_set_at, st.protocol,
         st.connected_since IS NOT NULL AS online, st.connected_since AS online_since,
         (st.held_by IS NOT NULL AND
          EXISTS (SELECT 1 FROM cluster_live_nodes n WHERE n.id = st.held_by)) AS lease_live,
         st.last_seen_at,
         json_build_object('vendor', st.vendor, 'model', st.model,
                           'serial_number', st.serial_number,
                           'firmware_version', st.firmware_version, 'iccid', st.iccid,
                           'imsi', st.imsi, 'meter_type', st.meter_type,
                           'meter_serial_number', st.meter_serial_number,
                           'boot_reason', st.boot_reason, 'last_boot_at', st.last_boot_at)
           AS boot_info,
         (SELECT coalesce(json_agg(json_build_object(
                    'evse_id', cs.evse_id, 'connector_id', cs.connector_id, 'status', cs.status,
                    'error_code', cs.error_code, 'reported_at', cs.reported_at)
                  ORDER BY cs.evse_id, cs.connector_id), '[]')
            FROM connector_status cs WHERE cs.station_id = st.id) AS connectors,
         (SELECT coalesce(json_agg(json_build_object(
                    'id', a.id, 'driver_id', a.driver_id, 'evse_id', a.evse_id,
                    'source', a.source, 'session_id', a.transaction_id,
                    'started_at', a.started_at) ORDER BY a.id), '[]')
            FROM station_associations a
           WHERE a.station_id = st.id AND a.ended_at IS NULL) AS associations,
         st.registered_at
  FROM stations st)";

// `online` from this server's own connections (the database column can lag), and in
// cluster mode from the station's lease: held by a live node.
void mark_online(ApiContext& api, json& station) {
  const bool here = api.services.stations.find(station["id"].get<std::string>()) != nullptr;
  const bool leased = api.services.cluster.enabled() && station.value("lease_live", false);
  station.erase("lease_live");
  station["online"] = here || leased;
  if (!station["online"].get<bool>()) station["online_since"] = nullptr;
}

// After a station was created or changed: the event bus learns its site, `body` its
// connection state.
void station_changed(ApiContext& api, const std::string& id, json& body) {
  api.services.events.set_station_site(
      id, body["site_id"].is_null()
              ? std::nullopt
              : std::optional<std::int64_t>(body["site_id"].get<std::int64_t>()));
  mark_online(api, body);
}

json station(pqxx::transaction_base& tx, const std::string& id) {
  auto row = json_row(tx, kStationColumns + " WHERE st.id = $1", id);
  if (row.is_null()) throw not_found("no station " + id);
  return row;
}

void check_new_site(const Principal& principal, const json& body) {
  if (auto site = body.find("site_id"); site != body.end()) {
    if (site->is_null()) {
      if (!principal.admin()) throw forbidden("only admins can take a station out of its site");
    } else {
      require_site(principal, site->get<std::int64_t>());
    }
  } else if (!principal.admin()) {
    throw unprocessable("site_id: is required (one of this key's sites)");
  }
}

void require_password_accepted(const json& answer, const std::string& id) {
  const auto& response = answer["response"];
  const auto status = response.contains("setVariableResult")
                          ? response["setVariableResult"][0].value("attributeStatus", "")
                          : response.value("status", "");
  if (status == "Accepted") return;
  ApiError error(Status::conflict, "Station did not accept the password",
                 "station " + id + " answered " + status + "; the stored password is unchanged");
  error.extra = {{"command_id", answer["command_id"]}, {"station_response", response}};
  throw error;
}

// What a change of registration or security profile sets off, inside the change's
// transaction: in cluster mode the node holding the station applies it there.
void notify_station_holder(ApiContext& api, pqxx::transaction_base& tx, const std::string& id,
                           const std::optional<std::string>& registration, bool profile_changed) {
  if (!api.services.cluster.enabled()) return;
  const auto& self = api.services.cluster.node_id();
  if (registration)
    store::cluster_nodes::notify_holder(tx, id, cluster::messages::registration(id, *registration),
                                        self);
  if (profile_changed)
    store::cluster_nodes::notify_holder(
        tx, id, cluster::messages::close(id, "security profile changed"), self);
}

// ... and on this node, once it is committed.
void apply_station_change(ApiContext& api, const std::string& id,
                          const std::optional<std::string>& registration, bool profile_changed) {
  // An approved station that waits in Pending is asked to boot again now; a rejected
  // one is closed.
  if (registration) ocpp::apply_registration(api.services, id, *registration);
  // A new security profile applies from the next connection: end this one so the
  // station reconnects and is checked under it.
  if (profile_changed)
    if (auto connection = api.services.stations.find(id))
      connection->close(boost::beast::websocket::close_code::policy_error,
                        "security profile changed");
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  return field.is_null() ? std::nullopt : std::optional<std::string>(field.as<std::string>());
}

}  // namespace

void add_station_routes(Router& router, ApiContext& api) {
  const std::vector<Role> operators{Role::Admin, Role::FacilityManager};

  router.add(
      http::verb::get, "/api/v1/stations", operators, "",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto page = r.page();
        const auto scope = r.principal.site_scope();
        const auto site = r.query_int("site_id");
        const auto registration =
            r.query_choice("registration", {"pending", "accepted", "rejected"});
        const auto online = r.query_bool("online");
        const auto protocol = r.query_choice("protocol", {"ocpp1.6", "ocpp2.0.1", "ocpp2.1"});
        auto body = co_await api.transaction([&](pqxx::work& tx) {
          return page_rows(tx, page, kStationColumns + R"(
                   WHERE ($1::bigint[] IS NULL OR st.site_id = ANY($1))
                     AND ($2::bigint IS NULL OR st.site_id = $2)
                     AND ($3::text IS NULL OR st.registration = $3)
                     AND ($4::boolean IS NULL OR (st.connected_since IS NOT NULL) = $4)
                     AND ($5::text IS NULL OR st.protocol = $5)
                   ORDER BY st.id LIMIT $6 OFFSET $7)",
                           scope, site, registration, online, protocol);
        });
        for (auto& item : body["items"]) mark_online(api, item);
        co_return json_answer(r.http, Status::ok, body);
      });

  // Registers a station, or adopts one that connected before anyone registered it
  // (it has no site yet): 201 for a new station, 200 for an adopted one. Station ids
  // are global, so an id another site holds answers 409 "not available", the same
  // whichever site that is (README, docs/security.md).
  router.add(http::verb::post, "/api/v1/stations", operators, "StationCreate",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               check_new_site(r.principal, r.body);
               const auto id = r.body.at("id").get<std::string>();
               struct Registered {
                 json station;
                 bool adopted = false;
                 std::optional<std::string> registration;  // when adopting changed it
                 bool profile_changed = false;
               };
               auto registered = co_await api.transaction([&](pqxx::work& tx) {
                 auto existing = tx.exec_params(
                     "SELECT site_id, registration, security_profile FROM stations WHERE id = $1 "
                     "FOR NO KEY UPDATE",
                     id);
                 Registered result;
                 if (existing.empty()) {
                   store::stations::create(tx, id, r.body.dump());
                 } else if (!existing[0][0].is_null()) {
                   // Held by a site: the caller's own may hear that it exists, any other
                   // answers alike, revealing only that the id is taken.
                   if (!r.principal.may_see_site(existing[0][0].as<std::int64_t>()))
                     throw conflict("station id " + id + " is not available");
                   throw conflict("station " + id +
                                  " already exists: change it with PATCH /api/v1/stations/" + id);
                 } else {
                   const auto after = store::stations::adopt(tx, id, r.body.dump());
                   result.adopted = true;
                   if (after.registration != optional_text(existing[0][1]))
                     result.registration = after.registration;
                   result.profile_changed = after.security_profile != existing[0][2].as<int>();
                   notify_station_holder(api, tx, id, result.registration, result.profile_changed);
                 }
                 result.station = station(tx, id);
                 return result;
               });
               station_changed(api, id, registered.station);
               if (registered.adopted)
                 apply_station_change(api, id, registered.registration, registered.profile_changed);
               auto response = json_answer(
                   r.http, registered.adopted ? Status::ok : Status::created, registered.station);
               response.set(http::field::location, "/api/v1/stations/" + id);
               co_return response;
             });

  router.add(http::verb::get, "/api/v1/stations/{station_id}", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_text("station_id");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 station_site_in_scope(tx, r.principal, id);
                 return station(tx, id);
               });
               mark_online(api, body);
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(http::verb::patch, "/api/v1/stations/{station_id}", operators, "StationPatch",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_text("station_id");
               if (r.body.contains("site_id")) check_new_site(r.principal, r.body);
               const auto registration =
                   r.body.contains("registration")
                       ? std::optional<std::string>(r.body["registration"].get<std::string>())
                       : std::nullopt;
               const bool profile_changed = r.body.contains("security_profile");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 station_site_in_scope(tx, r.principal, id);
                 store::stations::update(tx, id, r.body.dump());
                 notify_station_holder(api, tx, id, registration, profile_changed);
                 return station(tx, id);
               });
               station_changed(api, id, body);
               apply_station_change(api, id, registration, profile_changed);
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(
      http::verb::delete_, "/api/v1/stations/{station_id}", operators, "",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto id = r.path_text("station_id");
        co_await api.transaction([&](pqxx::work& tx) {
          station_site_in_scope(tx, r.principal, id);
          auto sessions =
              tx.exec_params("SELECT count(*) FROM transactions WHERE station_id = $1", id);
          if (sessions[0][0].as<long>() > 0)
            throw conflict("station " + id + " has " + sessions[0][0].as<std::string>() +
                           " sessions on record; set its registration to rejected to "
                           "retire it instead");
          if (api.services.cluster.enabled())
            store::cluster_nodes::notify_holder(tx, id,
                                                cluster::messages::close(id, "station deleted"),
                                                api.services.cluster.node_id());
          store::stations::remove(tx, id);
          return true;
        });
        if (auto connection = api.services.stations.find(id))
          connection->close(boost::beast::websocket::close_code::policy_error, "station deleted");
        co_return no_content(r.http);
      });

  // Sets the station's Basic-auth password (profiles 1 and 2). With
  // "send_to_station" (default: when it is online) the password is first sent to
  // the station (1.6 AuthorizationKey / 2.0.1 SecurityCtrlr.BasicAuthPassword) and
  // stored only if the station accepts it: a rotation that cannot lock it out.
  router.add(
      http::verb::post, "/api/v1/stations/{station_id}/password", operators, "StationPassword",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto id = r.path_text("station_id");
        std::string password;
        bool generated = false;
        if (r.body.contains("password")) {
          password = r.body["password"].get<std::string>();
          if (!security::is_valid_station_password(password))
            throw unprocessable(
                "password: must be 16 to 40 characters of a-z A-Z 0-9 * - _ = : + | @ .");
        } else {
          password = security::generate_station_password();
          generated = true;
        }
        auto reserved = co_await reserve_command(api, r.principal, id);
        bool send = false;
        if (auto it = r.body.find("send_to_station"); it != r.body.end())
          send = it->get<bool>();
        else
          send = co_await api.services.commands.online(id);
        if (send) {
          commands::StationCommand command;
          command.station_id = id;
          command.name = "set-password";
          command.arguments = {{"password", password}};
          command.audited = {{"password", "(not logged)"}};
          command.site_id = reserved.site;
          auto answer =
              co_await run_command(api, r.principal, std::move(command), reserved.command_id);
          require_password_accepted(answer, id);
        }
        // Hashing is deliberately slow: it runs on a database thread, not an I/O one.
        auto set_at = co_await api.transaction([&](pqxx::work& tx) {
          return store::stations::set_password_hash(tx, id,
                                                    security::hash_station_password(password));
        });
        json body{{"station_id", id}, {"password_set_at", set_at}, {"sent_to_station", send}};
        // Shown once: only its hash is kept.
        if (generated) body["password"] = password;
        if (send) body["command_id"] = reserved.command_id;
        co_return json_answer(r.http, Status::ok, body);
      });

  router.add(http::verb::get, "/api/v1/stations/{station_id}/evses", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_text("station_id");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 station_site_in_scope(tx, r.principal, id);
                 return json_rows(tx, R"(
                   SELECT e.evse_id,
                          (SELECT json_agg(json_build_object(
                                     'connector_id', cs.connector_id, 'status', cs.status,
                                     'error_code', cs.error_code, 'info', cs.info,
                                     'reported_at', cs.reported_at) ORDER BY cs.connector_id)
                             FROM connector_status cs
                            WHERE cs.station_id = $1 AND cs.evse_id = e.evse_id) AS connectors,
                          (SELECT t.id FROM transactions t
                            WHERE t.station_id = $1 AND t.evse_id = e.evse_id
                              AND t.state = 'active' ORDER BY t.id DESC LIMIT 1) AS active_session_id,
                          (SELECT a.driver_id FROM station_associations a
                            WHERE a.station_id = $1 AND a.evse_id = e.evse_id
                              AND a.ended_at IS NULL ORDER BY a.id DESC LIMIT 1) AS driver_id
                   FROM (SELECT DISTINCT evse_id FROM connector_status WHERE station_id = $1
                         UNION SELECT DISTINCT evse_id FROM transactions
                                WHERE station_id = $1 AND evse_id IS NOT NULL) e
                   ORDER BY e.evse_id)",
                                  id);
               });
               co_return json_answer(r.http, Status::ok, json{{"items", body}});
             });

  add_read_route(router, api, "/api/v1/stations/{station_id}/status-history", operators,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto id = r.path_text("station_id");
                   const auto page = r.page();
                   const auto evse = r.query_int("evse_id");
                   const auto status = r.query_text("status");
                   const auto from = r.query_time("from");
                   const auto to = r.query_time("to");

                   station_site_in_scope(tx, r.principal, id);
                   return page_rows(tx, page, R"(
                   SELECT id, evse_id, connector_id, status, error_code, info, reported_at,
                          received_at
                   FROM status_history
                   WHERE station_id = $1 AND ($2::int IS NULL OR evse_id = $2)
                     AND ($3::text IS NULL OR status = $3)
                     AND ($4::timestamptz IS NULL OR reported_at >= $4)
                     AND ($5::timestamptz IS NULL OR reported_at < $5)
                   ORDER BY reported_at DESC, id DESC LIMIT $6 OFFSET $7)",
                                    id, evse, status, from, to);
                 });

  add_read_route(router, api, "/api/v1/stations/{station_id}/security-events", operators,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto id = r.path_text("station_id");
                   const auto page = r.page();
                   const auto type = r.query_text("type");
                   const auto from = r.query_time("from");
                   const auto to = r.query_time("to");

                   station_site_in_scope(tx, r.principal, id);
                   return page_rows(tx, page, R"(
                   SELECT id, event_type AS type, occurred_at, tech_info, received_at
                   FROM security_events
                   WHERE station_id = $1 AND ($2::text IS NULL OR event_type = $2)
                     AND ($3::timestamptz IS NULL OR occurred_at >= $3)
                     AND ($4::timestamptz IS NULL OR occurred_at < $4)
                   ORDER BY occurred_at DESC, id DESC LIMIT $5 OFFSET $6)",
                                    id, type, from, to);
                 });
}

}  // namespace chargegrid::server::api
