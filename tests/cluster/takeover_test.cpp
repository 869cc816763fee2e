// A station is held by one node at a time. A reconnect to another node takes the lease over:
// the old node closes the old connection, the station stays online, and the old connection's
// late disconnect does not clear the new lease. Under many random reconnects between three
// nodes, every sample shows each station held by at most one node, and the lease names it.

#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/fleet_options.hpp"
#include "chargegrid/testing/recording_proxy.hpp"
#include "cluster_harness.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::ClusterHarness;
using chargegrid::testing::eventually;
using chargegrid::testing::json;
namespace sim = chargegrid::sim;
using Clock = std::chrono::steady_clock;

using chargegrid::testing::boot_station;

TEST_CASE("a reconnect to another node takes the lease over cleanly", "[cluster][lease]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "takeover", 2);
  const std::string id = "TAKE-1";

  auto first = boot_station(cluster.node(1).ocpp_port(), id);
  REQUIRE(eventually([&] { return cluster.lease(id).held_by == ClusterHarness::node_id(1); }, 5s));
  const auto first_epoch = cluster.lease(id).epoch;
  CHECK(cluster.connections(1).at(id) == first_epoch);

  // The station reconnects through node 2 while node 1 still has the old connection open.
  auto second = boot_station(cluster.node(2).ocpp_port(), id);
  const auto moved = cluster.lease(id);
  CHECK(moved.held_by == ClusterHarness::node_id(2));
  CHECK(moved.epoch > first_epoch);

  // Node 1 closes the old connection itself.
  const auto closed_by = Clock::now() + 5s;
  while (!first->closed() && Clock::now() < closed_by) first->receive(200ms);
  REQUIRE(first->closed());
  CHECK(first->close_code() == 1008);
  CHECK(first->close_reason() == "connected to another node");
  REQUIRE(eventually([&] { return cluster.connections(1).empty(); }, 5s));

  // The old connection's end did not clear the new lease: online on both nodes, held by 2.
  std::this_thread::sleep_for(1s);
  const auto after = cluster.lease(id);
  CHECK(after.held_by == ClusterHarness::node_id(2));
  CHECK(after.epoch == moved.epoch);
  CHECK(after.online);
  for (int node : {1, 2}) {
    auto station = cluster.api(node).get("/stations/" + id);
    REQUIRE(station.status == 200);
    CHECK(station.data["online"] == true);
  }
  CHECK(cluster.connections(2).at(id) == moved.epoch);
  CHECK(cluster.metric(1, "chargegrid_cluster_leases_lost_total") == 1);

  // A command through node 1 reaches the new connection, and its answer comes back.
  auto pending = std::async(std::launch::async, [&] {
    return cluster.api(1).post("/stations/" + id + "/commands/get-configuration",
                               {{"keys", {"HeartbeatInterval"}}});
  });
  auto call = second->receive(10s);
  REQUIRE(call);
  const auto frame = json::parse(*call);
  CHECK(frame[2] == "GetConfiguration");
  const json answer{
      {"configurationKey", {{{"key", "HeartbeatInterval"}, {"readonly", false}, {"value", "42"}}}}};
  second->send_text(json::array({3, frame[1], answer}).dump());
  REQUIRE(pending.wait_for(10s) == std::future_status::ready);
  auto r = pending.get();
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.data["response"] == answer);

  // And back to node 1: the same again the other way round.
  auto third = boot_station(cluster.node(1).ocpp_port(), id);
  const auto back = cluster.lease(id);
  CHECK(back.held_by == ClusterHarness::node_id(1));
  CHECK(back.epoch > moved.epoch);
  const auto second_closed_by = Clock::now() + 5s;
  while (!second->closed() && Clock::now() < second_closed_by) second->receive(200ms);
  CHECK(second->closed());
  std::this_thread::sleep_for(500ms);
  CHECK(cluster.lease(id).held_by == ClusterHarness::node_id(1));

  // A clean disconnect ends the lease.
  third->close();
  REQUIRE(eventually([&] { return !cluster.lease(id).held_by; }, 5s));
  CHECK_FALSE(cluster.lease(id).online);
}

TEST_CASE("no station is ever held by two nodes", "[cluster][lease][fleet]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "single-holder", 3);
  chargegrid::testing::RecordingProxy proxy;
  proxy.set_upstream_ports(cluster.ocpp_ports());
  std::map<std::uint16_t, int> node_of_port;
  for (int i = 1; i <= 3; ++i) node_of_port[cluster.node(i).ocpp_port()] = i;

  // 20 stations of each version with sessions running, reconnecting at random through the
  // proxy: every 300 ms three connections lose their station side while the node keeps its
  // own (as when a station's network drops), and the stations come back through any node.
  chargegrid::testing::BackgroundFleets fleets(120s);
  for (const auto version : {sim::OcppVersion::v16, sim::OcppVersion::v201}) {
    auto options = chargegrid::testing::fleet_options(proxy.url(), version, "ONE", 20);
    options.station.sessions = 1000;  // keep charging until stopped
    options.station.reconnect_min_s = 0.05;
    options.station.reconnect_max_s = 0.3;
    fleets.start(options);
  }
  REQUIRE(eventually([&] { return cluster.held("ONE") == 40; }, 30s));

  std::size_t samples = 0, stale_listings = 0;
  std::size_t double_listed = 0;  // a station listed by two nodes in one sample
  // (node, station, epoch) -> first seen stale (the lease has a higher epoch)
  std::map<std::tuple<int, std::string, std::int64_t>, Clock::time_point> stale_since;
  std::chrono::milliseconds longest_stale{0};
  // 15 s of churn, longer when a loaded machine made the sampling slow: at least 100 cut links.
  const auto churn_until = Clock::now() + 15s;
  const auto churn_limit = churn_until + 30s;
  auto next_cut = Clock::now();
  while (Clock::now() < churn_until ||
         (proxy.abandoned().size() < 100 && Clock::now() < churn_limit)) {
    if (Clock::now() >= next_cut) {
      proxy.abandon_links(3);
      next_cut = Clock::now() + 300ms;
    }
    // The database first, then the nodes: a node's listing can only be newer than the lease
    // read before it.
    const auto leases = cluster.leases("ONE");
    std::map<std::string, std::vector<std::pair<int, std::int64_t>>> listed;
    for (int node = 1; node <= 3; ++node)
      for (const auto& [station, epoch] : cluster.connections(node))
        if (epoch > 0) listed[station].push_back({node, epoch});
    const auto now = Clock::now();
    ++samples;
    for (const auto& [station, holders] : listed) {
      INFO("station " << station);
      const auto& lease = leases.at(station);
      std::set<std::int64_t> epochs;
      for (const auto& [node, epoch] : holders) {
        // Epochs are handed out once: no two nodes hold the same one.
        CHECK(epochs.insert(epoch).second);
        // A node holding the lease's current epoch is the node the lease names.
        if (epoch == lease.epoch) CHECK(lease.held_by == ClusterHarness::node_id(node));
        // A node never holds an epoch the lease has not reached... unless it took it over
        // after the lease was read.
        if (epoch < lease.epoch) {
          ++stale_listings;
          auto [it, fresh] = stale_since.try_emplace({node, station, epoch}, now);
          longest_stale =
              std::max(longest_stale,
                       std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second));
        }
      }
      if (holders.size() > 1) ++double_listed;
    }
  }
  // Every connection that lost its station side is closed by its node once the station is
  // back (through another node: the lease moved; through the same one: replaced).
  CHECK(eventually(
      [&] {
        for (const auto& link : proxy.abandoned())
          if (!link.closed_at) return false;
        return true;
      },
      10s));
  fleets.stop();
  const auto stats = fleets.wait();

  const auto abandoned = proxy.abandoned();
  std::size_t closed = 0;
  std::chrono::milliseconds slowest{0};
  for (const auto& link : abandoned)
    if (link.closed_at) {
      ++closed;
      slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      *link.closed_at - link.abandoned_at));
    }
  INFO(cluster.logs());
  CHECK(abandoned.size() >= 100);
  CHECK(closed == abandoned.size());
  // A connection a node still lists after another took the station over is gone soon.
  CHECK(longest_stale < 2000ms);
  CHECK(samples >= 20);
  CHECK(stats.call_errors_received == 0);

  // At rest: every station's lease is free again (the fleets disconnected) and no node lists
  // a connection.
  REQUIRE(eventually(
      [&] {
        for (int node = 1; node <= 3; ++node)
          if (!cluster.connections(node).empty()) return false;
        for (const auto& [id, lease] : cluster.leases("ONE"))
          if (lease.held_by || lease.online) return false;
        return true;
      },
      10s));
  WARN("no double holder: " << samples << " samples, " << abandoned.size()
                            << " connections cut, all closed by their node (slowest "
                            << slowest.count() << " ms); " << stale_listings
                            << " stale listings seen (longest " << longest_stale.count() << " ms), "
                            << double_listed << " samples listing a station twice, "
                            << stats.reconnects << " reconnects");
}
