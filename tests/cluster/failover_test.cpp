// kill -9 of a node while fleets of both OCPP versions charge through three nodes: its
// stations reconnect to the others, its leases end after the lease timeout, and every
// transaction message and meter reading a station was told is stored is in the database
// exactly once. Then a node killed and started again at once under the same id: it does not
// inherit the leases of the connections it lost.

#include <catch2/catch.hpp>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/fleet_options.hpp"
#include "chargegrid/testing/recording_proxy.hpp"
#include "chargegrid/testing/stored_once.hpp"
#include "cluster_harness.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::ClusterHarness;
using chargegrid::testing::eventually;
namespace sim = chargegrid::sim;
using Clock = std::chrono::steady_clock;

TEST_CASE("a node killed under load: its stations move, nothing is lost or stored twice",
          "[cluster][failover][fleet]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "failover", 3);
  chargegrid::testing::RecordingProxy proxy;
  proxy.set_upstream_ports(cluster.ocpp_ports());

  chargegrid::testing::BackgroundFleets fleets(180s);
  fleets.start_both_versions(proxy.url(), "FAIL", 15);
  REQUIRE(eventually([&] { return cluster.held("FAIL") == 30; }, 30s));
  std::this_thread::sleep_for(3s);  // sessions under way

  // kill -9 node 2 mid-session; the balancer stops sending it connections.
  const auto on_node2 = cluster.connections(2).size();
  CHECK(on_node2 > 0);
  const auto node2_port = cluster.node(2).ocpp_port();
  std::vector<std::uint16_t> survivors;
  for (auto port : cluster.ocpp_ports())
    if (port != node2_port) survivors.push_back(port);
  proxy.set_upstream_ports(survivors);
  cluster.node(2).kill_hard();
  const auto killed_at = Clock::now();

  // Its stations come back through nodes 1 and 3 and take their leases over.
  REQUIRE(eventually(
      [&] {
        for (const auto& [id, lease] : cluster.leases("FAIL"))
          if (lease.held_by == ClusterHarness::node_id(2)) return false;
        return true;
      },
      15s));
  // Its row ends once its heartbeat is older than the lease timeout.
  REQUIRE(eventually(
      [&] {
        auto nodes = cluster.api(1).get("/cluster");
        for (const auto& node : nodes.data["nodes"])
          if (node["id"] == ClusterHarness::node_id(2)) return false;
        return true;
      },
      15s));
  const auto expired_after = Clock::now() - killed_at;
  // Its last heartbeat was up to a fifth of the lease timeout before the kill.
  CHECK(expired_after >= std::chrono::milliseconds(ClusterHarness::kLeaseTimeoutS * 800));
  CHECK(cluster.metric(1, "chargegrid_cluster_nodes_expired_total") +
            cluster.metric(3, "chargegrid_cluster_nodes_expired_total") ==
        1);

  // Node 3 killed and at once started again under the same id, while no station can
  // reconnect: the leases of the connections the old process had are not the new one's.
  proxy.set_upstream_ports({});
  std::string restart_time;
  {
    pqxx::connection c(db.url());
    restart_time = pqxx::nontransaction(c).exec("SELECT now()::text")[0][0].as<std::string>();
  }
  cluster.node(3).kill_hard();
  cluster.restart(3);
  {
    pqxx::connection c(db.url());
    auto inherited = pqxx::nontransaction(c).exec_params(
        "SELECT count(*) FROM stations WHERE held_by = 'node-3' AND lease_acquired_at < "
        "$1::timestamptz",
        restart_time);
    CHECK(inherited[0][0].as<int>() == 0);
    auto offline = pqxx::nontransaction(c).exec(
        "SELECT count(*) FROM stations WHERE starts_with(id, 'FAIL') AND held_by IS NULL");
    CHECK(offline[0][0].as<int>() > 0);  // node 3's stations, waiting to reconnect
  }
  proxy.set_upstream_ports({cluster.node(1).ocpp_port(), cluster.node(3).ocpp_port()});

  const auto stats = fleets.wait();
  INFO(cluster.logs());
  INFO(stats.to_json().dump(1));
  CHECK(stats.stations == 30);
  CHECK(stats.stations_finished == 30);
  CHECK(stats.reconnects >= on_node2);

  const auto summary =
      chargegrid::testing::check_stored_exactly_once(proxy.exchanges(), db.url(), "FAIL", stats);
  CHECK(summary.transactions >= 30);
  // Once the fleets are done, no lease is left behind on a live or a dead node.
  std::string left;
  CHECK(eventually(
      [&] {
        left.clear();
        for (const auto& [id, lease] : cluster.leases("FAIL"))
          if (lease.held_by)
            left += id + "@" + *lease.held_by + "#" + std::to_string(lease.epoch) + " ";
        return left.empty();
      },
      10s));
  INFO(left << "; connections listed by node 1: " << cluster.connections(1).size()
            << ", node 3: " << cluster.connections(3).size()
            << "; proxy links open: " << proxy.open_links().size());
  CHECK(left.empty());
  WARN("kill -9 of one node of three: "
       << on_node2 << " stations moved, row expired after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(expired_after).count() << " ms; "
       << summary.transaction_calls << " transaction messages, " << summary.transactions
       << " transactions, " << summary.samples << " sampled values, each stored once");
}
