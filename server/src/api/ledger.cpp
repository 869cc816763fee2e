// The ledger adapters' state (docs/settlement.md): the verifiable log, its newest checkpoint
// and anchors, and for each adapter what waits, since when, and the last error.

#include "api/context.hpp"
#include "ledger_adapters/status.hpp"

namespace chargegrid::server::api {

void add_ledger_routes(Router& router, ApiContext& api) {
  router.add(http::verb::get, "/api/v1/ledger/adapters", {Role::Admin, Role::FacilityManager}, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto& config = api.services.config;
               auto body = co_await api.transaction(
                   [&config](pqxx::work& tx) { return ledger_adapters::status_json(tx, config); });
               co_return json_answer(r.http, Status::ok, body);
             });
}

}  // namespace chargegrid::server::api
