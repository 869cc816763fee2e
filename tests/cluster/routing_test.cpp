// Commands across nodes: a REST command sent to one node for a station connected to another
// gets the station's real answer; an offline station 409; the holding node killed while the
// command waits, or the database going away, a clean error in bounded time; malformed and
// unknown notifications are logged and ignored. And nodes sharing one OCPP port.

#include <catch2/catch.hpp>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/event_stream.hpp"
#include "chargegrid/testing/fleet_options.hpp"
#include "chargegrid/testing/private_postgres.hpp"
#include "cluster_harness.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::boot_station;
using chargegrid::testing::ClusterHarness;
using chargegrid::testing::eventually;
using chargegrid::testing::json;
namespace sim = chargegrid::sim;
using Clock = std::chrono::steady_clock;

namespace {

// Simulated stations of one version that only boot and heartbeat (they answer commands).
struct IdleFleet {
  IdleFleet(std::uint16_t port, sim::OcppVersion version, const std::string& prefix, int n)
      : fleet(options(port, version, prefix, n)),
        run(std::async(std::launch::async, [this] { return fleet.run(120s); })) {}
  ~IdleFleet() {
    fleet.stop();
    run.wait();
  }
  static sim::FleetOptions options(std::uint16_t port, sim::OcppVersion version,
                                   const std::string& prefix, int n) {
    auto o = chargegrid::testing::fleet_options("ws://127.0.0.1:" + std::to_string(port) + "/ocpp",
                                                version, prefix, n);
    o.station.sessions = 0;
    return o;
  }
  sim::Fleet fleet;
  std::future<sim::Stats> run;
};

bool online_at(ClusterHarness& cluster, int node, const std::string& station) {
  auto r = cluster.api(node).get("/stations/" + station);
  return r.status == 200 && r.data.value("online", false);
}

// TriggerMessage(Heartbeat) to `station`, sent through node 1's API.
chargegrid::testing::HttpResult trigger_heartbeat(ClusterHarness& cluster,
                                                  const std::string& station) {
  return cluster.api(1).post("/stations/" + station + "/commands/trigger-message",
                             {{"message", "Heartbeat"}});
}

// A station that answers nothing, booted at node 2 and online as node 1 sees it.
std::unique_ptr<sim::OcppTestClient> quiet_station(ClusterHarness& cluster, const std::string& id) {
  auto station = boot_station(cluster.node(2).ocpp_port(), id);
  REQUIRE(eventually([&] { return online_at(cluster, 1, id); }, 10s));
  return station;
}

}  // namespace

TEST_CASE("a command sent to one node reaches the station on another", "[cluster][routing]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "routing", 2, {"--call-timeout", "20"});
  // Both versions, connected to node 2 only.
  IdleFleet v16(cluster.node(2).ocpp_port(), sim::OcppVersion::v16, "ROUTE", 1);
  IdleFleet v201(cluster.node(2).ocpp_port(), sim::OcppVersion::v201, "ROUTE", 1);
  const std::string s16 = "ROUTE16-0001", s201 = "ROUTE201-0001";
  // Online, as node 1 sees it: from the lease node 2 holds.
  REQUIRE(
      eventually([&] { return online_at(cluster, 1, s16) && online_at(cluster, 1, s201); }, 20s));
  CHECK(cluster.lease(s16).held_by == ClusterHarness::node_id(2));
  CHECK(cluster.connections(1).empty());

  SECTION("the station's answers come back through the node that was asked") {
    for (const auto& station : {s16, s201}) {
      INFO(station);
      auto trigger = trigger_heartbeat(cluster, station);
      REQUIRE(trigger.status == 200);
      CHECK(trigger.data["status"] == "Accepted");
      const auto command_id = trigger.data["command_id"].get<std::int64_t>();
      auto logged = cluster.api(1).get("/commands/" + std::to_string(command_id));
      CHECK(logged.data["outcome"] == "answered");
      CHECK(logged.data["routed_from"] == "node-1");
      CHECK(logged.data["routed_to"] == "node-2");

      // The station starts charging for real: the session shows on every node.
      auto start = cluster.api(1).post("/stations/" + station + "/commands/remote-start",
                                       {{"id_token", "ROUTED-TAG"}, {"evse_id", 1}});
      REQUIRE(start.status == 200);
      CHECK(start.data["status"] == "Accepted");
      REQUIRE(eventually(
          [&] {
            auto sessions = cluster.api(1).get("/sessions?station_id=" + station);
            return sessions.status == 200 && !sessions.data["items"].empty();
          },
          20s));

      // A CALLERROR from the station is a 502 on the asking node (GetConfiguration is 1.6,
      // GetVariables 2.0.1: the one the station does not speak is refused before sending).
      auto reset = cluster.api(1).post("/stations/" + station + "/commands/reset",
                                       {{"type", station == s16 ? "Soft" : "OnIdle"}});
      CHECK(reset.status == 200);
    }
    CHECK(cluster.metric(
              1, "chargegrid_cluster_commands_total{direction=\"out\",outcome=\"answered\"}") >= 6);
    CHECK(cluster.metric(
              2, "chargegrid_cluster_commands_total{direction=\"in\",outcome=\"answered\"}") >= 6);
  }

  SECTION("an offline station is a 409") {
    REQUIRE(cluster.api(1).post("/stations", {{"id", "ROUTE-OFF"}}).status == 201);
    auto r = trigger_heartbeat(cluster, "ROUTE-OFF");
    CHECK(r.status == 409);
  }

  SECTION("the holding node killed while the command waits: a clean error, no hang") {
    auto quiet = quiet_station(cluster, "ROUTE-QUIET");
    const auto started = Clock::now();
    auto pending =
        std::async(std::launch::async, [&] { return trigger_heartbeat(cluster, "ROUTE-QUIET"); });
    // The CALL reaches the station through node 2; nobody answers it.
    auto call = quiet->receive(10s);
    REQUIRE(call);
    CHECK(json::parse(*call)[2] == "TriggerMessage");
    cluster.node(2).kill_hard();
    REQUIRE(pending.wait_for(15s) == std::future_status::ready);
    auto r = pending.get();
    const auto waited = Clock::now() - started;
    INFO(r.body);
    CHECK(r.status == 409);
    CHECK(r.detail().find("stopped") != std::string::npos);
    // Ended once the holder's heartbeat was older than the lease timeout, well before the
    // call timeout (20 s).
    CHECK(waited < 12s);
    auto logged =
        cluster.api(1).get("/commands/" + std::to_string(r.data["command_id"].get<int>()));
    CHECK(logged.data["outcome"] == "lost");
    // The dead node's lease ends: the station is offline at once, and the lease is cleared
    // when node 1 expires node 2.
    REQUIRE(eventually([&] { return !online_at(cluster, 1, "ROUTE-QUIET"); }, 10s));
    CHECK(eventually([&] { return !cluster.lease("ROUTE-QUIET").held_by; }, 5s));
  }

  SECTION("malformed and unknown notifications are logged and ignored") {
    {
      pqxx::connection c(db.url());
      pqxx::nontransaction tx(c);
      for (const std::string payload :
           {"not json", "[1,2]", "{\"op\":\"teleport\"}", "{\"op\":\"command\"}",
            "{\"op\":\"command\",\"id\":\"seven\"}", "{\"op\":\"command\",\"id\":987654321}",
            "{\"op\":\"release\",\"station\":\"ROUTE16-0001\"}", "{\"op\":\"result\",\"id\":5}"})
        tx.exec_params("SELECT pg_notify('chargegrid:node-2', $1)", payload);
    }
    REQUIRE(eventually(
        [&] { return cluster.metric(2, "chargegrid_cluster_notifications_ignored_total") >= 7; },
        10s));
    CHECK(cluster.node(2).log_text(20000).find("cluster_notification_ignored") !=
          std::string::npos);
    // Node 2 goes on serving: its station still answers commands routed to it.
    auto r = trigger_heartbeat(cluster, s16);
    CHECK(r.status == 200);
    CHECK(online_at(cluster, 1, s16));
  }
}

TEST_CASE("the database going away with routed commands in flight answers 503 or 504",
          "[cluster][routing][outage]") {
  chargegrid::testing::PrivatePostgres postgres("cg-cluster-outage-pg");
  ClusterHarness cluster(postgres.url(), "outage", 2, {"--call-timeout", "4"});
  auto quiet = quiet_station(cluster, "OUT-QUIET");

  const auto started = Clock::now();
  auto pending =
      std::async(std::launch::async, [&] { return trigger_heartbeat(cluster, "OUT-QUIET"); });
  REQUIRE(quiet->receive(10s));  // the CALL arrived: the command is in flight
  postgres.stop();
  REQUIRE(pending.wait_for(20s) == std::future_status::ready);
  auto r = pending.get();
  INFO(r.body);
  CHECK((r.status == 503 || r.status == 504));
  CHECK(Clock::now() - started < 12s);
  // While the database is away a new command cannot even be logged: 503 at once.
  auto refused = trigger_heartbeat(cluster, "OUT-QUIET");
  CHECK(refused.status == 503);

  // Away for longer than the lease timeout: when it is back, no node declares another dead
  // (each first heartbeats for a full lease timeout), the leases stay and routing works.
  std::this_thread::sleep_for(std::chrono::seconds(ClusterHarness::kLeaseTimeoutS + 2));
  postgres.start();
  REQUIRE(eventually(
      [&] {
        return cluster.metric(1, "chargegrid_cluster_listener_reconnects_total") >= 1 &&
               cluster.metric(2, "chargegrid_cluster_listener_reconnects_total") >= 1;
      },
      20s));
  std::this_thread::sleep_for(std::chrono::seconds(ClusterHarness::kLeaseTimeoutS + 1));
  auto nodes = cluster.api(1).get("/cluster");
  REQUIRE(nodes.status == 200);
  REQUIRE(nodes.data["nodes"].size() == 2);
  for (const auto& node : nodes.data["nodes"]) CHECK(node["live"] == true);
  CHECK(cluster.lease("OUT-QUIET").held_by == ClusterHarness::node_id(2));
  auto again =
      std::async(std::launch::async, [&] { return trigger_heartbeat(cluster, "OUT-QUIET"); });
  auto call = quiet->receive(10s);
  REQUIRE(call);
  const auto frame = json::parse(*call);
  quiet->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  REQUIRE(again.wait_for(15s) == std::future_status::ready);
  auto answered = again.get();
  CHECK(answered.status == 200);
  CHECK(answered.data["status"] == "Accepted");
  cluster.node(1).stop();
  cluster.node(2).stop();
}

TEST_CASE("nodes share one OCPP port", "[cluster][reuseport]") {
  chargegrid::testing::TestDatabase db;
  const auto port = chargegrid::testing::free_port();
  ClusterHarness cluster(db.url(), "shared", 2, {}, port);
  CHECK(cluster.node(1).ocpp_port() == port);
  CHECK(cluster.node(2).ocpp_port() == port);
  IdleFleet fleet(port, sim::OcppVersion::v16, "SHARE", 40);
  REQUIRE(eventually([&] { return cluster.held("SHARE") == 40; }, 30s));
  // The kernel spread the connections over both nodes; each station on exactly one.
  const auto on1 = cluster.connections(1);
  const auto on2 = cluster.connections(2);
  CHECK(on1.size() + on2.size() == 40);
  CHECK(!on1.empty());
  CHECK(!on2.empty());
  for (const auto& [id, lease] : cluster.leases("SHARE")) {
    const int holder = on1.count(id) ? 1 : 2;
    CHECK(lease.held_by == ClusterHarness::node_id(holder));
  }
}

TEST_CASE("live events of every node reach a stream on any node", "[cluster][events]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "events", 2);
  chargegrid::testing::EventStream stream(cluster.node(1).http_port(), cluster.admin_key(),
                                          "?types=station.online,connector.status");
  REQUIRE(stream.head().find("200") != std::string::npos);
  // The station connects to node 2 only; the stream is on node 1.
  auto station = boot_station(cluster.node(2).ocpp_port(), "EVENTS-ELSEWHERE");
  auto online = stream.next("station.online", 10s);
  REQUIRE(online);
  CHECK((*online)["station_id"] == "EVENTS-ELSEWHERE");
  auto status =
      station->call("StatusNotification",
                    {{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Preparing"}});
  REQUIRE(status[0] == 3);
  auto change = stream.next("connector.status", 10s);
  REQUIRE(change);
  CHECK((*change)["data"]["status"] == "Preparing");
}

TEST_CASE("a node relays its live events only while another node streams them",
          "[cluster][events]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "relay", 2);
  const std::string relayed = "chargegrid_cluster_events_relayed_total";
  const std::string unwanted = "chargegrid_cluster_events_unwanted_total";
  // No stream anywhere: node 2 keeps its events to itself.
  auto quiet = boot_station(cluster.node(2).ocpp_port(), "RELAY-UNWATCHED");
  REQUIRE(eventually([&] { return cluster.metric(2, unwanted) > 0; }, 10s));
  CHECK(cluster.metric(2, relayed) == 0);

  // A stream on node 1: node 2's next events reach it.
  chargegrid::testing::EventStream stream(cluster.node(1).http_port(), cluster.admin_key(),
                                          "?types=station.online");
  REQUIRE(stream.head().find("200") != std::string::npos);
  auto watched = boot_station(cluster.node(2).ocpp_port(), "RELAY-WATCHED");
  auto online = stream.next("station.online", 10s);
  REQUIRE(online);
  CHECK((*online)["station_id"] == "RELAY-WATCHED");
  CHECK(cluster.metric(2, relayed) > 0);
  // The node that streams says so in its row, ahead of now, for the others to read.
  auto c = db.connect();
  pqxx::read_transaction tx(c);
  CHECK(tx.exec1("SELECT events_wanted_until > now() + interval '4 minutes' FROM cluster_nodes "
                 "WHERE id = 'node-1'")[0]
            .as<bool>());
  CHECK(tx.exec1("SELECT events_wanted_until IS NULL FROM cluster_nodes WHERE id = 'node-2'")[0]
            .as<bool>());
  tx.commit();

  // While the stream stays open, node 1's heartbeats keep its time ahead.
  {
    pqxx::work lapse(c);
    lapse.exec(
        "UPDATE cluster_nodes SET events_wanted_until = now() - interval '1 second' "
        "WHERE id = 'node-1'");
    lapse.commit();
  }
  CHECK(eventually(
      [&] {
        pqxx::read_transaction read(c);
        return read
            .exec1(
                "SELECT events_wanted_until > now() + interval '4 minutes' FROM "
                "cluster_nodes WHERE id = 'node-1'")[0]
            .as<bool>();
      },
      15s));
}
