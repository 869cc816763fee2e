// Drivers and their tokens (RFID cards, app tokens, ISO 15118 eMAIDs). A
// driver's home site decides which facility managers see them; a driver key
// sees only its own driver.

#include "store/drivers.hpp"

#include "api/context.hpp"

namespace chargegrid::server::api {

namespace {

const std::string kTokenColumns = R"(
  SELECT k.id_token, k.token_type AS type, k.status, k.status = 'Blocked' AS blocked,
         k.valid_from, k.valid_until, k.parent_id_tag, k.driver_id, k.created_at
  FROM id_tokens k)";

const std::string kDriverColumns = R"(
  SELECT d.id, d.name, d.email, d.site_id, d.created_at, d.updated_at,
         (SELECT coalesce(json_agg(t ORDER BY t.created_at), '[]')
            FROM ()" + kTokenColumns +
                                   R"( WHERE k.driver_id = d.id) t) AS tokens
  FROM drivers d)";

// Throws not_found unless the caller may see driver `id`; returns its site.
std::optional<std::int64_t> driver_in_scope(pqxx::transaction_base& tx, const Principal& principal,
                                            std::int64_t id) {
  auto rows = tx.exec_params("SELECT site_id FROM drivers WHERE id = $1", id);
  std::optional<std::int64_t> site;
  if (!rows.empty() && !rows[0][0].is_null()) site = rows[0][0].as<std::int64_t>();
  const bool visible =
      !rows.empty() &&
      (principal.role == Role::Driver ? principal.driver_id == id : principal.may_see_site(site));
  if (!visible) throw not_found("no driver " + std::to_string(id) + " visible to this key");
  return site;
}

json driver(pqxx::transaction_base& tx, std::int64_t id) {
  return json_row(tx, kDriverColumns + " WHERE d.id = $1", id);
}

// The token, after checking the caller may see its driver (tokens without a
// driver are for admins only).
json token_in_scope(pqxx::transaction_base& tx, const Principal& principal,
                    const std::string& id_token) {
  auto row = json_row(tx, kTokenColumns + " WHERE k.id_token = $1", id_token);
  if (row.is_null()) throw not_found("no token " + id_token);
  if (row["driver_id"].is_null()) {
    if (!principal.admin()) throw not_found("no token " + id_token);
  } else {
    try {
      driver_in_scope(tx, principal, row["driver_id"].get<std::int64_t>());
    } catch (const ApiError&) {
      throw not_found("no token " + id_token);
    }
  }
  return row;
}

void check_driver_site(const Principal& principal, const json& body, bool required) {
  auto site = body.find("site_id");
  if (site == body.end() || site->is_null()) {
    if (required && !principal.admin())
      throw unprocessable("site_id: is required (one of this key's sites)");
    if (site != body.end() && !principal.admin())
      throw forbidden("only admins can take a driver out of their site");
    return;
  }
  require_site(principal, site->get<std::int64_t>());
}

}  // namespace

void add_driver_routes(Router& router, ApiContext& api) {
  const std::vector<Role> operators{Role::Admin, Role::FacilityManager};
  const std::vector<Role> readers{Role::Admin, Role::FacilityManager, Role::Driver};

  add_read_route(router, api, "/api/v1/drivers", readers,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto page = r.page();
                   const auto scope = r.principal.site_scope();
                   const auto self = r.principal.driver_scope();
                   const auto site = r.query_int("site_id");
                   const auto search = r.query_text("q");
                   return page_rows(tx, page, kDriverColumns + R"(
                   WHERE ($1::bigint[] IS NULL OR d.site_id = ANY($1) OR d.id = $2)
                     AND ($2::bigint IS NULL OR d.id = $2)
                     AND ($3::bigint IS NULL OR d.site_id = $3)
                     AND ($4::text IS NULL OR d.name ILIKE '%' || $4 || '%'
                          OR d.email ILIKE '%' || $4 || '%')
                   ORDER BY d.id LIMIT $5 OFFSET $6)",
                                    scope, self, site, search);
                 });

  router.add(http::verb::post, "/api/v1/drivers", operators, "DriverCreate",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               check_driver_site(r.principal, r.body, true);
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 return driver(tx, store::drivers::create(tx, r.body.dump()));
               });
               auto response = json_answer(r.http, Status::created, body);
               response.set(http::field::location, "/api/v1/drivers/" + body["id"].dump());
               co_return response;
             });

  add_read_route(router, api, "/api/v1/drivers/{driver_id}", readers,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   const auto id = r.path_id("driver_id");

                   driver_in_scope(tx, r.principal, id);
                   return driver(tx, id);
                 });

  router.add(http::verb::patch, "/api/v1/drivers/{driver_id}", operators, "DriverPatch",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("driver_id");
               if (r.body.contains("site_id")) check_driver_site(r.principal, r.body, false);
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 driver_in_scope(tx, r.principal, id);
                 store::drivers::update(tx, id, r.body.dump());
                 return driver(tx, id);
               });
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(http::verb::delete_, "/api/v1/drivers/{driver_id}", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("driver_id");
               co_await api.transaction([&](pqxx::work& tx) {
                 driver_in_scope(tx, r.principal, id);
                 store::drivers::remove(tx, id);
                 return true;
               });
               co_return no_content(r.http);
             });

  router.add(http::verb::get, "/api/v1/drivers/{driver_id}/tokens", readers, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("driver_id");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 driver_in_scope(tx, r.principal, id);
                 return json_rows(
                     tx, kTokenColumns + " WHERE k.driver_id = $1 ORDER BY k.created_at", id);
               });
               co_return json_answer(r.http, Status::ok, json{{"items", body}});
             });

  // Tokens are global: one held by a driver outside the caller's sites (or by no
  // driver, for a facility manager) answers 409 "not available", the same whoever
  // holds it. An admin may enrol a token that has no driver for one (200).
  router.add(
      http::verb::post, "/api/v1/drivers/{driver_id}/tokens", operators, "TokenCreate",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto id = r.path_id("driver_id");
        const auto token = r.body.at("id_token").get<std::string>();
        struct Enrolled {
          json token;
          bool adopted = false;
        };
        auto enrolled = co_await api.transaction([&](pqxx::work& tx) {
          driver_in_scope(tx, r.principal, id);
          auto existing = tx.exec_params(
              "SELECT driver_id FROM id_tokens WHERE id_token = $1 FOR NO KEY UPDATE", token);
          Enrolled result;
          if (existing.empty()) {
            store::drivers::enrol_token(tx, id, r.body.dump());
          } else if (existing[0][0].is_null()) {
            if (!r.principal.admin()) throw conflict("token " + token + " is not available");
            store::drivers::adopt_token(tx, token, id, r.body.dump());
            result.adopted = true;
          } else {
            bool visible = true;
            try {
              driver_in_scope(tx, r.principal, existing[0][0].as<std::int64_t>());
            } catch (const ApiError&) {
              visible = false;
            }
            if (!visible) throw conflict("token " + token + " is not available");
            throw conflict("token " + token + " is already enrolled");
          }
          result.token = json_row(tx, kTokenColumns + " WHERE k.id_token = $1", token);
          return result;
        });
        auto response =
            json_answer(r.http, enrolled.adopted ? Status::ok : Status::created, enrolled.token);
        response.set(http::field::location, "/api/v1/tokens/" + token);
        co_return response;
      });

  add_read_route(router, api, "/api/v1/tokens/{id_token}", readers,
                 [](ApiRequest& r, pqxx::work& tx) -> json {
                   return token_in_scope(tx, r.principal, r.path_text("id_token"));
                 });

  router.add(http::verb::patch, "/api/v1/tokens/{id_token}", operators, "TokenPatch",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto token = r.path_text("id_token");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 token_in_scope(tx, r.principal, token);
                 store::drivers::update_token(tx, token, r.body.dump());
                 return token_in_scope(tx, r.principal, token);
               });
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(http::verb::delete_, "/api/v1/tokens/{id_token}", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto token = r.path_text("id_token");
               co_await api.transaction([&](pqxx::work& tx) {
                 token_in_scope(tx, r.principal, token);
                 store::drivers::remove_token(tx, token);
                 return true;
               });
               co_return no_content(r.http);
             });
}

}  // namespace chargegrid::server::api
