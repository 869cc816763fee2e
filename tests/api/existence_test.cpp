// What a create reveals about ids held elsewhere: station ids and tokens are
// global, so creating one that exists fails, but the answer for an id held by
// another site is the same whichever site holds it, and says nothing about it.
// A station that connected before anyone registered it is adopted instead.

#include "api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::server::api::Role;

namespace {

// The problem document with `id` written as ID, to compare answers for different ids.
nlohmann::json shape(const HttpResult& result, const std::string& id) {
  auto body = result.data;
  for (auto& [key, value] : body.items()) {
    if (!value.is_string()) continue;
    auto text = value.get<std::string>();
    for (auto at = text.find(id); at != std::string::npos; at = text.find(id, at + 2))
      text.replace(at, id.size(), "ID");
    value = text;
  }
  return body;
}

}  // namespace

TEST_CASE("stations: POST adopts a station without a site, and another site's id answers alike") {
  ApiFixture f;
  auto admin = f.admin();
  const auto [a, b, c] = f.make_sites("A", "B", "C");
  f.make_station("CP-A", a);
  f.make_station("CP-B", b);
  f.make_station("CP-C", c);
  auto manager_a = f.client(f.make_key(Role::FacilityManager, {a}));
  auto manager_b = f.client(f.make_key(Role::FacilityManager, {b}));

  // A station that booted before anyone registered it has no site.
  auto loose = f.connect("LOOSE-1", "ocpp1.6");
  loose->call("BootNotification", boot_16({.vendor = "V"}));
  REQUIRE(admin.get("/stations/LOOSE-1").data["site_id"].is_null());
  CHECK(manager_a.get("/stations/LOOSE-1").status == 404);

  auto adopted =
      manager_a.post("/stations", {{"id", "LOOSE-1"}, {"site_id", a}, {"name", "Bay 1"}});
  REQUIRE(adopted.status == 200);
  CHECK(adopted.data["site_id"] == a);
  CHECK(adopted.data["name"] == "Bay 1");
  CHECK(adopted.data["registration"] == "accepted");
  CHECK(adopted.data["online"] == true);
  CHECK(adopted.data["boot_info"]["vendor"] == "V");
  CHECK(manager_a.get("/stations/LOOSE-1").status == 200);
  CHECK(manager_a.get("/stations/LOOSE-1/evses").status == 200);

  // Ids other sites hold: one answer whichever site it is, naming none.
  auto held_b = manager_a.post("/stations", {{"id", "CP-B"}, {"site_id", a}});
  auto held_c = manager_a.post("/stations", {{"id", "CP-C"}, {"site_id", a}, {"name", "x"}});
  auto adopted_by_a = manager_b.post("/stations", {{"id", "LOOSE-1"}, {"site_id", b}});
  CHECK(held_b.status == 409);
  CHECK(held_c.status == 409);
  CHECK(adopted_by_a.status == 409);
  CHECK(shape(held_b, "CP-B") == shape(held_c, "CP-C"));
  CHECK(shape(adopted_by_a, "LOOSE-1") == shape(held_b, "CP-B"));
  const auto detail = held_b.detail();
  CHECK(detail.find("not available") != std::string::npos);
  for (const char* revealing : {"exists", "site", "PATCH"})
    CHECK(detail.find(revealing) == std::string::npos);
  CHECK(admin.get("/stations/CP-B").data["site_id"] == b);
  CHECK(admin.get("/stations/CP-C").data["name"].is_null());
  CHECK(admin.get("/stations/LOOSE-1").data["site_id"] == a);

  // An id in the caller's own sites may say that it exists.
  auto own = manager_a.post("/stations", {{"id", "CP-A"}, {"site_id", a}});
  CHECK(own.status == 409);
  CHECK(own.detail().find("already exists") != std::string::npos);

  // Admins adopt too.
  auto loose2 = f.connect("LOOSE-2", "ocpp2.0.1");
  loose2->call("BootNotification",
               {{"reason", "PowerUp"}, {"chargingStation", {{"model", "M"}, {"vendorName", "V"}}}});
  auto by_admin = admin.post("/stations", {{"id", "LOOSE-2"}, {"site_id", c}});
  CHECK(by_admin.status == 200);
  CHECK(by_admin.data["site_id"] == c);
  CHECK(admin.post("/stations", {{"id", "LOOSE-2"}, {"site_id", c}}).status == 409);
}

TEST_CASE("stations: adopting a station that waits in Pending approves it") {
  ApiFixture f(pending_stations_config());
  auto admin = f.admin();
  const auto site = f.make_site("Depot");
  auto manager = f.client(f.make_key(Role::FacilityManager, {site}));
  SimulatedStations stations(f.server().ocpp_port(), chargegrid::sim::OcppVersion::v201, "PEND-");
  const auto id = stations.id();
  REQUIRE(ServerFixture::eventually(
      [&] { return admin.get("/stations?registration=pending").data["items"].size() == 1; }));

  auto adopted = manager.post("/stations", {{"id", id}, {"site_id", site}});
  REQUIRE(adopted.status == 200);
  CHECK(adopted.data["registration"] == "accepted");
  // Asked to boot again, the station is accepted and reports its connectors.
  CHECK(ServerFixture::eventually(
      [&] { return !manager.get("/stations/" + id).data["connectors"].empty(); }));
}

TEST_CASE("tokens: enrolling a token held elsewhere answers alike whoever holds it") {
  ApiFixture f;
  auto admin = f.admin();
  const auto [a, b, c] = f.make_sites("A", "B", "C");
  auto driver = [&](const std::string& name, std::int64_t site, const std::string& token) {
    const auto id = f.make_driver(name, site);
    REQUIRE(
        admin.post("/drivers/" + std::to_string(id) + "/tokens", {{"id_token", token}}).status ==
        201);
    return std::to_string(id);
  };
  const auto ada = driver("Ada", a, "ADA-TAG");
  driver("Bea", b, "BEA-TAG");
  driver("Cy", c, "CY-TAG");
  {
    // A token kept without a driver (admins only see it).
    auto connection = f.sql();
    pqxx::work tx(connection);
    tx.exec("INSERT INTO id_tokens (id_token) VALUES ('LOST-TAG')");
    tx.commit();
  }
  auto manager = f.client(f.make_key(Role::FacilityManager, {a}));
  const auto tokens = "/drivers/" + ada + "/tokens";

  auto held_b = manager.post(tokens, {{"id_token", "BEA-TAG"}});
  auto held_c = manager.post(tokens, {{"id_token", "CY-TAG"}, {"type", "ISO15693"}});
  auto held_lost = manager.post(tokens, {{"id_token", "LOST-TAG"}});
  CHECK(held_b.status == 409);
  CHECK(held_c.status == 409);
  CHECK(held_lost.status == 409);
  CHECK(shape(held_b, "BEA-TAG") == shape(held_c, "CY-TAG"));
  CHECK(shape(held_lost, "LOST-TAG") == shape(held_b, "BEA-TAG"));
  CHECK(held_b.detail().find("not available") != std::string::npos);
  CHECK(held_b.detail().find("enrolled") == std::string::npos);
  CHECK(admin.get("/tokens/BEA-TAG").data["driver_id"] != std::stol(ada));

  // A token of the caller's own drivers may say that it is enrolled.
  auto own = manager.post(tokens, {{"id_token", "ADA-TAG"}});
  CHECK(own.status == 409);
  CHECK(own.detail().find("already enrolled") != std::string::npos);

  // An admin enrols a token that has no driver for one (200: it existed).
  auto adopted = admin.post(tokens, {{"id_token", "LOST-TAG"}, {"type", "ISO15693"}});
  REQUIRE(adopted.status == 200);
  CHECK(adopted.data["driver_id"] == std::stol(ada));
  CHECK(adopted.data["type"] == "ISO15693");
  CHECK(manager.get("/tokens/LOST-TAG").status == 200);
  CHECK(admin.post(tokens, {{"id_token", "BEA-TAG"}}).status == 409);
}
