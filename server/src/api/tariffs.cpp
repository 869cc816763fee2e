// A site's tariff: facility managers set their sites' (PUT replaces it whole, after every check
// of tariff::parse); whoever may read the site reads it.

#include "store/tariffs.hpp"

#include "api/context.hpp"
#include "store/outbox.hpp"
#include "tariff/tariff.hpp"

namespace chargegrid::server::api {

namespace {

// 422 naming the member by its JSON pointer: {"detail": "/import: tue 22:00-23:00 is not
// covered", "pointer": "/import"}.
ApiError refused(const tariff::TariffError& e) {
  auto error = unprocessable((e.path.empty() ? std::string("tariff") : e.path) + ": " + e.what());
  error.extra["pointer"] = e.path;
  return error;
}

}  // namespace

void add_tariff_routes(Router& router, ApiContext& api) {
  router.add(http::verb::get, "/api/v1/sites/{site_id}/tariff",
             {Role::Admin, Role::FacilityManager, Role::Utility}, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("site_id");
               require_site(r.principal, id);
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 auto stored = store::tariffs::find(tx, id);
                 if (!stored) throw not_found("site " + std::to_string(id) + " has no tariff");
                 return tariff::to_json(stored->tariff);
               });
               co_return json_answer(r.http, http::status::ok, body);
             });

  router.add(http::verb::put, "/api/v1/sites/{site_id}/tariff",
             {Role::Admin, Role::FacilityManager}, "Tariff",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("site_id");
               require_site(r.principal, id);
               tariff::Tariff parsed;
               try {
                 parsed = tariff::parse(r.body);
               } catch (const tariff::TariffError& e) {
                 throw refused(e);
               }
               co_await api.transaction([&](pqxx::work& tx) {
                 if (!store::tariffs::put(tx, id, parsed))
                   throw not_found("no site " + std::to_string(id));
                 // New prices: the smart-charging loop replans the site.
                 store::outbox::append(tx, store::outbox::kSiteChanged, {{"site_ids", {id}}});
                 return true;
               });
               co_return json_answer(r.http, http::status::ok, tariff::to_json(parsed));
             });
}

}  // namespace chargegrid::server::api
