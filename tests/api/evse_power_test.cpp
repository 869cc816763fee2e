// An EVSE's power model over the REST API: described by operators, read next to what the
// station reports, read by smart charging through store::evses, scoped by the station's site.

#include "api_fixture.hpp"
#include "store/evses.hpp"

using namespace chargegrid::testing;
using chargegrid::server::api::Role;

TEST_CASE("an EVSE's power is described, patched, cleared and read with its connectors") {
  ApiFixture f;
  const auto site = f.make_depot("CP-1");
  auto manager = f.client(f.make_key(Role::FacilityManager, {site}));

  // Neither described nor reported yet.
  CHECK(manager.get("/stations/CP-1/evses/1").status == 404);

  auto described = manager.patch("/stations/CP-1/evses/1", {{"max_power_w", 11000}, {"phases", 3}});
  REQUIRE(described.status == 200);
  CHECK(described.data["station_id"] == "CP-1");
  CHECK(described.data["evse_id"] == 1);
  CHECK(described.data["max_power_w"] == 11000.0);
  CHECK(described.data["phases"] == 3);
  CHECK(described.data["bidirectional"] == false);
  CHECK(described.data["connectors"] == json::array());
  CHECK_FALSE(described.data["updated_at"].is_null());

  // A patch changes what it names only.
  auto bidirectional = manager.patch("/stations/CP-1/evses/1", {{"bidirectional", true}});
  REQUIRE(bidirectional.status == 200);
  CHECK(bidirectional.data["max_power_w"] == 11000.0);
  CHECK(bidirectional.data["phases"] == 3);
  CHECK(bidirectional.data["bidirectional"] == true);
  auto cleared = manager.patch("/stations/CP-1/evses/1", {{"phases", nullptr}});
  CHECK(cleared.data["phases"].is_null());
  CHECK(cleared.data["max_power_w"] == 11000.0);

  // What the station reports shows next to it.
  auto station = booted_16(f, "CP-1");
  REQUIRE(is_result(station->call("StatusNotification", {{"connectorId", 2},
                                                         {"errorCode", "NoError"},
                                                         {"status", "Available"},
                                                         {"timestamp", "2026-11-24T10:00:00Z"}})));
  auto reported = manager.get("/stations/CP-1/evses/2");
  REQUIRE(reported.status == 200);
  CHECK(reported.data["max_power_w"].is_null());
  CHECK(reported.data["bidirectional"] == false);
  REQUIRE(reported.data["connectors"].size() == 1);
  CHECK(reported.data["connectors"][0]["status"] == "Available");

  // Smart charging's view through the repository.
  auto c = f.sql();
  pqxx::work tx(c);
  namespace evses = chargegrid::server::store::evses;
  auto power = evses::find(tx, "CP-1", 1);
  REQUIRE(power);
  CHECK(power->max_power_w == 11000.0);
  CHECK_FALSE(power->phases);
  CHECK(power->bidirectional);
  CHECK_FALSE(evses::find(tx, "CP-1", 2));
  auto at_site = evses::for_site(tx, site);
  REQUIRE(at_site.size() == 1);
  CHECK(at_site[0].evse_id == 1);
  CHECK(evses::for_site(tx, site + 1000).empty());
}

TEST_CASE("bad EVSE power values are refused naming the field and store nothing") {
  ApiFixture f;
  f.make_depot("CP-1");
  auto admin = f.admin();
  const auto path = "/stations/CP-1/evses/1";
  for (const json& bad : {json{{"max_power_w", 0}}, json{{"max_power_w", -7400}},
                          json{{"max_power_w", "11kW"}}, json{{"phases", 2}}, json{{"phases", 1.5}},
                          json{{"bidirectional", "yes"}}, json{{"max_amps", 16}}, json::array()}) {
    auto refused = admin.patch(path, bad);
    CHECK(refused.status == 422);
    if (bad.is_object()) CHECK(refused.detail().find(bad.begin().key()) != std::string::npos);
  }
  CHECK(admin.get(path).status == 404);  // nothing half-stored
  CHECK(admin.patch("/stations/CP-1/evses/0", {{"phases", 1}}).status == 404);
  CHECK(admin.patch("/stations/CP-1/evses/x", {{"phases", 1}}).status == 404);
  CHECK(admin.patch("/stations/CP-NONE/evses/1", {{"phases", 1}}).status == 404);
}

TEST_CASE("a facility manager of another site gets 404 for an EVSE") {
  ApiFixture f;
  const auto [a, b] = f.make_sites("A", "B");
  f.make_station("CP-B", b);
  REQUIRE(f.admin().patch("/stations/CP-B/evses/1", {{"max_power_w", 7400}}).status == 200);
  auto manager_a = f.client(f.make_key(Role::FacilityManager, {a}));
  CHECK(manager_a.get("/stations/CP-B/evses/1").status == 404);
  CHECK(manager_a.patch("/stations/CP-B/evses/1", {{"max_power_w", 22000}}).status == 404);
  CHECK(manager_a.patch("/stations/CP-B/evses/1", {{"max_power_w", -1}}).status == 404);
  CHECK(f.client(f.make_key(Role::Utility, {b})).get("/stations/CP-B/evses/1").status == 403);
  CHECK(f.admin().get("/stations/CP-B/evses/1").data["max_power_w"] == 7400.0);
}
