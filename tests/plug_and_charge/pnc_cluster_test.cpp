// Plug & Charge in cluster mode: the driver and the eMAID token are made through one node's
// API, the station is connected to the other. Each node checks contracts against the MO roots
// and the real `openssl ocsp` responder, answers GetCertificateStatus and passes
// Get15118EVCertificate to the test CPS; the session shows its driver on the first node.

#include <catch2/catch.hpp>

#include "../cluster/cluster_harness.hpp"
#include "chargegrid/testing/database.hpp"
#include "pnc_fixture.hpp"
#include "station_messages.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::ClusterHarness;
using nlohmann::json;
namespace t = chargegrid::testing;

TEST_CASE("contracts authorize, OCSP and the CPS answer on the node holding the station",
          "[plug_and_charge][cluster]") {
  t::PncPki pki(t::unused_port());
  t::OcspResponder responder(pki);
  t::TestCps cps(pki);
  t::TestDatabase db;
  ClusterHarness cluster(db.url(), "pnc", 2,
                         {"--mo-roots-dir", pki.file("mo-roots"), "--cps-url", cps.url(),
                          "--cps-timeout-ms", "5000", "--ocsp-timeout-ms", "1500"});
  auto api = cluster.api(1);
  auto site = api.post("/sites", {{"name", "P&C depot"}});
  REQUIRE(site.status == 201);
  const auto site_id = site.data["id"].get<long>();
  auto driver = api.post("/drivers", {{"name", "Contract holder"}, {"site_id", site_id}});
  REQUIRE(driver.status == 201);
  const auto driver_id = driver.data["id"].get<long>();
  for (const auto* emaid : {"DEPNC0000000001", "DEPNC0000000003"})
    REQUIRE(api.post("/drivers/" + std::to_string(driver_id) + "/tokens",
                     {{"id_token", emaid}, {"type", "eMAID"}})
                .status == 201);
  REQUIRE(api.post("/stations", {{"id", "PNCC-1"}, {"site_id", site_id}}).status == 201);

  chargegrid::sim::OcppTestClient station;
  station.connect("127.0.0.1", cluster.node(2).ocpp_port(), "/ocpp/PNCC-1", {"ocpp2.0.1"});
  REQUIRE(t::is_result(station.call("BootNotification", t::boot_201())));
  REQUIRE(t::eventually(
      [&] { return cluster.lease("PNCC-1").held_by == ClusterHarness::node_id(2); }, 10s));

  const auto authorize = [&](const std::string& contract, const std::string& emaid) {
    auto answer = station.call(
        "Authorize",
        {{"idToken", {{"idToken", emaid}, {"type", "eMAID"}}},
         {"certificate", t::read_file(pki.file("contract-" + contract + "-chain.pem"))}});
    REQUIRE(t::is_result(answer));
    return std::make_pair(answer[2].value("certificateStatus", "-"),
                          answer[2]["idTokenInfo"].value("status", "-"));
  };
  using Pair = std::pair<std::string, std::string>;
  CHECK(authorize("good", "DEPNC0000000001") == Pair{"Accepted", "Accepted"});
  CHECK(authorize("revoked", "DEPNC0000000003") == Pair{"CertificateRevoked", "Blocked"});

  const auto ocsp_url = "http://127.0.0.1:" + std::to_string(pki.ocsp_port());
  auto status = station.call(
      "GetCertificateStatus",
      {{"ocspRequestData", pki.hash_data("contract-good.pem", "mo-sub2.pem", ocsp_url)}});
  REQUIRE(t::is_result(status));
  CHECK(status[2]["status"] == "Accepted");
  CHECK_FALSE(status[2].value("ocspResult", "").empty());

  auto ev = station.call("Get15118EVCertificate",
                         {{"iso15118SchemaVersion", "urn:iso:15118:2:2013:MsgDef"},
                          {"action", "Install"},
                          {"exiRequest", chargegrid::base::base64_encode(std::string("EXI"))}});
  REQUIRE(t::is_result(ev));
  CHECK(ev[2]["status"] == "Accepted");

  // The accepted contract's session, read through node 1, is the driver's.
  REQUIRE(t::is_result(station.call(
      "TransactionEvent", {{"eventType", "Started"},
                           {"timestamp", "2026-11-24T09:00:01Z"},
                           {"triggerReason", "Authorized"},
                           {"seqNo", 0},
                           {"transactionInfo", {{"transactionId", "PNCC-TX-1"}}},
                           {"evse", {{"id", 1}, {"connectorId", 1}}},
                           {"idToken", {{"idToken", "DEPNC0000000001"}, {"type", "eMAID"}}}})));
  json session;
  REQUIRE(t::eventually(
      [&] {
        auto r = api.get("/sessions?station_id=PNCC-1");
        if (r.status != 200 || r.data["items"].empty()) return false;
        session = r.data["items"][0];
        return true;
      },
      10s));
  CHECK(session["driver_id"] == driver_id);
  CHECK(session["id_token"] == "DEPNC0000000001");
}
