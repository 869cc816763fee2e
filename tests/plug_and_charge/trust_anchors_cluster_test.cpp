// Trust anchors in cluster mode: the API call reaches one node, the station is connected to
// the other; installs, listings, removals and a site rollout go through the command router's
// routing and come back with the station's answers. A rollout whose node dies before its
// stations answered is finished by the node that is left, and (outside cluster mode) by the
// server when it starts again.

#include <catch2/catch.hpp>
#include <future>
#include <pqxx/pqxx>
#include <set>

#include "../cluster/cluster_harness.hpp"
#include "api/auth.hpp"
#include "chargegrid/base/certificate_hash.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/fleet_options.hpp"
#include "chargegrid/testing/temp_folder.hpp"
#include "security/pki.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::ClusterHarness;
using chargegrid::testing::eventually;
using chargegrid::testing::json;
namespace sim = chargegrid::sim;

namespace {

// A site made through `api`; its id.
long new_site(chargegrid::testing::ApiClient& api, const std::string& name) {
  auto site = api.post("/sites", {{"name", name}});
  REQUIRE(site.status == 201);
  return site.data["id"].get<long>();
}

// A root certificate (the development CA's) to install.
std::string a_root(const chargegrid::testing::TempFolder& folder) {
  return chargegrid::server::security::read_text_file(
      chargegrid::server::security::ensure_development_pki(folder.path()).ca_cert);
}

}  // namespace

TEST_CASE("roots installed through one node on a station connected to another",
          "[plug_and_charge][trust_anchors][cluster]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "trust-anchors", 2, {"--call-timeout", "20"});
  auto api = cluster.api(1);
  const auto site_id = new_site(api, "Cluster depot");
  // Two stations of the site on node 2, one registered and offline.
  auto options = chargegrid::testing::fleet_options(
      "ws://127.0.0.1:" + std::to_string(cluster.node(2).ocpp_port()) + "/ocpp",
      sim::OcppVersion::v201, "TAC", 2);
  options.station.sessions = 0;
  const auto a = sim::station_id(options, 1), b = sim::station_id(options, 2);
  for (const auto& id : {a, b, std::string("TAC-OFFLINE")})
    REQUIRE(api.post("/stations", {{"id", id}, {"site_id", site_id}}).status == 201);
  sim::Fleet fleet(options);
  auto run = std::async(std::launch::async, [&] { return fleet.run(120s); });
  REQUIRE(eventually(
      [&] {
        for (const auto& id : {a, b}) {
          auto r = api.get("/stations/" + id);
          if (r.status != 200 || !r.data.value("online", false)) return false;
        }
        return true;
      },
      20s));
  REQUIRE(cluster.lease(a).held_by == ClusterHarness::node_id(2));

  chargegrid::testing::TempFolder folder;
  const auto root = a_root(folder);
  const auto hash = chargegrid::base::certificate_hash_data(root);
  const auto id = "MORootCertificate." + hash.hash_algorithm + "." + hash.issuer_name_hash + "." +
                  hash.issuer_key_hash + "." + hash.serial_number;

  auto installed = api.post("/stations/" + a + "/certificates",
                            {{"certificate_type", "MORootCertificate"}, {"certificate", root}});
  REQUIRE(installed.status == 200);
  CHECK(installed.data["status"] == "Accepted");
  auto logged = api.get("/commands/" + std::to_string(installed.data["command_id"].get<long>()));
  CHECK(logged.data["routed_to"] == "node-2");
  auto listed = api.get("/stations/" + a + "/certificates");
  REQUIRE(listed.status == 200);
  REQUIRE(listed.data["items"].size() == 1);
  CHECK(listed.data["items"][0]["id"] == id);
  CHECK(api.del("/stations/" + a + "/certificates/" + id).status == 200);
  CHECK(api.get("/stations/" + a + "/certificates").data["items"].empty());

  // A rollout started on node 1, read on node 2.
  auto started = api.post("/sites/" + std::to_string(site_id) + "/certificates/rollouts",
                          {{"certificate_type", "MORootCertificate"}, {"certificate", root}});
  REQUIRE(started.status == 202);
  const auto path = "/sites/" + std::to_string(site_id) + "/certificates/rollouts/" +
                    std::to_string(started.data["id"].get<long>());
  json done;
  REQUIRE(eventually(
      [&] {
        done = cluster.api(2).get(path).data;
        return done["state"] == "completed";
      },
      20s));
  CHECK(done["accepted"] == 2);
  CHECK(done["offline"] == 1);
  CHECK(api.get("/stations/" + b + "/certificates").data["items"].size() == 1);
  fleet.stop();
  run.wait();
}

namespace {

// The next CALL of `action` the bare `station` receives within `limit` (others are dropped).
std::optional<json> next_call(chargegrid::sim::OcppTestClient& station, const std::string& action,
                              std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto text = station.receive(200ms);
    if (!text) continue;
    auto frame = json::parse(*text, nullptr, false);
    if (frame.is_array() && frame.size() == 4 && frame[0] == 2 && frame[2] == action) return frame;
  }
  return std::nullopt;
}

void answer(chargegrid::sim::OcppTestClient& station, const json& call, const json& payload) {
  station.send_text(json::array({3, call[1], payload}).dump());
}

}  // namespace

TEST_CASE("a rollout whose node stopped is finished by another node",
          "[plug_and_charge][trust_anchors][cluster]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "rollout-resume", 2, {"--call-timeout", "20"});
  auto api = cluster.api(1);
  const auto site_id = new_site(api, "Interrupted depot");
  REQUIRE(api.post("/stations", {{"id", "TAR-HELD"}, {"site_id", site_id}}).status == 201);
  // A bare 1.6 station on node 2 that answers only when the test says so.
  auto station = chargegrid::testing::boot_station(cluster.node(2).ocpp_port(), "TAR-HELD");
  REQUIRE(eventually(
      [&] { return cluster.lease("TAR-HELD").held_by == ClusterHarness::node_id(2); }, 10s));

  chargegrid::testing::TempFolder folder;
  const auto root = a_root(folder);
  auto started = api.post("/sites/" + std::to_string(site_id) + "/certificates/rollouts",
                          {{"certificate_type", "CSMSRootCertificate"}, {"certificate", root}});
  REQUIRE(started.status == 202);
  const auto path = "/sites/" + std::to_string(site_id) + "/certificates/rollouts/" +
                    std::to_string(started.data["id"].get<long>());

  // The install reaches the station through node 2; node 1, which runs the rollout and waits
  // for the answer, dies before it comes. The late answer has nobody to record it.
  auto first = next_call(*station, "InstallCertificate", 10s);
  REQUIRE(first);
  CHECK((*first)[3]["certificateType"] == "CentralSystemRootCertificate");
  cluster.node(1).kill_hard();
  answer(*station, *first, {{"status", "Accepted"}});
  CHECK(cluster.api(2).get(path).data["state"] == "running");

  // Node 2 takes the rollout over once node 1 counts as dead and asks the station again.
  auto second = next_call(*station, "InstallCertificate", 30s);
  REQUIRE(second);
  CHECK((*second)[3]["certificate"] == (*first)[3]["certificate"]);
  answer(*station, *second, {{"status", "Accepted"}});
  json done;
  REQUIRE(eventually(
      [&] {
        done = cluster.api(2).get(path).data;
        return done["state"] == "completed";
      },
      10s));
  CHECK(done["accepted"] == 1);
  CHECK(done["stations"][0]["outcome"] == "answered");
  // Finished: it is not sent a third time.
  CHECK_FALSE(next_call(*station, "InstallCertificate", 2 * ClusterHarness::kLeaseTimeoutS * 1s));
}

TEST_CASE("a rollout left pending by a server killed is finished when it starts again",
          "[plug_and_charge][trust_anchors][rollout]") {
  chargegrid::testing::TestDatabase db;
  std::string key;
  {
    auto c = db.connect();
    pqxx::work tx(c);
    key = chargegrid::server::api::create_api_key(
              tx, "restart", chargegrid::server::api::Role::Admin, {}, std::nullopt)
              .secret;
    tx.commit();
  }
  chargegrid::testing::TempFolder dir;
  // One process, not cluster mode; the restarted one looks for what it left after 2 s.
  auto flags = chargegrid::testing::daemon_test_flags();
  flags.insert(flags.end(), {"--lease-timeout", "2", "--call-timeout", "20", "--ocpp-port", "0",
                             "--http-port", "0"});
  auto first = std::make_unique<chargegrid::testing::Daemon>(CHARGEGRIDD, db.url(), dir.path(),
                                                             "first", flags);
  chargegrid::testing::ApiClient api(first->http_port(), key);
  const auto site_id = new_site(api, "Restarted depot");
  REQUIRE(api.post("/stations", {{"id", "TAR-RESTART"}, {"site_id", site_id}}).status == 201);
  auto station = chargegrid::testing::boot_station(first->ocpp_port(), "TAR-RESTART");

  chargegrid::testing::TempFolder folder;
  const auto root = a_root(folder);
  auto started = api.post("/sites/" + std::to_string(site_id) + "/certificates/rollouts",
                          {{"certificate_type", "CSMSRootCertificate"}, {"certificate", root}});
  REQUIRE(started.status == 202);
  const auto path = "/sites/" + std::to_string(site_id) + "/certificates/rollouts/" +
                    std::to_string(started.data["id"].get<long>());
  // The server dies while the station holds the install unanswered.
  auto sent = next_call(*station, "InstallCertificate", 10s);
  REQUIRE(sent);
  first->kill_hard();
  station.reset();

  chargegrid::testing::Daemon second(CHARGEGRIDD, db.url(), dir.path(), "second", flags);
  chargegrid::testing::ApiClient api2(second.http_port(), key);
  CHECK(api2.get(path).data["state"] == "running");
  auto back = chargegrid::testing::boot_station(second.ocpp_port(), "TAR-RESTART");
  auto again = next_call(*back, "InstallCertificate", 15s);
  REQUIRE(again);
  CHECK((*again)[3]["certificate"] == (*sent)[3]["certificate"]);
  answer(*back, *again, {{"status", "Accepted"}});
  json done;
  REQUIRE(eventually(
      [&] {
        done = api2.get(path).data;
        return done["state"] == "completed";
      },
      10s));
  CHECK(done["accepted"] == 1);
  CHECK(done["stations"][0]["outcome"] == "answered");
  CHECK(done["stations"][0]["status"] == "Accepted");
  // It looks once: nothing is sent again.
  CHECK_FALSE(next_call(*back, "InstallCertificate", 5s));
}
