// Sites: a place with chargers behind one grid connection. Admins create and
// delete them; facility managers edit their own; utilities read theirs.

#include "store/sites.hpp"

#include "api/context.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server::api {

namespace {

const std::string kSiteColumns = R"(
  SELECT s.id, s.name, s.address,
         CASE WHEN s.latitude IS NULL THEN NULL
              ELSE json_build_object('latitude', s.latitude, 'longitude', s.longitude,
                                     'altitude_m', s.altitude_m) END AS location,
         s.time_zone, s.import_limit_w, s.export_limit_w,
         s.ven_name, s.power_service_location,
         (SELECT count(*) FROM stations st WHERE st.site_id = s.id) AS station_count,
         s.created_at, s.updated_at
  FROM sites s)";

void check_time_zone(pqxx::transaction_base& tx, const nlohmann::json& body) {
  auto zone = body.find("time_zone");
  if (zone == body.end()) return;
  auto known = tx.exec_params("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)",
                              zone->get<std::string>());
  if (!known[0][0].as<bool>())
    throw unprocessable("time_zone: '" + zone->get<std::string>() +
                        "' is not an IANA time zone name such as Europe/Oslo");
}

// An EAN-18 (GS1 GSRN, as grid connection points are numbered): 18 digits, the last the check
// digit of the 17 before it (weights 3 and 1 alternating from the right).
bool is_ean18(const std::string& text) {
  if (text.size() != 18) return false;
  int sum = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    if (i < 17) sum += (text[i] - '0') * (i % 2 == 0 ? 3 : 1);
  }
  return (10 - sum % 10) % 10 == text[17] - '0';
}

void check_power_service_location(const nlohmann::json& body) {
  auto location = body.find("power_service_location");
  if (location == body.end() || location->is_null()) return;
  if (!is_ean18(location->get<std::string>()))
    throw unprocessable("power_service_location: '" + location->get<std::string>() +
                        "' is not an EAN-18 (18 digits ending in a valid GS1 check digit)");
}

nlohmann::json site(pqxx::transaction_base& tx, std::int64_t id) {
  auto row = json_row(tx, kSiteColumns + " WHERE s.id = $1", id);
  if (row.is_null()) throw not_found("no site " + std::to_string(id));
  return row;
}

}  // namespace

void add_site_routes(Router& router, ApiContext& api) {
  const std::vector<Role> readers{Role::Admin, Role::FacilityManager, Role::Utility};

  router.add(http::verb::get, "/api/v1/sites", readers, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto page = r.page();
               const auto scope = r.principal.site_scope();
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 return page_rows(tx, page,
                                  kSiteColumns +
                                      " WHERE ($1::bigint[] IS NULL OR s.id = ANY($1))"
                                      " ORDER BY s.id LIMIT $2 OFFSET $3",
                                  scope);
               });
               co_return json_answer(r.http, http::status::ok, body);
             });

  router.add(http::verb::post, "/api/v1/sites", {Role::Admin}, "SiteCreate",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 check_time_zone(tx, r.body);
                 check_power_service_location(r.body);
                 return site(tx, store::sites::create(tx, r.body.dump()));
               });
               auto response = json_answer(r.http, http::status::created, body);
               response.set(http::field::location, "/api/v1/sites/" + body["id"].dump());
               co_return response;
             });

  router.add(http::verb::get, "/api/v1/sites/{site_id}", readers, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("site_id");
               require_site(r.principal, id);
               auto body = co_await api.transaction([&](pqxx::work& tx) { return site(tx, id); });
               co_return json_answer(r.http, http::status::ok, body);
             });

  router.add(http::verb::patch, "/api/v1/sites/{site_id}", {Role::Admin, Role::FacilityManager},
             "SitePatch", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("site_id");
               require_site(r.principal, id);
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 check_time_zone(tx, r.body);
                 check_power_service_location(r.body);
                 if (!store::sites::update(tx, id, r.body.dump()))
                   throw not_found("no site " + std::to_string(id));
                 // Its limits may have changed: the smart-charging loop replans it.
                 store::outbox::append(tx, store::outbox::kSiteChanged, {{"site_ids", {id}}});
                 return site(tx, id);
               });
               co_return json_answer(r.http, http::status::ok, body);
             });

  router.add(http::verb::delete_, "/api/v1/sites/{site_id}", {Role::Admin}, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("site_id");
               co_await api.transaction([&](pqxx::work& tx) {
                 auto stations =
                     tx.exec_params("SELECT count(*) FROM stations WHERE site_id = $1", id);
                 if (stations[0][0].as<long>() > 0)
                   throw conflict("site " + std::to_string(id) + " still has " +
                                  stations[0][0].as<std::string>() +
                                  " stations: move or delete them first");
                 if (!store::sites::remove(tx, id))
                   throw not_found("no site " + std::to_string(id));
                 return true;
               });
               co_return no_content(r.http);
             });
}

}  // namespace chargegrid::server::api
