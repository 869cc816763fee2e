#include "api/context.hpp"

namespace chargegrid::server::api {

std::optional<std::int64_t> station_site_in_scope(pqxx::transaction_base& tx,
                                                  const Principal& principal,
                                                  const std::string& station_id) {
  auto rows = tx.exec_params("SELECT site_id FROM stations WHERE id = $1", station_id);
  std::optional<std::int64_t> site;
  if (!rows.empty() && !rows[0][0].is_null()) site = rows[0][0].as<std::int64_t>();
  // Outside the caller's sites looks the same as not there at all.
  if (rows.empty() || !principal.may_see_site(site))
    throw not_found("no station " + station_id + " in this key's sites");
  return site;
}

void require_site(const Principal& principal, std::int64_t site_id) {
  if (!principal.may_see_site(site_id))
    throw not_found("no site " + std::to_string(site_id) + " in this key's sites");
}

void add_read_route(Router& router, ApiContext& api, std::string pattern, std::vector<Role> roles,
                    ReadHandler read) {
  router.add(http::verb::get, std::move(pattern), std::move(roles), "",
             [&api, read = std::move(read)](ApiRequest& r) -> awaitable<HttpResponse> {
               auto body = co_await api.transaction([&](pqxx::work& tx) { return read(r, tx); });
               co_return json_answer(r.http, Status::ok, body);
             });
}

}  // namespace chargegrid::server::api
