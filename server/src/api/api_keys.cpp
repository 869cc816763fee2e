// API keys: admins create, list and revoke them; every key can ask who it is.

#include "store/api_keys.hpp"

#include "api/context.hpp"

namespace chargegrid::server::api {

namespace {

const std::string kKeyColumns = R"(
  SELECT k.id, k.name, k.role,
         (SELECT coalesce(json_agg(s.site_id ORDER BY s.site_id), '[]')
            FROM api_key_sites s WHERE s.api_key_id = k.id) AS site_ids,
         k.driver_id, k.created_at, k.last_used_at, k.revoked_at
  FROM api_keys k)";

}  // namespace

void add_api_key_routes(Router& router, ApiContext& api) {
  const std::vector<Role> everyone{Role::Admin, Role::FacilityManager, Role::Utility, Role::Driver};

  router.add(
      http::verb::get, "/api/v1/me", everyone, "", [](ApiRequest& r) -> awaitable<HttpResponse> {
        json body{
            {"key_id", r.principal.key_id},
            {"name", r.principal.key_name},
            {"role", role_name(r.principal.role)},
            {"site_ids", r.principal.sites},
            {"driver_id", r.principal.driver_id ? json(*r.principal.driver_id) : json(nullptr)}};
        co_return json_answer(r.http, Status::ok, body);
      });

  add_read_route(router, api, "/api/v1/api-keys", {Role::Admin},
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto page = r.page();
                   const auto revoked = r.query_bool("revoked");

                   return page_rows(tx, page, kKeyColumns + R"(
                   WHERE ($1::boolean IS NULL OR (k.revoked_at IS NOT NULL) = $1)
                   ORDER BY k.id LIMIT $2 OFFSET $3)",
                                    revoked);
                 });

  router.add(http::verb::post, "/api/v1/api-keys", {Role::Admin}, "ApiKeyCreate",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto role = role_from_name(r.body.at("role").get<std::string>()).value();
               const auto sites = r.body.value("site_ids", std::vector<std::int64_t>{});
               std::optional<std::int64_t> driver;
               if (r.body.contains("driver_id")) driver = r.body["driver_id"].get<std::int64_t>();
               const auto name = r.body.at("name").get<std::string>();
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 NewApiKey key{};
                 try {
                   key = create_api_key(tx, name, role, sites, driver);
                 } catch (const std::invalid_argument& e) {
                   throw unprocessable(e.what());
                 } catch (const pqxx::foreign_key_violation&) {
                   throw unprocessable(driver ? "driver_id: no driver " + std::to_string(*driver)
                                              : "site_ids: a site in the list does not exist");
                 }
                 auto row = json_row(tx, kKeyColumns + " WHERE k.id = $1", key.id);
                 // The only time the secret is shown.
                 row["secret"] = key.secret;
                 return row;
               });
               auto response = json_answer(r.http, Status::created, body);
               response.set(http::field::location, "/api/v1/api-keys/" + body["id"].dump());
               co_return response;
             });

  router.add(http::verb::delete_, "/api/v1/api-keys/{key_id}", {Role::Admin}, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("key_id");
               if (id == r.principal.key_id)
                 throw conflict("a key cannot revoke itself; use another admin key");
               co_await api.transaction([&](pqxx::work& tx) {
                 if (!store::api_keys::revoke(tx, id))
                   throw not_found("no API key " + std::to_string(id));
                 return true;
               });
               co_return no_content(r.http);
             });
}

}  // namespace chargegrid::server::api
