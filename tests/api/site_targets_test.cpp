// A site's demand-response targets (the OpenADR VEN name and the power service location, an
// EAN-18) through the site routes.

#include "api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::server::api::Role;

TEST_CASE("a site's VEN name and power service location are created, patched and cleared") {
  ApiFixture f;
  auto admin = f.admin();
  auto created = admin.post("/sites", {{"name", "Depot"},
                                       {"ven_name", "ven-depot"},
                                       {"power_service_location", "871687120000000011"}});
  REQUIRE(created.status == 201);
  CHECK(created.data["ven_name"] == "ven-depot");
  CHECK(created.data["power_service_location"] == "871687120000000011");
  const auto site = created.data["id"].get<std::int64_t>();
  const auto path = "/sites/" + std::to_string(site);

  auto manager = f.client(f.make_key(Role::FacilityManager, {site}));
  auto patched = manager.patch(path, {{"power_service_location", "541412345678901235"}});
  REQUIRE(patched.status == 200);
  CHECK(patched.data["power_service_location"] == "541412345678901235");
  CHECK(patched.data["ven_name"] == "ven-depot");  // untouched by the patch

  auto cleared = manager.patch(path, {{"ven_name", nullptr}, {"power_service_location", nullptr}});
  REQUIRE(cleared.status == 200);
  CHECK(cleared.data["ven_name"].is_null());
  CHECK(cleared.data["power_service_location"].is_null());

  // A site without them reads null.
  auto plain = admin.post("/sites", {{"name", "Plain"}});
  CHECK(plain.data["ven_name"].is_null());
  CHECK(admin.get("/sites/" + plain.data["id"].dump()).data["power_service_location"].is_null());
}

TEST_CASE("a power service location that is not an EAN-18 is refused naming the field") {
  ApiFixture f;
  auto admin = f.admin();
  for (const char* bad : {"871687120000000012",   // wrong check digit
                          "87168712000000001",    // 17 digits
                          "8716871200000000110",  // 19 digits
                          "87168712000000001X",   // not a digit
                          "EAN871687120000000"}) {
    auto refused = admin.post("/sites", {{"name", "Depot"}, {"power_service_location", bad}});
    CHECK(refused.status == 422);
    CHECK(refused.detail().find("power_service_location") != std::string::npos);
  }
  CHECK(admin.post("/sites", {{"name", "Depot"}, {"power_service_location", 871687120000000011}})
            .status == 422);
  CHECK(admin.post("/sites", {{"name", "Depot"}, {"ven_name", ""}}).status == 422);
  CHECK(admin.get("/sites").data["items"].empty());  // nothing half-stored

  const auto site = std::to_string(f.make_site("Depot"));
  REQUIRE(
      admin.patch("/sites/" + site, {{"power_service_location", "871687120000000011"}}).status ==
      200);
  auto refused = admin.patch(
      "/sites/" + site, {{"name", "Renamed"}, {"power_service_location", "871687120000000019"}});
  CHECK(refused.status == 422);
  CHECK(refused.detail() ==
        "power_service_location: '871687120000000019' is not an EAN-18 (18 digits ending in a "
        "valid GS1 check digit)");
  auto kept = admin.get("/sites/" + site);
  CHECK(kept.data["name"] == "Depot");
  CHECK(kept.data["power_service_location"] == "871687120000000011");
}
