// Trust anchors on stations (docs/iso15118.md): install, list and remove a station's root
// certificates through the command router (install-certificate, get-installed-certificate-ids,
// delete-certificate in the station's OCPP version), and roll a root out to every station of
// a site with each station's outcome readable afterwards.

#include "api/context.hpp"
#include "api/station_calls.hpp"
#include "cluster/cluster.hpp"
#include "connections/station_connection.hpp"
#include "connections/station_registry.hpp"
#include "plug_and_charge/trust_anchors.hpp"

namespace chargegrid::server::api {

namespace pnc = plug_and_charge;

namespace {

pnc::RootCertificate read_root_or_422(const json& body) {
  try {
    return pnc::read_root(body.at("certificate_type").get<std::string>(),
                          body.at("certificate").get<std::string>());
  } catch (const pnc::InvalidRoot& e) {
    throw unprocessable(e.what());
  }
}

// The station's answer with a 1.6 DataTransfer unwrapped; 502 when it makes no sense.
pnc::StationAnswer station_answer(const json& answer) {
  try {
    return pnc::unwrap(answer.value("ocpp_action", std::string()), answer.at("response"));
  } catch (const std::runtime_error& e) {
    auto error = ApiError(Status::bad_gateway, "Station answered with an error", e.what());
    error.extra = {{"command_id", answer.at("command_id")}, {"response", answer.at("response")}};
    throw error;
  }
}

// The station's site (in the caller's scope, else 404) and its OCPP subprotocol.
struct StationInScope {
  std::optional<std::int64_t> site;
  std::string protocol;
};

awaitable<StationInScope> station_in_scope(ApiContext& api, const Principal& principal,
                                           const std::string& station_id) {
  auto out = co_await api.transaction([&](pqxx::work& tx) {
    StationInScope read;
    read.site = station_site_in_scope(tx, principal, station_id);
    auto rows =
        tx.exec_params("SELECT coalesce(protocol, '') FROM stations WHERE id = $1", station_id);
    if (!rows.empty()) read.protocol = rows[0][0].as<std::string>();
    return read;
  });
  // Connected here: its connection's protocol, which its row gets only once the connection's
  // batch commits.
  if (auto connection = api.services.stations.find(station_id))
    out.protocol = protocols::subprotocol(connection->version());
  co_return out;
}

awaitable<json> call(ApiContext& api, const Principal& principal, const std::string& station_id,
                     std::optional<std::int64_t> site, const std::string& name, json arguments) {
  commands::StationCommand command;
  command.station_id = station_id;
  command.name = name;
  command.arguments = std::move(arguments);
  command.site_id = site;
  co_return co_await run_command(api, principal, std::move(command));
}

const std::string kRolloutSelect = R"(
  SELECT r.id, r.site_id, r.certificate_type, r.certificate_id, r.subject, r.created_at,
         CASE WHEN bool_or(s.station_id IS NOT NULL AND s.outcome IS NULL) THEN 'running'
              ELSE 'completed' END AS state,
         CASE WHEN bool_or(s.station_id IS NOT NULL AND s.outcome IS NULL) THEN NULL
              ELSE coalesce(max(s.completed_at), r.created_at) END AS completed_at,
         count(s.station_id) AS station_count,
         count(*) FILTER (WHERE s.station_id IS NOT NULL AND s.outcome IS NULL) AS pending,
         count(*) FILTER (WHERE s.outcome = 'answered' AND s.status = 'Accepted') AS accepted,
         count(*) FILTER (WHERE s.outcome = 'answered' AND s.status IS DISTINCT FROM 'Accepted')
           AS refused,
         count(*) FILTER (WHERE s.outcome = 'offline') AS offline,
         count(*) FILTER (WHERE s.outcome NOT IN ('answered', 'offline')) AS failed,
         coalesce(json_agg(json_build_object(
             'station_id', s.station_id, 'outcome', coalesce(s.outcome, 'pending'),
             'status', s.status, 'detail', s.detail, 'command_id', s.command_id,
             'completed_at', s.completed_at) ORDER BY s.station_id)
           FILTER (WHERE s.station_id IS NOT NULL), '[]') AS stations
  FROM certificate_rollouts r
  LEFT JOIN certificate_rollout_stations s ON s.rollout_id = r.id)";

json rollout_json(pqxx::work& tx, std::int64_t site_id, std::int64_t rollout_id) {
  auto row = json_row(tx, kRolloutSelect + " WHERE r.site_id = $1 AND r.id = $2 GROUP BY r.id",
                      site_id, rollout_id);
  if (row.is_null())
    throw not_found("no rollout " + std::to_string(rollout_id) + " at site " +
                    std::to_string(site_id));
  return row;
}

}  // namespace

void add_certificate_routes(Router& router, ApiContext& api) {
  const std::vector<Role> operators{Role::Admin, Role::FacilityManager};

  router.add(http::verb::post, "/api/v1/stations/{station_id}/certificates", operators,
             "InstallCertificate", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto station_id = r.path_text("station_id");
               const auto station = co_await station_in_scope(api, r.principal, station_id);
               const auto root = read_root_or_422(r.body);
               json arguments{{"certificate_type", root.type}, {"certificate", root.pem}};
               auto answer = co_await call(api, r.principal, station_id, station.site,
                                           "install-certificate", std::move(arguments));
               const auto reply = station_answer(answer);
               if (reply.pnc_unsupported)
                 throw ApiError(Status::conflict, "Not available for this station",
                                "station " + station_id + " does not take " + root.type +
                                    " (no Plug & Charge DataTransfer: " + reply.status + ")");
               auto certificate = pnc::to_json({root.type, root.facts.hash});
               certificate["subject"] = root.facts.subject;
               certificate["not_after"] = root.facts.not_after;
               json body{{"command_id", answer["command_id"]},
                         {"station_id", station_id},
                         {"status", reply.status},
                         {"certificate", certificate},
                         {"response", reply.payload}};
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(
      http::verb::get, "/api/v1/stations/{station_id}/certificates", operators, "",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto station_id = r.path_text("station_id");
        std::vector<std::string> types;
        if (const auto type = r.query_text("certificate_type")) {
          const auto& known = pnc::trust_anchor_types();
          if (std::find(known.begin(), known.end(), *type) == known.end() &&
              *type != "V2GCertificateChain")
            throw bad_request("certificate_type: " + *type + " is not a certificate type");
          types.push_back(*type);
        }
        const auto station = co_await station_in_scope(api, r.principal, station_id);
        json items = json::array();
        json unsupported = json::array();
        json command_ids = json::array();
        for (const auto& group : pnc::listing_calls(station.protocol, types)) {
          json arguments = json::object();
          if (!group.empty()) arguments["certificate_types"] = group;
          auto answer = co_await call(api, r.principal, station_id, station.site,
                                      "get-installed-certificate-ids", arguments);
          command_ids.push_back(answer["command_id"]);
          const auto reply = station_answer(answer);
          if (reply.pnc_unsupported) {
            for (const auto& type : group) unsupported.push_back(type);
            continue;
          }
          for (const auto& installed :
               pnc::installed_in(reply.payload, group.size() == 1 ? group[0] : std::string()))
            items.push_back(pnc::to_json(installed));
        }
        json body{{"station_id", station_id}, {"items", items}, {"command_ids", command_ids}};
        if (!unsupported.empty()) body["not_supported"] = unsupported;
        co_return json_answer(r.http, Status::ok, body);
      });

  router.add(
      http::verb::delete_, "/api/v1/stations/{station_id}/certificates/{certificate_id}", operators,
      "", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto station_id = r.path_text("station_id");
        const auto& id = r.path_text("certificate_id");
        const auto station = co_await station_in_scope(api, r.principal, station_id);
        const auto certificate = pnc::parse_certificate_id(id);
        if (!certificate)
          throw bad_request("certificate_id: " + id +
                            " is not a certificate id (type.algorithm.issuerNameHash."
                            "issuerKeyHash.serialNumber, as GET .../certificates lists them)");
        json arguments{{"certificate_type", certificate->type},
                       {"hash_data", pnc::hash_json(certificate->hash)}};
        auto answer = co_await call(api, r.principal, station_id, station.site,
                                    "delete-certificate", std::move(arguments));
        const auto reply = station_answer(answer);
        if (reply.status == "NotFound") {
          auto error = not_found("station " + station_id + " holds no certificate " + id);
          error.extra = {{"command_id", answer["command_id"]}};
          throw error;
        }
        json body{{"command_id", answer["command_id"]},
                  {"station_id", station_id},
                  {"status", reply.status},
                  {"certificate", pnc::to_json(*certificate)},
                  {"response", reply.payload}};
        co_return json_answer(r.http, Status::ok, body);
      });

  router.add(http::verb::post, "/api/v1/sites/{site_id}/certificates/rollouts", operators,
             "InstallCertificate", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto site_id = r.path_id("site_id");
               require_site(r.principal, site_id);
               co_await api.transaction([&](pqxx::work& tx) {
                 if (tx.exec_params("SELECT 1 FROM sites WHERE id = $1", site_id).empty())
                   throw not_found("no site " + std::to_string(site_id));
                 return true;
               });
               const auto root = read_root_or_422(r.body);
               // Named, not temporaries in the co_await's arguments: g++ 12 destroys such a
               // temporary twice (a runner's node id on the heap: a double free, SIGABRT).
               const auto origin = commands::Origin::api_key(r.principal.key_id);
               const pnc::RolloutRunner runner{api.services.cluster.node_id(),
                                               api.services.cluster.incarnation()};
               const auto id = co_await pnc::start_rollout(
                   api.services.database, api.services.commands, site_id, root, origin, runner);
               auto body = co_await api.transaction(
                   [&](pqxx::work& tx) { return rollout_json(tx, site_id, id); });
               co_return json_answer(r.http, Status::accepted, body);
             });

  add_read_route(router, api, "/api/v1/sites/{site_id}/certificates/rollouts", operators,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto site_id = r.path_id("site_id");
                   require_site(r.principal, site_id);
                   const auto page = r.page();

                   return page_rows(tx, page, kRolloutSelect + R"(
                      WHERE r.site_id = $1 GROUP BY r.id ORDER BY r.id DESC LIMIT $2 OFFSET $3)",
                                    site_id);
                 });

  add_read_route(router, api, "/api/v1/sites/{site_id}/certificates/rollouts/{rollout_id}",
                 operators, [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto site_id = r.path_id("site_id");
                   const auto rollout_id = r.path_id("rollout_id");
                   require_site(r.principal, site_id);
                   return rollout_json(tx, site_id, rollout_id);
                 });
}

}  // namespace chargegrid::server::api
