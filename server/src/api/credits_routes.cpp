// Credits: the authority's credits imported (CSV or JSON) and allocated to station owners by
// verified energy, the owners' balances, and who owns a station.

#include "api/credits_routes.hpp"

#include "credits/imports.hpp"
#include "store/credits.hpp"

namespace chargegrid::server::api {

namespace {

// " <the caller may see allocation a>" with $1 = site scope.
const std::string kAllocationScope = " ($1::bigint[] IS NULL OR a.site_id = ANY($1))";

json import_view(pqxx::transaction_base& tx, const Principal& principal, std::int64_t id) {
  auto row = json_row(tx,
                      R"(
      SELECT i.id, i.format, i.row_count, i.created_at,
             (SELECT coalesce(json_agg(json_build_object(
                         'row', a.row_number, 'period', a.period, 'station_id', a.station_id,
                         'site_id', a.site_id, 'owner', a.owner, 'currency', a.currency,
                         'verified_energy_wh', a.verified_energy_wh,
                         'amount_minor', a.amount_minor) ORDER BY a.row_number, a.id), '[]')
              FROM credit_allocations a WHERE a.import_id = i.id AND)" +
                          kAllocationScope + R"() AS allocations
      FROM credit_imports i WHERE i.id = $2)",
                      principal.site_scope(), id);
  if (row.is_null() || (!principal.admin() && row["allocations"].empty()))
    throw not_found("no credit import " + std::to_string(id) + " visible to this key");
  return row;
}

}  // namespace

void add_credit_routes(Router& router, ApiContext& api) {
  const std::vector<Role> operators{Role::Admin, Role::FacilityManager};

  router.add(http::verb::post, "/api/v1/credits/imports", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto type = std::string(r.http[http::field::content_type]);
               const auto media = type.substr(0, type.find(';'));
               credits::ImportFormat format;
               if (media == "text/csv")
                 format = credits::ImportFormat::kCsv;
               else if (media.empty() || media == "application/json")
                 format = credits::ImportFormat::kJson;
               else
                 throw ApiError(Status::unsupported_media_type, "Unsupported media type",
                                "send the credits as text/csv or application/json, not " + type);
               if (r.http.body().size() > credits::kMaxImportBytes)
                 throw ApiError(Status::payload_too_large, "Too large",
                                "an import is at most " + std::to_string(credits::kMaxImportBytes) +
                                    " bytes; split the file");
               const auto& principal = r.principal;
               const std::string& body = r.http.body();
               std::pair<credits::ImportOutcome, json> done;
               try {
                 done = co_await api.transaction([&](pqxx::work& tx) {
                   const auto outcome = credits::import_credits(
                       tx, body, format,
                       [&principal](std::optional<std::int64_t> site) {
                         return principal.admin() || (site && principal.may_see_site(site));
                       },
                       principal.key_id);
                   return std::pair{outcome, import_view(tx, principal, outcome.import_id)};
                 });
               } catch (const credits::ImportError& e) {
                 ApiError error = unprocessable(e.what());
                 if (e.row()) error.extra["row"] = e.row();
                 throw error;
               }
               auto& [outcome, view] = done;
               view["created"] = outcome.created;
               co_return json_answer(r.http, outcome.created ? Status::created : Status::ok, view);
             });

  add_read_route(router, api, "/api/v1/credits/imports/{import_id}", operators,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   return import_view(tx, r.principal, r.path_id("import_id"));
                 });

  router.add(http::verb::get, "/api/v1/credits/balances", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto owner = r.query_text("owner");
               const auto site = r.query_int("site_id");
               if (site) require_site(r.principal, *site);
               auto rows = co_await api.transaction([&](pqxx::work& tx) {
                 return json_rows(tx,
                                  R"(
                     SELECT a.owner, a.currency, sum(a.amount_minor)::bigint AS balance_minor,
                            sum(a.verified_energy_wh)::bigint AS verified_energy_wh,
                            count(*) AS allocations, max(i.created_at) AS last_import_at
                     FROM credit_allocations a JOIN credit_imports i ON i.id = a.import_id
                     WHERE)" + kAllocationScope +
                                      R"(
                       AND ($2::text IS NULL OR a.owner = $2)
                       AND ($3::bigint IS NULL OR a.site_id = $3)
                     GROUP BY a.owner, a.currency ORDER BY a.owner, a.currency)",
                                  r.principal.site_scope(), owner, site);
               });
               co_return json_answer(r.http, Status::ok, json{{"items", std::move(rows)}});
             });

  add_read_route(router, api, "/api/v1/drivers/{driver_id}/balance",
                 {Role::Admin, Role::FacilityManager, Role::Driver},
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto id = r.path_id("driver_id");

                   // Scoped like drivers: a facility manager's sites, a driver's own record. A
                   // removed driver's balance stays readable by an admin.
                   auto rows = tx.exec_params("SELECT site_id FROM drivers WHERE id = $1", id);
                   std::optional<std::int64_t> site;
                   if (!rows.empty() && !rows[0][0].is_null()) site = rows[0][0].as<std::int64_t>();
                   bool visible = r.principal.role == Role::Driver
                                      ? r.principal.driver_id == id
                                      : !rows.empty() && r.principal.may_see_site(site);
                   if (!visible && r.principal.admin())
                     visible = !tx.exec_params(
                                      "SELECT 1 FROM driver_balance_entries WHERE driver_id = $1 "
                                      "LIMIT 1",
                                      id)
                                    .empty();
                   if (!visible)
                     throw not_found("no driver " + std::to_string(id) + " visible to this key");
                   return json{{"driver_id", id},
                               {"balances", json_rows(tx, R"(
                  SELECT currency, balance_minor, updated_at FROM driver_balances
                  WHERE driver_id = $1 ORDER BY currency)",
                                                      id)},
                               {"entries", json_rows(tx, R"(
                  SELECT id, currency, kind, amount_minor, balance_after_minor, settlement_id,
                         session_id, created_at
                  FROM driver_balance_entries WHERE driver_id = $1 ORDER BY id DESC LIMIT 100)",
                                                     id)}};
                 });

  router.add(
      http::verb::put, "/api/v1/stations/{station_id}/owner", operators, "StationOwnerPut",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto& station = r.path_text("station_id");
        const auto owner = r.body.at("owner").get<std::string>();
        co_await api.transaction([&](pqxx::work& tx) {
          station_site_in_scope(tx, r.principal, station);
          store::credits::set_owner(tx, station, owner);
          return 0;
        });
        co_return json_answer(r.http, Status::ok, json{{"station_id", station}, {"owner", owner}});
      });
}

}  // namespace chargegrid::server::api
