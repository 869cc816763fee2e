// A site's tariff over the REST API: stored whole after every check, refused with the member's
// JSON pointer, scoped like the site itself.

#include "api_fixture.hpp"
#include "store/tariffs.hpp"

using namespace chargegrid::testing;
using boost::beast::http::verb;
using chargegrid::server::api::Role;

namespace {

json tariff() {
  return json::parse(R"({
    "currency": "EUR",
    "import": [
      {"days": ["mon","tue","wed","thu","fri"], "from": "07:00", "to": "22:00", "price_minor_per_kwh": 31},
      {"days": ["mon","tue","wed","thu","fri"], "from": "00:00", "to": "07:00", "price_minor_per_kwh": 18},
      {"days": ["mon","tue","wed","thu","fri"], "from": "22:00", "to": "24:00", "price_minor_per_kwh": 18},
      {"days": ["sat","sun"], "from": "00:00", "to": "24:00", "price_minor_per_kwh": 20}
    ],
    "discharge_price_by_soc": [{"soc_from": 20, "soc_to": 60, "price_minor_per_kwh": 45}]
  })");
}

HttpResult put(const ApiClient& client, const std::string& target, const json& body) {
  return client.send(verb::put, target, body.dump());
}

}  // namespace

TEST_CASE("a site's tariff is stored whole and read back") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = std::to_string(f.make_site("Depot"));
  auto manager = f.client(f.make_key(Role::FacilityManager, {std::stoll(site)}));

  auto none = manager.get("/sites/" + site + "/tariff");
  CHECK(none.status == 404);
  CHECK(none.detail() == "site " + site + " has no tariff");

  auto stored = put(manager, "/sites/" + site + "/tariff", tariff());
  REQUIRE(stored.status == 200);
  json expected = tariff();
  expected["export_credit_minor_per_kwh"] = 0;  // the defaults, written out
  expected["demand_response_credit_minor_per_kwh"] = 0;
  CHECK(stored.data == expected);
  CHECK(manager.get("/sites/" + site + "/tariff").data == expected);
  CHECK(f.client(f.make_key(Role::Utility, {std::stoll(site)}))
            .get("/sites/" + site + "/tariff")
            .data == expected);

  // A second PUT replaces it.
  json cheaper = tariff();
  cheaper["import"][0]["price_minor_per_kwh"] = 25;
  cheaper["export_credit_minor_per_kwh"] = 7;
  REQUIRE(put(admin, "/sites/" + site + "/tariff", cheaper).status == 200);
  auto read = admin.get("/sites/" + site + "/tariff");
  CHECK(read.data["import"][0]["price_minor_per_kwh"] == 25);
  CHECK(read.data["export_credit_minor_per_kwh"] == 7);

  // Settlement's and smart charging's view: the tariff with the site's time zone.
  REQUIRE(admin.patch("/sites/" + site, {{"time_zone", "Europe/Oslo"}}).status == 200);
  {
    auto c = f.sql();
    pqxx::work tx(c);
    auto found = chargegrid::server::store::tariffs::find(tx, std::stoll(site));
    REQUIRE(found);
    CHECK(found->time_zone == "Europe/Oslo");
    CHECK(found->tariff.export_credit_minor_per_kwh == 7);
    CHECK_FALSE(found->updated_at.empty());
    // Monday 2026-01-12 06:30 UTC is 07:30 in Oslo: the day price.
    const auto at = *chargegrid::base::parse_rfc3339("2026-01-12T06:30:00Z");
    CHECK(chargegrid::server::tariff::import_price_at(found->tariff, at, found->time_zone) == 25);
    CHECK_FALSE(chargegrid::server::store::tariffs::find(tx, std::stoll(site) + 1000));
  }

  // The tariff goes with its site.
  REQUIRE(admin.del("/sites/" + site).status == 204);
  CHECK(admin.get("/sites/" + site + "/tariff").status == 404);
  CHECK(put(admin, "/sites/" + site + "/tariff", tariff()).status == 404);
}

TEST_CASE("a tariff that does not add up is refused and the stored one stays") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = std::to_string(f.make_site("Depot"));
  const auto path = "/sites/" + site + "/tariff";
  REQUIRE(put(admin, path, tariff()).status == 200);

  json gap = tariff();
  gap["import"][2]["days"] = {"mon", "wed", "thu", "fri"};
  auto refused = put(admin, path, gap);
  CHECK(refused.status == 422);
  CHECK(refused.data["pointer"] == "/import");
  CHECK(refused.detail() == "/import: tue 22:00-24:00 is not covered");

  json overlap = tariff();
  overlap["import"][1]["to"] = "08:00";
  refused = put(admin, path, overlap);
  CHECK(refused.status == 422);
  CHECK(refused.data["pointer"] == "/import/1");
  CHECK(refused.detail() == "/import/1: mon 07:00-08:00 is covered by import/0 and import/1");

  json bad_currency = tariff();
  bad_currency["currency"] = "EUX";
  refused = put(admin, path, bad_currency);
  CHECK(refused.status == 422);
  CHECK(refused.data["pointer"] == "/currency");

  json late = tariff();
  late["import"][0]["to"] = "24:30";
  CHECK(put(admin, path, late).data["pointer"] == "/import/0/to");

  json missing = tariff();
  missing.erase("import");
  CHECK(put(admin, path, missing).data["pointer"] == "/import");

  json overlapping_discharge = tariff();
  overlapping_discharge["discharge_price_by_soc"].push_back(
      {{"soc_from", 50}, {"soc_to", 80}, {"price_minor_per_kwh", 40}});
  CHECK(put(admin, path, overlapping_discharge).data["pointer"] == "/discharge_price_by_soc/1");

  // Wrong types and unknown members are refused by the request schema, naming the member.
  json typed = tariff();
  typed["import"][0]["price_minor_per_kwh"] = "31";
  refused = put(admin, path, typed);
  CHECK(refused.status == 422);
  CHECK(refused.detail().find("price_minor_per_kwh") != std::string::npos);
  json extra = tariff();
  extra["vat_percent"] = 25;
  CHECK(put(admin, path, extra).status == 422);
  CHECK(put(admin, path, json::array()).status == 422);
  CHECK(admin.send(verb::put, path, "{\"currency\":").status == 400);

  // Nothing of the refused tariffs was stored.
  CHECK(admin.get(path).data["import"] == tariff()["import"]);
}

TEST_CASE("a site's tariff is scoped like the site") {
  ApiFixture f;
  const auto [a, b] = f.make_sites("A", "B");
  const auto path_b = "/sites/" + std::to_string(b) + "/tariff";
  REQUIRE(put(f.admin(), path_b, tariff()).status == 200);
  auto manager_a = f.client(f.make_key(Role::FacilityManager, {a}));
  CHECK(manager_a.get(path_b).status == 404);
  CHECK(put(manager_a, path_b, tariff()).status == 404);
  CHECK(put(manager_a, "/sites/999999/tariff", tariff()).status == 404);
  // Utilities read but do not set.
  auto utility_b = f.client(f.make_key(Role::Utility, {b}));
  CHECK(utility_b.get(path_b).status == 200);
  CHECK(put(utility_b, path_b, tariff()).status == 403);
  CHECK(f.admin().get(path_b).data["currency"] == "EUR");
}
