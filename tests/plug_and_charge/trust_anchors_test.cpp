// Trust anchors on stations through the REST API, against the real server, PostgreSQL and
// simulated stations: roots installed, listed and removed on 1.6 (security extension and the
// Plug & Charge DataTransfer), 2.0.1 and 2.1; a rollout to a site of 100 stations, some
// offline; and input the API refuses before anything reaches a station.

#include <set>

#include "../api/api_fixture.hpp"
#include "chargegrid/base/certificate_hash.hpp"
#include "chargegrid/testing/temp_folder.hpp"
#include "security/pki.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::OcppVersion;
using nlohmann::json;
namespace security = chargegrid::server::security;

namespace {

// A fresh root certificate (and a leaf it signed), each call another key and serial.
struct TestRoot {
  TestRoot() {
    const auto pki = security::ensure_development_pki(folder.path());
    pem = security::read_text_file(pki.ca_cert);
    leaf_pem = security::read_text_file(pki.server_cert);
  }
  // The id the API gives the certificate once installed as `type`.
  std::string id(const std::string& type) const {
    const auto h = chargegrid::base::certificate_hash_data(pem);
    return type + "." + h.hash_algorithm + "." + h.issuer_name_hash + "." + h.issuer_key_hash +
           "." + h.serial_number;
  }
  TempFolder folder;
  std::string pem;
  std::string leaf_pem;
};

json install_body(const std::string& type, const std::string& pem) {
  return {{"certificate_type", type}, {"certificate", pem}};
}

// The ids of the certificates the station lists (optionally of one type).
std::set<std::string> installed(ApiClient& api, const std::string& station,
                                const std::string& type = "") {
  auto r = api.get("/stations/" + station + "/certificates" +
                   (type.empty() ? "" : "?certificate_type=" + type));
  REQUIRE(r.status == 200);
  std::set<std::string> ids;
  for (const auto& item : r.data["items"]) ids.insert(item["id"].get<std::string>());
  return ids;
}

// How many commands the audit log holds for the station.
std::size_t commands_of(ApiClient& api, const std::string& station) {
  return api.get("/commands?station_id=" + station).data["items"].size();
}

}  // namespace

TEST_CASE("roots are installed, listed and removed on 1.6, 2.0.1 and 2.1 stations",
          "[plug_and_charge][trust_anchors]") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = f.make_site("Depot");
  TestRoot v2g, mo, csms, manufacturer, oem;

  SECTION(
      "1.6: CSMS and manufacturer roots by the security extension, V2G and MO roots by the "
      "Plug & Charge DataTransfer") {
    auto stations = f.registered_station(OcppVersion::v16, "TA16", site);
    const auto id = stations->id();
    CHECK(installed(admin, id).empty());
    for (auto [root, type] :
         {std::pair{&v2g, "V2GRootCertificate"}, std::pair{&mo, "MORootCertificate"},
          std::pair{&csms, "CSMSRootCertificate"},
          std::pair{&manufacturer, "ManufacturerRootCertificate"}}) {
      auto r = admin.post("/stations/" + id + "/certificates", install_body(type, root->pem));
      REQUIRE(r.status == 200);
      CHECK(r.data["status"] == "Accepted");
      CHECK(r.data["certificate"]["id"] == root->id(type));
    }
    // The calls as the station's version has them: V2G and MO roots by DataTransfer.
    for (const auto& entry : admin.get("/commands?station_id=" + id).data["items"]) {
      if (entry["command"] != "install-certificate") continue;
      const auto type = entry["request"]["certificate_type"].get<std::string>();
      INFO(type);
      CHECK(entry["ocpp_action"] == (type == "V2GRootCertificate" || type == "MORootCertificate"
                                         ? "DataTransfer"
                                         : "InstallCertificate"));
    }
    CHECK(installed(admin, id) ==
          std::set<std::string>{v2g.id("V2GRootCertificate"), mo.id("MORootCertificate"),
                                csms.id("CSMSRootCertificate"),
                                manufacturer.id("ManufacturerRootCertificate")});
    CHECK(installed(admin, id, "ManufacturerRootCertificate") ==
          std::set<std::string>{manufacturer.id("ManufacturerRootCertificate")});
    CHECK(installed(admin, id, "V2GRootCertificate") ==
          std::set<std::string>{v2g.id("V2GRootCertificate")});

    auto removed = admin.del("/stations/" + id + "/certificates/" + v2g.id("V2GRootCertificate"));
    REQUIRE(removed.status == 200);
    CHECK(removed.data["status"] == "Accepted");
    CHECK(admin.del("/stations/" + id + "/certificates/" + csms.id("CSMSRootCertificate")).status ==
          200);
    CHECK(installed(admin, id) ==
          std::set<std::string>{mo.id("MORootCertificate"),
                                manufacturer.id("ManufacturerRootCertificate")});
    // Gone is gone: the station says NotFound.
    CHECK(admin.del("/stations/" + id + "/certificates/" + v2g.id("V2GRootCertificate")).status ==
          404);
    // 1.6 has no OEM roots.
    CHECK(
        admin.post("/stations/" + id + "/certificates", install_body("OEMRootCertificate", oem.pem))
            .status == 409);
  }

  for (const auto version : {OcppVersion::v201, OcppVersion::v21}) {
    const bool v21 = version == OcppVersion::v21;
    DYNAMIC_SECTION((v21 ? "2.1" : "2.0.1") << ": InstallCertificate, GetInstalledCertificateIds, "
                                               "DeleteCertificate") {
      auto stations = f.registered_station(version, v21 ? "TA21" : "TA201", site);
      const auto id = stations->id();
      for (auto [root, type] :
           {std::pair{&v2g, "V2GRootCertificate"}, std::pair{&mo, "MORootCertificate"},
            std::pair{&csms, "CSMSRootCertificate"}}) {
        auto r = admin.post("/stations/" + id + "/certificates", install_body(type, root->pem));
        REQUIRE(r.status == 200);
        CHECK(r.data["status"] == "Accepted");
      }
      auto oem_install = admin.post("/stations/" + id + "/certificates",
                                    install_body("OEMRootCertificate", oem.pem));
      CHECK(oem_install.status == (v21 ? 200 : 409));
      std::set<std::string> expected{v2g.id("V2GRootCertificate"), mo.id("MORootCertificate"),
                                     csms.id("CSMSRootCertificate")};
      if (v21) expected.insert(oem.id("OEMRootCertificate"));
      CHECK(installed(admin, id) == expected);
      CHECK(installed(admin, id, "MORootCertificate") ==
            std::set<std::string>{mo.id("MORootCertificate")});
      CHECK(admin.del("/stations/" + id + "/certificates/" + mo.id("MORootCertificate")).status ==
            200);
      expected.erase(mo.id("MORootCertificate"));
      CHECK(installed(admin, id) == expected);
      CHECK(installed(admin, id, "MORootCertificate").empty());
    }
  }
}

TEST_CASE("certificate requests the API refuses reach no station",
          "[plug_and_charge][trust_anchors]") {
  ApiFixture f;
  auto admin = f.admin();
  const auto [home, other] = f.make_sites("Home", "Other");
  auto stations = f.registered_station(OcppVersion::v201, "TAB", home);
  const auto id = stations->id();
  TestRoot root;
  const auto before = commands_of(admin, id);

  // A PEM that is not a certificate, text without PEM, two certificates, a leaf.
  const std::string not_a_certificate =
      "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
  for (const auto& pem :
       {not_a_certificate, std::string("hello"), root.pem + root.pem, root.leaf_pem}) {
    auto r =
        admin.post("/stations/" + id + "/certificates", install_body("V2GRootCertificate", pem));
    CHECK(r.status == 422);
    CHECK(r.data["detail"].get<std::string>().rfind("certificate", 0) == 0);
  }
  // An unknown certificate type, and a body with a field too many.
  auto unknown = admin.post("/stations/" + id + "/certificates",
                            install_body("V2GCertificateChain", root.pem));
  CHECK(unknown.status == 422);
  CHECK(unknown.data["detail"].get<std::string>().find("certificate_type") != std::string::npos);
  json extra = install_body("MORootCertificate", root.pem);
  extra["priority"] = 1;
  CHECK(admin.post("/stations/" + id + "/certificates", extra).status == 422);
  CHECK(admin.get("/stations/" + id + "/certificates?certificate_type=Bogus").status == 400);
  // Ids that are not certificate ids.
  for (const std::string bad : {"x", "V2GRootCertificate.SHA256.zz.aa.01", "Bogus.SHA256.aa.bb.01",
                                "V2GRootCertificate.MD5.aa.bb.01"})
    CHECK(admin.del("/stations/" + id + "/certificates/" + bad).status == 400);
  CHECK(commands_of(admin, id) == before);

  // A key of another tenant's site sees no such station, and no such site's rollouts.
  auto stranger = f.client(f.make_key(chargegrid::server::api::Role::FacilityManager, {other}));
  CHECK(stranger
            .post("/stations/" + id + "/certificates", install_body("V2GRootCertificate", root.pem))
            .status == 404);
  CHECK(stranger.get("/stations/" + id + "/certificates").status == 404);
  CHECK(stranger.del("/stations/" + id + "/certificates/" + root.id("V2GRootCertificate")).status ==
        404);
  CHECK(stranger
            .post("/sites/" + std::to_string(home) + "/certificates/rollouts",
                  install_body("V2GRootCertificate", root.pem))
            .status == 404);
  CHECK(commands_of(admin, id) == before);
  // Nor does a bad root start a rollout.
  CHECK(admin
            .post("/sites/" + std::to_string(home) + "/certificates/rollouts",
                  install_body("V2GRootCertificate", root.leaf_pem))
            .status == 422);
  CHECK(
      admin.get("/sites/" + std::to_string(home) + "/certificates/rollouts").data["items"].empty());
  CHECK(
      admin
          .post("/sites/999999/certificates/rollouts", install_body("V2GRootCertificate", root.pem))
          .status == 404);
  // The owner's key works.
  auto owner = f.client(f.make_key(chargegrid::server::api::Role::FacilityManager, {home}));
  CHECK(
      owner.post("/stations/" + id + "/certificates", install_body("V2GRootCertificate", root.pem))
          .status == 200);
}

TEST_CASE("a root rolled out to a site of 100 stations: each station's outcome, offline ones too",
          "[plug_and_charge][trust_anchors][rollout]") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = f.make_site("Fleet depot");
  // 80 stations on 2.0.1 and 10 on 1.6 (the V2G root through DataTransfer) connected, 10
  // registered but never connected.
  for (int i = 1; i <= 80; ++i)
    f.make_station(chargegrid::sim::station_id({.id_prefix = "RA"}, i), site);
  for (int i = 1; i <= 10; ++i) {
    f.make_station(chargegrid::sim::station_id({.id_prefix = "RB"}, i), site);
    f.make_station(chargegrid::sim::station_id({.id_prefix = "RZ"}, i), site);
  }
  SimulatedStations v201(f.server().ocpp_port(), OcppVersion::v201, "RA", 80);
  SimulatedStations v16(f.server().ocpp_port(), OcppVersion::v16, "RB", 10);
  REQUIRE(ServerFixture::eventually(
      [&] {
        for (int i = 1; i <= 80; ++i)
          if (!f.server().station_connected(v201.id(i))) return false;
        for (int i = 1; i <= 10; ++i)
          if (!f.server().station_connected(v16.id(i))) return false;
        return true;
      },
      std::chrono::seconds(30)));

  TestRoot root;
  const auto path = "/sites/" + std::to_string(site) + "/certificates/rollouts";
  auto started = admin.post(path, install_body("V2GRootCertificate", root.pem));
  REQUIRE(started.status == 202);
  CHECK(started.data["station_count"] == 100);
  CHECK(started.data["certificate_id"] == root.id("V2GRootCertificate"));
  const auto rollout = path + "/" + std::to_string(started.data["id"].get<long>());

  json done;
  REQUIRE(ServerFixture::eventually(
      [&] {
        done = admin.get(rollout).data;
        return done["state"] == "completed";
      },
      std::chrono::seconds(30)));
  CHECK(done["accepted"] == 90);
  CHECK(done["offline"] == 10);
  CHECK(done["pending"] == 0);
  CHECK(done["failed"] == 0);
  CHECK_FALSE(done["completed_at"].is_null());
  REQUIRE(done["stations"].size() == 100);
  for (const auto& station : done["stations"]) {
    const auto id = station["station_id"].get<std::string>();
    if (id.rfind("RZ", 0) == 0) {
      CHECK(station["outcome"] == "offline");
      CHECK(station["status"].is_null());
    } else {
      CHECK(station["outcome"] == "answered");
      CHECK(station["status"] == "Accepted");
      CHECK(station["command_id"].is_number());
    }
  }
  // The stations hold it: one of each version asked.
  CHECK(installed(admin, v201.id(42)).count(root.id("V2GRootCertificate")) == 1);
  CHECK(installed(admin, v16.id(7)).count(root.id("V2GRootCertificate")) == 1);
  // The rollout is listed, and stays readable.
  auto list = admin.get(path);
  REQUIRE(list.status == 200);
  REQUIRE(list.data["items"].size() == 1);
  CHECK(list.data["items"][0]["state"] == "completed");
  CHECK(admin.get(path + "/999999").status == 404);
}
