// Cluster mode (docs/cluster.md): the nodes as the database knows them, and the station
// connections of the node that answers.

#include "cluster/cluster.hpp"

#include "api/context.hpp"
#include "connections/station_connection.hpp"
#include "store/cluster_nodes.hpp"

namespace chargegrid::server::api {

void add_cluster_routes(Router& router, ApiContext& api) {
  router.add(http::verb::get, "/api/v1/cluster", {Role::Admin}, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               auto& cluster = api.services.cluster;
               json body{{"cluster", cluster.enabled()},
                         {"node_id", cluster.enabled() ? json(cluster.node_id()) : json(nullptr)},
                         {"nodes", json::array()}};
               if (cluster.enabled())
                 body["nodes"] = co_await api.transaction(
                     [](pqxx::work& tx) { return store::cluster_nodes::list(tx); });
               co_return json_answer(r.http, Status::ok, body);
             });

  router.add(
      http::verb::get, "/api/v1/cluster/connections", {Role::Admin}, "",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        auto& cluster = api.services.cluster;
        json items = json::array();
        for (const auto& held : api.services.stations.held()) {
          auto connection = api.services.stations.find(held.station_id);
          if (!connection) continue;
          items.push_back({{"station_id", held.station_id},
                           {"protocol", std::string(protocols::subprotocol(connection->version()))},
                           {"lease_epoch", held.lease_epoch}});
        }
        json body{{"node_id", cluster.enabled() ? json(cluster.node_id()) : json(nullptr)},
                  {"items", std::move(items)}};
        co_return json_answer(r.http, Status::ok, body);
      });
}

}  // namespace chargegrid::server::api
