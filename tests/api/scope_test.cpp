// Roles and scopes: a facility manager's key for site A can neither read nor
// command site B; utilities read their sites only; drivers see their own.

#include "api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::server::api::Role;

TEST_CASE("a key for site A cannot read or command site B") {
  ApiFixture f(free_vend_config());
  auto admin = f.admin();
  const auto [a, b] = f.make_sites("A", "B");
  f.make_station("CP-A", a);
  f.make_station("CP-B", b);
  auto driver_b = admin.post("/drivers", {{"name", "Bea"}, {"site_id", b}});
  const auto driver_b_id = std::to_string(driver_b.data["id"].get<long>());
  auto manager = f.client(f.make_key(Role::FacilityManager, {a}));
  const auto sb = std::to_string(b);

  // Reads of B look like B does not exist.
  CHECK(manager.get("/sites/" + sb).status == 404);
  CHECK(manager.get("/stations/CP-B").status == 404);
  CHECK(manager.get("/stations/CP-B/evses").status == 404);
  CHECK(manager.get("/stations/CP-B/status-history").status == 404);
  CHECK(manager.get("/drivers/" + driver_b_id).status == 404);
  CHECK(manager.get("/drivers/" + driver_b_id + "/tokens").status == 404);
  // Lists hold A only.
  auto sites = manager.get("/sites");
  REQUIRE(sites.data["items"].size() == 1);
  CHECK(sites.data["items"][0]["id"] == a);
  auto stations = manager.get("/stations");
  REQUIRE(stations.data["items"].size() == 1);
  CHECK(stations.data["items"][0]["id"] == "CP-A");
  CHECK(manager.get("/stations?site_id=" + sb).data["items"].empty());
  CHECK(manager.get("/drivers").data["items"].empty());

  // Writes and commands on B are refused the same way.
  CHECK(manager.patch("/sites/" + sb, {{"name", "mine now"}}).status == 404);
  CHECK(manager.patch("/stations/CP-B", {{"name", "mine now"}}).status == 404);
  CHECK(manager.patch("/stations/CP-A", {{"site_id", b}}).status == 404);
  CHECK(manager.post("/stations", {{"id", "CP-NEW"}, {"site_id", b}}).status == 404);
  CHECK(manager.post("/stations", {{"id", "CP-NEW"}}).status == 422);
  CHECK(manager.post("/stations/CP-B/commands/reset", {{"type", "Hard"}}).status == 404);
  CHECK(manager.post("/stations/CP-B/password").status == 404);
  CHECK(manager.post("/drivers", {{"name", "x"}, {"site_id", b}}).status == 404);
  CHECK(manager.post("/associations", {{"station_id", "CP-B"}, {"driver_id", driver_b.data["id"]}})
            .status == 404);
  CHECK(manager.del("/stations/CP-B").status == 404);
  CHECK(admin.get("/sites/" + sb).data["name"] == "B");

  // A session at B is invisible to A's manager.
  auto station_b = f.connect("CP-B", "ocpp1.6");
  station_b->call("BootNotification", boot_16());
  auto started = station_b->call("StartTransaction", start_16(1, 0, "2026-11-24T10:00:00Z", "ANY"));
  const auto session_id = std::to_string(started.at(2)["transactionId"].get<long>());
  CHECK(admin.get("/sessions/" + session_id).status == 200);
  CHECK(manager.get("/sessions/" + session_id).status == 404);
  CHECK(manager.get("/sessions").data["items"].empty());
  CHECK(manager.post("/sessions/" + session_id + "/stop").status == 404);
  CHECK(manager.get("/commands").data["items"].empty());

  // What A's manager may do at A.
  CHECK(manager.patch("/sites/" + std::to_string(a), {{"import_limit_w", 50000}}).status == 200);
  CHECK(manager.post("/stations", {{"id", "CP-A2"}, {"site_id", a}}).status == 201);
  // But not make sites or keys.
  CHECK(manager.post("/sites", {{"name", "C"}}).status == 403);
  CHECK(manager.del("/sites/" + std::to_string(a)).status == 403);
}

TEST_CASE("utility keys read their sites and driver keys see their own sessions only") {
  ApiFixture f(free_vend_config());
  auto admin = f.admin();
  const auto [a, b] = f.make_sites("A", "B");
  f.make_station("CP-1", a);

  auto utility = f.client(f.make_key(Role::Utility, {a}));
  CHECK(utility.get("/sites/" + std::to_string(a)).status == 200);
  CHECK(utility.get("/sites/" + std::to_string(b)).status == 404);
  CHECK(utility.get("/stations").status == 403);
  CHECK(utility.get("/sessions").status == 403);
  CHECK(utility.patch("/sites/" + std::to_string(a), {{"name", "x"}}).status == 403);

  auto ada = f.make_driver("Ada", a);
  auto bob = f.make_driver("Bob", a);
  admin.post("/drivers/" + std::to_string(ada) + "/tokens", {{"id_token", "ADA-TAG"}});
  admin.post("/drivers/" + std::to_string(bob) + "/tokens", {{"id_token", "BOB-TAG"}});
  auto station = f.connect("CP-1", "ocpp1.6");
  station->call("BootNotification", boot_16());
  auto start = [&](int connector, const std::string& tag) {
    auto r = station->call("StartTransaction",
                           {{"connectorId", connector},
                            {"idTag", tag},
                            {"meterStart", 0},
                            {"timestamp", "2026-11-24T10:00:0" + std::to_string(connector) + "Z"}});
    return std::to_string(r.at(2)["transactionId"].get<long>());
  };
  const auto ada_session = start(1, "ADA-TAG");
  const auto bob_session = start(2, "BOB-TAG");

  auto driver = f.client(f.make_key(Role::Driver, {}, ada));
  auto mine = driver.get("/sessions");
  REQUIRE(mine.status == 200);
  REQUIRE(mine.data["items"].size() == 1);
  CHECK(mine.data["items"][0]["id"].get<long>() == std::stol(ada_session));
  CHECK(mine.data["items"][0]["driver_id"] == ada);
  CHECK(driver.get("/sessions/" + bob_session).status == 404);
  CHECK(driver.post("/sessions/" + bob_session + "/stop").status == 404);
  CHECK(driver.get("/drivers/" + std::to_string(bob)).status == 404);
  CHECK(driver.get("/drivers/" + std::to_string(ada)).status == 200);
  CHECK(driver.get("/drivers").data["items"].size() == 1);
  CHECK(driver.get("/tokens/BOB-TAG").status == 404);
  CHECK(driver.get("/tokens/ADA-TAG").status == 200);
  CHECK(driver.patch("/tokens/ADA-TAG", {{"blocked", false}}).status == 403);
  CHECK(driver.get("/stations").status == 403);
  CHECK(driver.post("/stations/CP-1/commands/reset", {{"type", "Hard"}}).status == 403);
  CHECK(driver.get("/commands").status == 403);
  // A driver may stop their own session (the station here is a test client
  // that does not answer, so the command times out or fails, never 403/404).
  CHECK(driver.post("/associations", {{"station_id", "CP-1"}, {"driver_id", bob}}).status == 403);
}
