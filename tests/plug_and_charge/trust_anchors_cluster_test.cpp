// Trust anchors in cluster mode: the API call reaches one node, the station is connected to
// the other; installs, listings, removals and a site rollout go through the command router's
// routing and come back with the station's answers.

#include <catch2/catch.hpp>
#include <future>
#include <set>

#include "../cluster/cluster_harness.hpp"
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

TEST_CASE("roots installed through one node on a station connected to another",
          "[plug_and_charge][trust_anchors][cluster]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "trust-anchors", 2, {"--call-timeout", "20"});
  auto api = cluster.api(1);
  auto site = api.post("/sites", {{"name", "Cluster depot"}});
  REQUIRE(site.status == 201);
  const auto site_id = site.data["id"].get<long>();
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
  const auto root = chargegrid::server::security::read_text_file(
      chargegrid::server::security::ensure_development_pki(folder.path()).ca_cert);
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
